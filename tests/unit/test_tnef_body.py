"""Outlook messages whose only body is in their winmail.dat: the agent reads what Outlook shows."""

from __future__ import annotations

import struct
import sys
import time

import compressed_rtf
import pytest

from ses_to_connect.budget import MAX_COMPRESSED_RTF_BYTES, MAX_RTF_BYTES
from ses_to_connect.settings import BodyPreference
from tests.tnef_writer import (
    encapsulated_html,
    encapsulated_text,
    lzfu_repeating,
    plain_rtf,
    winmail,
    winmail_message,
)
from tests.unit.builders import fresh_interpreter, only_request, raw_message, run, settings

HTML = (
    "<html><head><style>p {margin:0}</style></head><body>"
    "<p>Hello, my order 5521 never came.</p>\n<p>Caf\u00e9 \u20ac 12 {paid} \\ twice</p></body></html>"
)
NO_BODY = "[This email has no readable text body."


def shown(tnef: bytes, **overrides: object) -> tuple[str, str, list[str], dict[str, str]]:
    """The body and its type, the defects and the attributes of a message whose only part is ``tnef``."""
    conversion = run(winmail_message(tnef), config=settings(**overrides) if overrides else None)
    request = only_request(conversion)
    message = raw_message(request)
    return message["Body"], message["ContentType"], conversion.defects, dict(request["Attributes"])


def test_the_html_body_outlook_stored_is_shown() -> None:
    body, content_type, defects, attributes = shown(winmail(html=HTML.encode("cp1252"), codepage=1252))
    assert content_type == "text/html"
    assert "<p>Hello, my order 5521 never came.</p>" in body
    assert "Caf\u00e9 \u20ac 12 {paid} \\ twice" in body  # windows-1252 bytes, read in the stream's code page
    assert defects == []
    assert "sesAttachmentsSkipped" not in attributes  # the winmail.dat is shown, not a skipped file


def test_html_encapsulated_in_compressed_rtf_is_shown_as_html() -> None:
    body, content_type, defects, _ = shown(winmail(rtf=encapsulated_html(HTML), text="plain version"))
    assert content_type == "text/html"
    assert "<p>Hello, my order 5521 never came.</p>" in body
    assert "Caf\u00e9 \u20ac 12 {paid} \\ twice" in body
    assert "plain version" not in body and defects == []


def test_text_encapsulated_in_compressed_rtf_is_shown_as_text() -> None:
    body, content_type, defects, _ = shown(
        winmail(rtf=encapsulated_text("Hello caf\u00e9,\nthe parcel is late."))
    )
    assert (body, content_type, defects) == ("Hello caf\u00e9,\nthe parcel is late.", "text/plain", [])


def test_the_stored_html_comes_before_the_rtf() -> None:
    body, _, _, _ = shown(winmail(html=b"<p>from PR_BODY_HTML</p>", rtf=encapsulated_html("<p>from RTF</p>")))
    assert "from PR_BODY_HTML" in body and "from RTF" not in body


def test_a_text_preference_takes_outlooks_plain_text_first() -> None:
    tnef = winmail(html=b"<p>the HTML</p>", rtf=encapsulated_html("<p>the RTF</p>"), text="the text")
    body, content_type, _, _ = shown(tnef, body_preference=BodyPreference.TEXT)
    assert (body, content_type) == ("the text", "text/plain")


def test_rich_text_that_encapsulates_nothing_gives_way_to_the_plain_text() -> None:
    body, content_type, defects, _ = shown(winmail(rtf=plain_rtf("Rich text"), text="Caf\u00e9 plain text"))
    assert (body, content_type) == ("Caf\u00e9 plain text", "text/plain")
    assert defects == ["tnef_body_unreadable:rtf_not_encapsulated"]


def test_rich_text_alone_leaves_the_winmail_dat_listed_with_its_reason() -> None:
    body, _, defects, attributes = shown(winmail(rtf=plain_rtf("Rich text")))
    assert body.startswith(NO_BODY)
    assert body.endswith("- winmail.dat: Outlook winmail.dat with no files in it")
    assert defects == ["tnef_body_unreadable:rtf_not_encapsulated", "no_text_body"]
    assert attributes["sesAttachmentsSkipped"] == "winmail.dat (tnef_empty)"


def test_the_old_attbody_is_read_in_the_streams_code_page() -> None:
    body, content_type, _, _ = shown(
        winmail(att_body="\u0428\u043e\u0441\u0442\u0438\u0439\x00".encode("cp1251"), codepage=1251)
    )
    assert (body, content_type) == ("\u0428\u043e\u0441\u0442\u0438\u0439", "text/plain")


