"""Every regular expression and text pass on sender-controlled text runs in linear time.

Each case feeds one function (or one pattern, where it is private to a module) the worst input
we could build for it at 1 MB: runs of the characters that start a match which never ends,
unclosed quotes and comments, nested starts. A quadratic pass takes minutes on 1 MB (the
RFC 2047 pattern this replaced took 70 s on 300 kB), a linear one milliseconds; the bound of
2 s of CPU leaves room for a loaded machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.message import Message

import pytest

from ses_to_connect import attachments, charsets, guards, headers, html_text, limits
from ses_to_connect.addresses import parse_addresses, split_addresses
from ses_to_connect.budget import MAX_PARAMETER_HEADER
from ses_to_connect.limits import ALLOWED_ATTACHMENT_EXTENSIONS, check_request
from ses_to_connect.mime import parse_message
from ses_to_connect.model import Defects

MB = 1_000_000
CPU_SECONDS = 2.0


def repeat(unit: str, size: int = MB) -> str:
    return unit * (size // len(unit))


def _decode(value: str) -> object:
    return headers.decode_words(value, Defects(), "subject")


def _file_name(value: str) -> object:
    part = Message()
    part["Content-Disposition"] = f'attachment; filename="{value}"'
    return attachments._file_name(part, "application/pdf", Defects(), ALLOWED_ATTACHMENT_EXTENSIONS)


def _iso_2022_jp(data: bytes) -> object:
    return charsets.decode(data, "iso-2022-jp")


def _addresses(value: str) -> object:
    return parse_addresses([value], Defects(), "to")


CASES: dict[str, tuple[Callable[[str], object], str]] = {
    # RFC 2047: starts without an end; an end only past a line break; nested starts.
    "encoded words, no end": (_decode, repeat("=?a?q?x")),
    "encoded words, end after a line break": (_decode, repeat("=?a?q?x\n") + "?="),
    "encoded words, starts only": (_decode, repeat("=?")),
    "encoded words, charset never closed": (_decode, "=?" + repeat("a")),
    "encoded words, all valid": (_decode, repeat("=?utf-8?q?=C3=A9?= ")),
    "header text": (lambda v: headers.header_text(v, Defects(), "subject"), repeat("=?a?b?" + "\x00 \t")),
    "message ids, unclosed": (headers.message_ids, repeat("<a")),
    "message ids, brackets": (headers.message_ids, repeat("<")),
    "clean text": (headers.clean_text, repeat("\x01 \u2028")),
    "8-bit header": (lambda v: headers.decode_8bit(v, Defects(), "subject"), repeat("\udcc3\udca9 ")),
    # Address headers: unclosed quotes, comments, angles; escapes; many separators.
    "addresses, quotes": (_addresses, repeat('"')),
    "addresses, comments": (_addresses, repeat("(")),
    "addresses, nested comments": (_addresses, repeat("(a") + repeat(")", 1000)),
    "addresses, angles": (_addresses, repeat("<")),
    "addresses, escapes": (_addresses, '"' + repeat("\\")),
    "addresses, separators": (split_addresses, repeat("a@b.example,")),
    "addresses, encoded names": (_addresses, repeat('"=?a?q?x" <a@b.example>, ')),
    # HTML to text: every construct left unclosed, or opened over and over.
    "html, comments": (html_text.html_to_text, repeat("<!--")),
    "html, hidden elements": (html_text.html_to_text, repeat("<script")),
    "html, hidden end tags": (html_text.html_to_text, "<style>" + repeat("</style ")),
    "html, pre": (html_text.html_to_text, repeat("<pre")),
    "html, pre unclosed": (html_text.html_to_text, repeat("<pre>a")),
    "html, blocks": (html_text.html_to_text, repeat("<p")),
    "html, tags": (html_text.html_to_text, repeat("<a ")),
    "html, declarations": (html_text.html_to_text, repeat("<!")),
    "html, entities": (html_text.html_to_text, repeat("&#")),
    "html, blank lines": (html_text.html_to_text, repeat("<br>\n \n")),
    # Attachments: content ids in the body, file names.
    "cid references": (attachments._CID_REFERENCE.findall, repeat("cid:")),
    "file names": (_file_name, repeat("=?a?q?/\\")),
    # Loop guards: the Subject patterns (a Subject is cut to 11,976 characters first; 1 MB anyway).
    "auto-reply subject": (guards._AUTO_REPLY_SUBJECT.match, "auto:" + repeat(" out of")),
    "bounce subject": (guards._BOUNCE_SUBJECT.match, repeat("delivery ")),
    "failure wording": (guards._FAILURE_WORDING.search, repeat("mail delivery ")),
    "reply prefix": (guards._REPLY_OR_FORWARD.match, repeat(" ") + "re"),
    # Loop guards: the structural signals in the start of a body, and sender local parts.
    "smtp status": (guards._SMTP_STATUS.search, repeat("550 5.1.")),
    "failed-recipient line": (guards._FAILED_RECIPIENT_LINE.search, repeat("following address(es)")),
    "failed-recipient heading": (
        guards._FAILED_RECIPIENT_LINE.search,
        "these recipients or groups:" + repeat(" "),
    ),
    "daemon-like sender": (guards._DAEMON_LIKE.search, repeat("postmaster-x")),
    # The request's limits: an address over the length is not matched against the pattern.
    "limits, address": (
        lambda v: check_request({"FromEmailAddress": {"EmailAddress": v}}),  # type: ignore[typeddict-item]
        "a@" + repeat(".") + " ",
    ),
    "limits, controls": (limits.CONTROL_CHARACTERS.search, repeat("a")),
}

BYTE_CASES: dict[str, tuple[Callable[[bytes], object], bytes]] = {
    "charsets, damaged UTF-8": (lambda v: charsets.decode(v, None), b"\xe0\x80" * (MB // 2)),
    "charsets, ISO-2022-JP escapes": (_iso_2022_jp, b"\x1b$B!" * (MB // 4)),
    "charsets, ISO-2022-JP odd run": (_iso_2022_jp, b"\x1b$B" + b"!" * MB + b"\xff"),
    "parameters, unbalanced quote": (
        parse_message,
        b'Content-Type: application/pdf; name="' + b";" * MB + b"\r\n\r\nx\r\n",
    ),
    "parameters, many": (parse_message, b"Content-Type: text/plain" + b";a=b" * (MB // 4) + b"\r\n\r\nx\r\n"),
}


def cpu_seconds(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


@pytest.mark.parametrize("name", CASES)
def test_text_pass_is_linear_on_its_worst_megabyte(name: str) -> None:
    function, value = CASES[name]
    assert len(value) >= MB - 16
    assert cpu_seconds(lambda: function(value)) < CPU_SECONDS, name


@pytest.mark.parametrize("name", BYTE_CASES)
def test_byte_pass_is_linear_on_its_worst_megabyte(name: str) -> None:
    function, value = BYTE_CASES[name]
    assert cpu_seconds(lambda: function(value)) < CPU_SECONDS, name


def test_a_parameter_header_is_read_within_the_budget() -> None:
    """The stdlib reads parameters quadratically: a long Content-Type is cut before it does."""
    message = parse_message(b'Content-Type: application/pdf; name="' + b";" * MB + b"\r\n\r\nx\r\n")
    assert "header_truncated:content-type" in message.defects
    assert len(str(message.root.get("Content-Type"))) <= MAX_PARAMETER_HEADER
