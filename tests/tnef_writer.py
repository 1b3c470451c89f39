"""Outlook's winmail.dat written in the tests: real TNEF streams (MS-OXTNEF) with the message's
MAPI properties (its HTML, compressed RTF and plain text bodies), ``attBody`` and attached files,
and the RTF Outlook writes around HTML or text (MS-OXRTFEX), compressed as MS-OXRTFCP says."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from collections.abc import Iterator, Sequence

import compressed_rtf

SIGNATURE = 0x223E9F78
LEVEL_MESSAGE, LEVEL_ATTACHMENT = 1, 2
ATT_TNEF_VERSION, ATT_OEM_CODEPAGE, ATT_MESSAGE_CLASS = 0x9006, 0x9007, 0x8008
ATT_BODY, ATT_MAPI_PROPS = 0x800C, 0x9003
ATT_RENDDATA, ATT_TITLE, ATT_DATA = 0x9002, 0x8010, 0x800F
PT_LONG, PT_STRING8, PT_UNICODE, PT_BINARY = 0x0003, 0x001E, 0x001F, 0x0102
PR_BODY, PR_RTF_COMPRESSED, PR_BODY_HTML, PR_INTERNET_CPID = 0x1000, 0x1009, 0x1013, 0x3FDE
CRLF = "\r\n"


def tnef_object(level: int, name: int, kind: int, data: bytes) -> bytes:
    """One TNEF attribute: level, name, type, length, data, checksum (MS-OXTNEF 2.1.3.1)."""
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)


def stream(*objects: bytes) -> bytes:
    """A TNEF stream: signature, key, the version attribute and ``objects``."""
    version = tnef_object(LEVEL_MESSAGE, ATT_TNEF_VERSION, 0x0008, struct.pack("<I", 0x10000))
    return struct.pack("<IH", SIGNATURE, 0x0001) + version + b"".join(objects)


def attached_file(name: str, content: bytes) -> bytes:
    """The objects of one attached file, as tnefparse reads them."""
    return (
        tnef_object(LEVEL_ATTACHMENT, ATT_RENDDATA, 0x0006, b"\x01\x00" + b"\xff" * 12)
        + tnef_object(LEVEL_ATTACHMENT, ATT_TITLE, 0x0001, name.encode() + b"\x00")
        + tnef_object(LEVEL_ATTACHMENT, ATT_DATA, 0x0006, content)
    )


def mapi_property(name: int, kind: int, value: int | bytes) -> bytes:
    """One MAPI property of a block (MS-OXTNEF 2.1.3.4): a 32-bit integer, or a variable value
    (string or binary: a count of 1, its length, the bytes padded to 4)."""
    head = struct.pack("<HH", kind, name)
    if isinstance(value, int):
        return head + struct.pack("<I", value)
    return head + struct.pack("<II", 1, len(value)) + value + b"\x00" * (-len(value) % 4)


def message_properties(*properties: bytes) -> bytes:
    """The message's ``attMAPIProps`` object holding ``properties``."""
    return tnef_object(
        LEVEL_MESSAGE, ATT_MAPI_PROPS, 0x0006, struct.pack("<I", len(properties)) + b"".join(properties)
    )


def winmail(
    *,
    html: bytes | None = None,
    rtf: bytes | None = None,
    compressed: bytes | None = None,
    text: str | None = None,
    att_body: bytes | None = None,
    codepage: int = 1252,
    files: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    """A winmail.dat as Outlook writes one: its code page, class, the message's body properties
    (``html`` as binary ``PR_BODY_HTML``, ``rtf`` compressed in ``PR_RTF_COMPRESSED``, or
    ``compressed`` there as it is, ``text`` as Unicode ``PR_BODY``), ``attBody``, then the
    attached files."""
    properties = [mapi_property(PR_INTERNET_CPID, PT_LONG, codepage)]
    if text is not None:
        properties.append(mapi_property(PR_BODY, PT_UNICODE, (text + "\x00").encode("utf-16-le")))
    if rtf is not None:
        compressed = compressed_rtf.compress(rtf)
    if compressed is not None:
        properties.append(mapi_property(PR_RTF_COMPRESSED, PT_BINARY, compressed))
    if html is not None:
        properties.append(mapi_property(PR_BODY_HTML, PT_BINARY, html))
    objects = [
        tnef_object(LEVEL_MESSAGE, ATT_OEM_CODEPAGE, 0x0006, struct.pack("<II", codepage, 0)),
        tnef_object(LEVEL_MESSAGE, ATT_MESSAGE_CLASS, 0x0007, b"IPM.Note\x00"),
    ]
    if att_body is not None:
        objects.append(tnef_object(LEVEL_MESSAGE, ATT_BODY, 0x0002, att_body))
    objects.append(message_properties(*properties))
    objects += [attached_file(name, content) for name, content in files]
    return stream(*objects)


def winmail_message(tnef: bytes, *, text: str | None = None, subject: str = "From Outlook") -> bytes:
    """A message as Exchange sends Outlook's: an optional text/plain part, then the winmail.dat."""
    boundary = "tnef-boundary"
    parts = []
    if text is not None:
        parts.append(f"Content-Type: text/plain; charset=utf-8{CRLF}{CRLF}{text}{CRLF}")
    parts.append(
        f'Content-Type: application/ms-tnef; name="winmail.dat"{CRLF}'
        f'Content-Disposition: attachment; filename="winmail.dat"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{base64.encodebytes(tnef).decode()}"
    )
    head = (
        f"From: Customer <customer@example.org>{CRLF}To: support@example.com{CRLF}Subject: {subject}{CRLF}"
        f'MIME-Version: 1.0{CRLF}Content-Type: multipart/mixed; boundary="{boundary}"{CRLF}{CRLF}'
    )
    body = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts) + f"--{boundary}--{CRLF}"
    return (head + body).encode()