def test_the_files_beside_the_body_are_still_sent() -> None:
    conversion = run(
        winmail_message(winmail(html=b"<p>See the invoice.</p>", files=[("invoice.pdf", b"%PDF-1.4")]))
    )
    request = only_request(conversion)
    assert "See the invoice." in raw_message(request)["Body"]
    assert [item["FileName"] for item in request["Attachments"]] == ["invoice.pdf"]
    assert "sesAttachmentsSkipped" not in request["Attributes"]


def test_a_message_with_a_text_part_of_its_own_keeps_it() -> None:
    """Exchange's text/plain part is what the message shows; the winmail.dat's body is not read."""
    conversion = run(winmail_message(winmail(html=b"<p>the TNEF body</p>"), text="the MIME text"))
    request = only_request(conversion)
    assert raw_message(request)["Body"].startswith("the MIME text")
    assert request["Attributes"]["sesAttachmentsSkipped"] == "winmail.dat (tnef_empty)"


# --- what cannot be read, and RTF built to hurt --------------------------------------------------


@pytest.mark.parametrize(
    ("compressed", "reason"),
    [
        (lzfu_repeating(b"{}", MAX_RTF_BYTES + 2), "rtf_too_large"),  # declared larger than the bound
        (b"\x00" * (MAX_COMPRESSED_RTF_BYTES + 1), "rtf_too_large"),  # compressed larger than any it allows
        (lzfu_repeating(b"{}", 1000)[:-3] + b"xyz", "rtf_damaged"),  # the CRC does not match
        (b"LZFu", "rtf_damaged"),
        (lzfu_repeating(b"{\\rtf1\\ansi\\fromhtml1 {{{", 4000), "rtf_unreadable"),  # unbalanced groups
    ],
)
def test_rtf_that_cannot_be_read_gives_way_to_the_plain_text(compressed: bytes, reason: str) -> None:
    started = time.process_time()
    body, _, defects, _ = shown(winmail(compressed=compressed, text="the plain text"))
    assert time.process_time() - started < 2
    assert body == "the plain text"
    assert defects == [f"tnef_body_unreadable:{reason}"]


def test_rtf_larger_than_it_declares_is_refused_once_decompressed() -> None:
    compressed = lzfu_repeating(b"{}", MAX_RTF_BYTES + 2)
    declared_small = compressed[:4] + struct.pack("<I", 100) + compressed[8:]
    body, _, defects, _ = shown(winmail(compressed=declared_small, text="the plain text"))
    assert body == "the plain text" and defects == ["tnef_body_unreadable:rtf_too_large"]


def test_deeply_nested_rtf_is_refused_within_the_budget() -> None:
    depth = MAX_RTF_BYTES // 2 - 100
    rtf = b"{\\rtf1\\ansi\\fromhtml1 \\deff0{\\fonttbl}" + b"{" * depth + b"}" * depth + b"}"
    tnef = winmail(compressed=compressed_rtf.compress(rtf, compressed=False), text="the plain text")  # MELA
    started = time.process_time()
    body, _, defects, _ = shown(tnef)
    assert time.process_time() - started < 5
    assert body == "the plain text" and defects == ["tnef_body_unreadable:rtf_unreadable"]


def test_the_rtf_libraries_are_imported_only_for_an_rtf_body() -> None:
    messages = [
        winmail_message(winmail(html=b"<p>x</p>")),
        winmail_message(winmail(rtf=encapsulated_text("x"))),
    ]
    script = (
        "import sys; import ses_to_connect.handler; from tests.unit.builders import run; "
        "names = ('RTFDE', 'lark', 'compressed_rtf', 'oletools'); "
        "html, rtf = sys.stdin.buffer.read().split(b'--next--'); "
        "print(any(name in sys.modules for name in names)); "
        "run(html); print(any(name in sys.modules for name in names)); "
        "run(rtf); print(all(name in sys.modules for name in names))"
    )
    assert fresh_interpreter(script, stdin=b"--next--".join(messages)) == ["False", "False", "True"]


def test_rtf_that_encapsulates_no_text_gives_way_to_the_plain_text() -> None:
    body, _, defects, _ = shown(winmail(rtf=encapsulated_text(" \n "), text="plain"))
    assert (body, defects) == ("plain", [])


def test_without_the_rtf_libraries_the_plain_text_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "RTFDE", None)  # as where lambda-no-deps.txt was not installed
    body, _, defects, _ = shown(winmail(rtf=encapsulated_html(HTML), text="plain"))
    assert (body, defects) == ("plain", ["tnef_unsupported:rtf"])
