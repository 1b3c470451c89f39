"""Hostile mail, built in memory at any size: one builder per class of hostile mail.

Each builder takes a scale (bytes of the hostile content, or a count) and returns the raw
message as SES would store it. Nothing here is written to disk: the 40 MB messages exist only
for the test that runs them. The bytes are plain string work, not ``email.message``, so that a
38 MB message takes well under a second to build.
"""

from __future__ import annotations

import base64
import struct
import uuid
from collections.abc import Callable
from typing import NamedTuple

import compressed_rtf

from ses_to_connect.budget import MAX_COMPRESSED_RTF_BYTES, MAX_RTF_BYTES
from tests.tnef_writer import (
    ATT_MAPI_PROPS,
    ATT_TNEF_VERSION,
    LEVEL_MESSAGE,
    attached_file,
    lzfu_repeating,
    stream,
    tnef_object,
    winmail,
    winmail_message,
)

CRLF = "\r\n"
PDF = b"%PDF-1.4\n%hostile\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
MB = 1_000_000


class Hostile(NamedTuple):
    """One class of hostile mail: ``build(scale)``, run at ``fast`` in ``make test`` and at
    ``full`` (up to SES's 40 MB; 1 MB for one header value) in ``make test-long``. ``fast`` is the
    cheapest known trigger where there is one (300,000 empty parts in 2.1 MB, a 300 kB
    header value, a 9 MB winmail.dat): those are what an attacker would send."""

    name: str
    build: Callable[[int], bytes]
    fast: int
    full: int
    what: str


def headers(subject: str, **extra: str) -> str:
    fields = {
        "From": "Customer <customer@example.org>",
        "To": "support@example.com",
        "Subject": subject,
        "Message-ID": f"<{uuid.uuid4()}@customer.example.org>",
        "Date": "Mon, 07 Dec 2026 12:00:00 +0000",
        "MIME-Version": "1.0",
        **{name.replace("_", "-"): value for name, value in extra.items()},
    }
    return "".join(f"{name}: {value}{CRLF}" for name, value in fields.items())