def _rtf_text(text: str, line_break: str = "\\par\n") -> str:
    """Text as RTF writes it: ``\\ { }`` escaped, other than ASCII as ``\\uN?``, each line ended
    by ``line_break``."""
    out = []
    for char in text:
        if char in "\\{}":
            out.append("\\" + char)
        elif char == "\n":
            out.append(line_break)
        elif ord(char) < 128:
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\u{code if code < 32768 else code - 65536}?")
    return "".join(out)


_HEADER = "{{\\rtf1\\ansi\\ansicpg1252\\{0} \\deff0{{\\fonttbl\n{{\\f0\\fswiss\\fcharset0 Arial;}}}}\n"


def encapsulated_html(html: str) -> bytes:
    """HTML inside RTF as Outlook writes it (MS-OXRTFEX): ``\\fromhtml1``, each tag in a
    ``{\\*\\htmltagN ...}`` group, the text between them, and RTF of its own (a paragraph mark
    for each line) between ``\\htmlrtf`` and ``\\htmlrtf0``, which a de-encapsulating reader drops."""
    parts = [_HEADER.format("fromhtml1")]
    for tag, text in re.findall(r"(<[^>]*>)|([^<]+)", html):
        if tag:
            parts.append(f"{{\\*\\htmltag64 {_rtf_text(tag)}}}\n")
        else:
            parts.append("\\htmlrtf0 " + _rtf_text(text, " \\htmlrtf \\par \\htmlrtf0 "))
    parts.append("\\htmlrtf \\par \\htmlrtf0}")
    return "".join(parts).encode("ascii")


def encapsulated_text(text: str) -> bytes:
    """Plain text inside RTF, as Outlook writes it (``\\fromtext``)."""
    return (_HEADER.format("fromtext") + _rtf_text(text) + "}").encode("ascii")


def plain_rtf(text: str) -> bytes:
    """Outlook's own rich text: RTF that encapsulates nothing."""
    return (
        "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Arial;}}\n" + _rtf_text(text) + "}"
    ).encode()


def lzfu_repeating(unit: bytes, size: int) -> bytes:
    """``unit`` repeated to ``size`` bytes as compressed RTF (LZFu), built in linear time (the
    library's compressor searches its whole dictionary for every byte): the unit as literals,
    then references of up to 17 bytes each to the bytes a period back."""
    body = bytearray()
    group: list[tuple[bool, bytes]] = []
    for token in _repeating_tokens(unit, size):
        group.append(token)
        if len(group) == 8:
            _add_group(body, group)
            group = []
    _add_group(body, group)
    crc = zlib.crc32(bytes(body), 0xFFFFFFFF) ^ 0xFFFFFFFF  # MS-OXRTFCP's CRC: no final inversion
    return struct.pack("<II4sI", len(body) + 12, size, b"LZFu", crc) + bytes(body)


def _repeating_tokens(unit: bytes, size: int) -> Iterator[tuple[bool, bytes]]:
    """(is a reference, its bytes): literals, then references into the dictionary (MS-OXRTFCP)."""
    initial = 207  # the length of MS-OXRTFCP's initial dictionary: where the first byte is written
    yield from ((False, bytes([byte])) for byte in unit)
    written = len(unit)
    while written < size:
        length = min(17, size - written)
        if length < 2:
            yield False, unit[written % len(unit) : written % len(unit) + 1]
        else:
            offset = (initial + written - len(unit)) % 4096
            yield True, struct.pack(">H", offset << 4 | (length - 2))
        written += length


def _add_group(body: bytearray, group: list[tuple[bool, bytes]]) -> None:
    if group:
        body.append(sum(1 << bit for bit, (reference, _) in enumerate(group) if reference))
        for _, token in group:
            body += token