def _repeat_to(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def _lines(size: int, line: str) -> str:
    return _repeat_to(line + CRLF, size)


def text_with_emoji(size: int) -> bytes:
    """A large UTF-8 text body, ASCII but for one emoji (the whole body must be decoded as UTF-8)."""
    body = _lines(size // 2, "Dear support, the order below never arrived and I would like a refund.")
    body += (
        "One emoji: \U0001f600" + CRLF + _lines(size // 2, "Order 12345, 2 items, paid by card, not shipped.")
    )
    head = headers("Large text", Content_Type="text/plain; charset=utf-8", Content_Transfer_Encoding="8bit")
    return (head + CRLF + body).encode()


def undeclared_8bit(size: int) -> bytes:
    """A large text body of 8-bit bytes with no charset declared: detection must find one."""
    body = _lines(size, "Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve fa\xe7ade, d\xe9j\xe0 vu.")
    head = headers("Undeclared 8-bit", Content_Type="text/plain", Content_Transfer_Encoding="8bit")
    return (head + CRLF + body).encode("latin-1")


def forwarded_html(size: int) -> bytes:
    """A message whose only content is a forwarded message with a large HTML body."""
    html = "<html><body>" + _lines(
        size, "<p>Hello <b>team</b>, see the <a href='#x'>table</a> &amp; notes.</p>"
    )
    inner = headers("The original", Content_Type="text/html; charset=utf-8") + CRLF + html + "</body></html>"
    return _multipart("Fwd: large HTML", [f"Content-Type: message/rfc822{CRLF}{CRLF}{inner}"])


def empty_parts(count: int) -> bytes:
    """A multipart/mixed of ``count`` parts with neither headers nor content (7 bytes each)."""
    head = headers("Empty parts", Content_Type='multipart/mixed; boundary="b"')
    return (head + CRLF + f"--b{CRLF}{CRLF}" * count + f"--b--{CRLF}").encode()


def many_parts(count: int) -> bytes:
    """A multipart/mixed of ``count`` one-character text parts, plus a real body first."""
    parts = "".join(f"--b{CRLF}{CRLF}x{CRLF}" for _ in range(count))
    head = headers("Many parts", Content_Type='multipart/mixed; boundary="b"')
    body = f"--b{CRLF}Content-Type: text/plain{CRLF}{CRLF}The real text.{CRLF}"
    return (head + CRLF + body + parts + f"--b--{CRLF}").encode()


def header_lines(count: int) -> bytes:
    """One sub-part with ``count`` header lines before its short text."""
    many = f"X: y{CRLF}" * count
    part = f"{many}Content-Type: text/plain{CRLF}{CRLF}Short text after many header lines.{CRLF}"
    return _multipart("Many header lines", [part])


ENCODED_WORD_RUN = "=?a?q?x"  # an encoded word that never ends: a backtracking pattern's worst case


def _run(size: int) -> str:
    return _repeat_to(ENCODED_WORD_RUN, size)


def words_in_file_name(size: int) -> bytes:
    part = (
        f'Content-Type: application/pdf; name="{_run(size)}"{CRLF}'
        f'Content-Disposition: attachment; filename="{_run(size)}"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{base64.encodebytes(PDF).decode()}"
    )
    return _multipart("Encoded words in a file name", [_text_part("See the file."), part])


def words_in_references(size: int) -> bytes:
    head = headers("Re: encoded words", References=_run(size), In_Reply_To=_run(size // 10))
    return (head + f"Content-Type: text/plain{CRLF}{CRLF}Reply text.{CRLF}").encode()


def words_in_display_name(size: int) -> bytes:
    head = headers("Encoded words in a name", From=f"{_run(size)} <customer@example.org>")
    return (head + f"Content-Type: text/plain{CRLF}{CRLF}Hello.{CRLF}").encode()


def words_in_forwarded_subject(size: int) -> bytes:
    inner = headers(_run(size)) + f"Content-Type: text/plain{CRLF}{CRLF}The forwarded text.{CRLF}"
    forwarded = f"Content-Type: message/rfc822{CRLF}{CRLF}{inner}"
    return _multipart("Fwd: encoded words", [_text_part("Forwarding this."), forwarded])


BOGUS_WORD = "=?x-bogus?q?caf=E9_cr=E8me_br=FBl=E9e?="
WORDS_PER_VALUE = 64  # headers.MAX_WORDS_DETECTED: as many as are detected one by one per value


def bogus_charset_file_names(size: int) -> bytes:
    """Parts whose file names are each as many bogus-charset encoded words as get detected."""
    name = " ".join([BOGUS_WORD] * WORDS_PER_VALUE)
    part = (
        f'Content-Type: application/pdf; name="{name}"{CRLF}'
        f'Content-Disposition: attachment; filename="{name}"{CRLF}{CRLF}x{CRLF}'
    )
    return _multipart("Bogus charsets in file names", [_text_part("Files."), *[part] * (size // len(part))])


def bogus_charset_forwarded_headers(size: int) -> bytes:
    """Forwarded messages whose Subject and From names are bogus-charset encoded words."""
    words = " ".join([BOGUS_WORD] * WORDS_PER_VALUE)
    inner = (
        headers(words, From=f"{words} <other@example.org>") + f"Content-Type: text/plain{CRLF}{CRLF}x{CRLF}"
    )
    part = f"Content-Type: message/rfc822{CRLF}{CRLF}{inner}"
    return _multipart("Fwd: bogus charsets", [_text_part("Forwards."), *[part] * (size // len(part))])


# ---- TNEF (winmail.dat) -------------------------------------------------------------------


def tnef_declared_properties(_scale: int) -> bytes:
    """A winmail.dat with one real file, then MAPI properties that declare 2^32 - 1 entries."""
    props = tnef_object(LEVEL_MESSAGE, ATT_MAPI_PROPS, 0x0006, struct.pack("<I", 0xFFFFFFFF))
    return _winmail("TNEF: 2^32-1 properties", stream(attached_file("kept.pdf", PDF), props))


def tnef_many_objects(size: int) -> bytes:
    """A winmail.dat with one real file and ``size`` bytes of tiny objects after it."""
    tiny = tnef_object(LEVEL_MESSAGE, ATT_TNEF_VERSION, 0x0008, struct.pack("<I", 0x10000))
    return _winmail("TNEF: many objects", stream(attached_file("kept.pdf", PDF), tiny * (size // len(tiny))))


def tnef_rtf_groups(size: int) -> bytes:
    """An Outlook message whose only body is a winmail.dat's compressed RTF that encapsulates HTML:
    ``size`` bytes of empty groups, the RTF lark parses at the most cost a byte."""
    head = b"{\\rtf1\\ansi\\fromhtml1 \\deff0{\\fonttbl}"
    rtf = head + b"{}" * ((size - len(head) - 1) // 2) + b"}"
    compressed = compressed_rtf.compress(rtf, compressed=False)  # stored (MELA): its compressor is slow
    return winmail_message(winmail(compressed=compressed, text="The plain text."), subject="TNEF: RTF groups")


def tnef_rtf_expanding(size: int) -> bytes:
    """An Outlook message whose only body is ``size`` bytes of compressed RTF that expand 8.5 times,
    and declare a size of 100 bytes."""
    compressed = lzfu_repeating(b"{}", size * 8)
    compressed = compressed[:4] + struct.pack("<I", 100) + compressed[8:]
    return winmail_message(winmail(compressed=compressed, text="The plain text."), subject="TNEF: RTF bomb")


def _winmail(subject: str, tnef: bytes) -> bytes:
    part = (
        f'Content-Type: application/ms-tnef; name="winmail.dat"{CRLF}'
        f'Content-Disposition: attachment; filename="winmail.dat"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{base64.encodebytes(tnef).decode()}"
    )
    return _multipart(subject, [_text_part("See the attached files."), part])


# ---- small defects ------------------------------------------------------------------------


def eight_bit_content_type(_scale: int) -> bytes:
    """A PDF attachment whose Content-Type holds 8-bit characters (``application/pédf``)."""
    part = (
        f'Content-Type: application/p\u00e9df; name="x.pdf"{CRLF}'
        f'Content-Disposition: attachment; filename="x.pdf"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{base64.encodebytes(PDF).decode()}"
    )
    return _multipart("8-bit Content-Type", [_text_part("The invoice."), part])  # é as UTF-8 bytes


def long_message_id(size: int) -> bytes:
    """A Message-ID longer than DynamoDB's 2,048-byte partition key."""
    message_id = f"<{'x' * size}@customer.example.org>"
    return (
        headers("Long Message-ID", Message_ID=message_id) + f"Content-Type: text/plain{CRLF}{CRLF}Hi.{CRLF}"
    ).encode()


# ---- shared pieces ------------------------------------------------------------------------


def _text_part(text: str) -> str:
    return f"Content-Type: text/plain; charset=utf-8{CRLF}{CRLF}{text}{CRLF}"


def _multipart(subject: str, parts: list[str]) -> bytes:
    boundary = f"hostile-{uuid.uuid4().hex}"
    head = headers(subject, Content_Type=f'multipart/mixed; boundary="{boundary}"')
    body = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts) + f"--{boundary}--{CRLF}"
    return (head + CRLF + body).encode("utf-8", "surrogateescape")


CLASSES = (
    Hostile("text_with_emoji", text_with_emoji, 2 * MB, 39 * MB, "UTF-8 text body with one emoji"),
    Hostile("undeclared_8bit", undeclared_8bit, 2 * MB, 39 * MB, "8-bit text body, no charset"),
    Hostile("forwarded_html", forwarded_html, 2 * MB, 38 * MB, "forwarded message, HTML body"),
    Hostile("empty_parts", empty_parts, 300_000, 5_000_000, "empty parts (7 bytes each)"),
    Hostile("many_parts", many_parts, 1_000_000, 3_800_000, "one-character parts"),
    Hostile("header_lines", header_lines, 1_000_000, 6_000_000, "header lines in one sub-part"),
    Hostile("words_in_file_name", words_in_file_name, 300_000, 1 * MB, "=?a?q?x run in a file name"),
    Hostile("words_in_references", words_in_references, 300_000, 1 * MB, "=?a?q?x run in References"),
    Hostile("words_in_display_name", words_in_display_name, 300_000, 1 * MB, "=?a?q?x run in a display name"),
    Hostile(
        "words_in_forwarded_subject", words_in_forwarded_subject, 300_000, 1 * MB, "=?a?q?x run, fwd Subject"
    ),
    Hostile("tnef_declared_properties", tnef_declared_properties, 1, 1, "winmail.dat declaring 2^32-1 props"),
    Hostile("tnef_many_objects", tnef_many_objects, 9 * MB, 28 * MB, "winmail.dat of tiny objects"),
    Hostile(
        "tnef_rtf_groups", tnef_rtf_groups, 8 * 1024, MAX_RTF_BYTES, "winmail.dat RTF body of empty groups"
    ),
    Hostile(
        "tnef_rtf_expanding",
        tnef_rtf_expanding,
        MAX_COMPRESSED_RTF_BYTES - 64,  # the most that is decompressed
        5 * MB,
        "winmail.dat RTF body, 8.5x",
    ),
    Hostile(
        "bogus_charset_file_names", bogus_charset_file_names, 1 * MB, 38 * MB, "bogus-charset file names"
    ),
    Hostile(
        "bogus_charset_forwarded_headers",
        bogus_charset_forwarded_headers,
        1 * MB,
        38 * MB,
        "bogus-charset forwarded headers",
    ),
    Hostile("eight_bit_content_type", eight_bit_content_type, 1, 1, "Content-Type application/pédf"),
    Hostile("long_message_id", long_message_id, 3000, 3000, "Message-ID over 2,048 bytes"),
)
