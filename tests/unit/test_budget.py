"""The per-message budget (budget.py): each bound, a message just within it and one just past it.

Within a bound, nothing changes and nothing is recorded; past it, the defect names the bound and
what was read before it is delivered. The messages are built at the real bounds, not at lowered
ones, so that the numbers the docs give are the numbers tested.
"""

from __future__ import annotations

import base64
import struct
import time

import pytest

from ses_to_connect import budget, charsets, tnef
from ses_to_connect.attachments import find_candidates
from ses_to_connect.budget import (
    MAX_DETECTIONS,
    MAX_ENCODED_WORDS,
    MAX_FORWARDED_CHARS,
    MAX_HEADER_BYTES,
    MAX_HEADER_LINES,
    MAX_LINES,
    MAX_PARAMETERS,
    MAX_PARTS,
    MAX_TEXT_CHARS,
    MAX_TNEF_DEPTH,
    MAX_TNEF_OBJECTS,
)
from ses_to_connect.limits import MAX_BODY
from ses_to_connect.mime import parse_message
from ses_to_connect.model import Defects
from tests.support.constants import SUPPORT
from tests.unit.builders import count_detections, only_request, raw_message, run

# Six header lines, and the blank line that ends them: seven lines the parser reads.
HEAD = (
    b"From: Customer <customer@example.org>\r\nTo: " + SUPPORT.encode() + b"\r\nSubject: Help\r\n"
    b"Message-ID: <budget@example.org>\r\nMIME-Version: 1.0\r\n"
)
MIXED = HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
TEXT_PART = b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
PDF_PART = b"--b\r\nContent-Type: application/pdf\r\n\r\nx\r\n"
END = b"--b--\r\n"


def stopped(defects: tuple[str, ...] | list[str]) -> list[str]:
    return [
        defect for defect in defects if defect.startswith(("parse_stopped", "encoded_words", "charset_det"))
    ]


# --- parts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("over", [False, True])
def test_parts_are_read_up_to_the_bound(over: bool) -> None:
    # The root and the text part are parts too.
    files = MAX_PARTS - 2 + over
    message = parse_message(MIXED + TEXT_PART + PDF_PART * files + END)
    assert message.body is not None and message.body.text.strip() == "hello"
    if over:
        assert stopped(message.defects) == ["parse_stopped:parts"]
        assert len(message.files) == files - 1  # the part past the bound is not read
    else:
        assert stopped(message.defects) == []
        assert len(message.files) == files


def test_300_000_empty_parts_convert_quickly_and_deliver_the_text() -> None:
    started = time.process_time()
    conversion = run(MIXED + TEXT_PART + b"--b\r\n\r\n" * 300_000 + END)
    assert time.process_time() - started < 5  # was 5 s of CPU and 193 MiB here
    assert raw_message(only_request(conversion))["Body"].strip() == "hello"
    assert "parse_stopped:parts" in conversion.defects


# --- header lines and bytes ----------------------------------------------------------------------


@pytest.mark.parametrize("over", [False, True])
def test_header_lines_are_read_up_to_the_bound(over: bool) -> None:
    # The root's 7 lines, the text part's 2, then the part's header lines and its blank line.
    count = MAX_HEADER_LINES - 7 - 2 - 1 + over
    message = parse_message(MIXED + TEXT_PART + b"--b\r\n" + b"X-A: b\r\n" * count + b"\r\nx\r\n" + END)
    assert message.body is not None and message.body.text.startswith("hello")
    assert stopped(message.defects) == (["parse_stopped:header_lines"] if over else [])


@pytest.mark.parametrize("over", [False, True])
def test_header_bytes_are_read_up_to_the_bound(over: bool) -> None:
    root = len(MIXED)
    line = 64 * 1024
    full, rest = divmod(MAX_HEADER_BYTES - root - 2, line)  # 2: the part's blank line
    lines = [b"X-A: " + b"a" * (line - 7) + b"\r\n"] * full
    lines.append(b"X-A: " + b"a" * (rest - 7 + over) + b"\r\n")
    message = parse_message(MIXED + b"--b\r\n" + b"".join(lines) + b"\r\nx\r\n" + END)
    assert stopped(message.defects) == (["parse_stopped:header_bytes"] if over else [])


# --- lines ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("over", [False, True])
def test_lines_are_read_up_to_the_bound(over: bool) -> None:
    body = b"a\r\n" * (MAX_LINES - 7 + over)
    message = parse_message(HEAD + b"Content-Type: text/plain\r\n\r\n" + body)
    assert message.body is not None
    assert message.body.text.count("a") == MAX_LINES - 7
    assert stopped(message.defects) == (["parse_stopped:lines"] if over else [])


# --- encoded words and detections ------------------------------------------------------------


@pytest.mark.parametrize("over", [False, True])
def test_encoded_words_are_decoded_up_to_the_bound(over: bool) -> None:
    to = b", ".join(b"=?utf-8?q?Caf=C3=A9?= <a%d@example.org>" % n for n in range(MAX_ENCODED_WORDS + over))
    message = parse_message(HEAD.replace(b"To: support@example.com", b"To: " + to) + b"\r\nhi\r\n")
    assert message.to[0].display_name == "Café"
    assert message.to[-1].display_name == ("=?utf-8?q?Caf=C3=A9?=" if over else "Café")
    assert stopped(message.defects) == (["encoded_words_capped:encoded_words"] if over else [])


@pytest.mark.parametrize("over", [False, True])
def test_charset_detections_are_counted_per_message(over: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """One unusable word in each file name: the detections of all parts share one budget."""
    calls = count_detections(monkeypatch)
    named = b'--b\r\nContent-Type: application/pdf; name="=?x-unknown?q?=E9t=E9?=.pdf"\r\n\r\nx\r\n'
    conversion = run(MIXED + TEXT_PART + named * (MAX_DETECTIONS + over) + END)
    assert len(calls) == MAX_DETECTIONS
    assert stopped(conversion.defects) == (["charset_detections_capped:charset_detections"] if over else [])


# --- text that can reach the agent ---------------------------------------------------------------


def test_a_text_part_is_decoded_only_as_far_as_the_agent_can_read(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[int] = []
    decode = charsets.decode

    def measuring(data: bytes, encoding: str | None, hints: tuple[str, ...] = ()) -> charsets.Decoded:
        decoded.append(len(data))
        return decode(data, encoding, hints)

    monkeypatch.setattr(charsets, "decode", measuring)
    line = ("ü" * 99 + "\n").encode()  # 199 bytes
    body = line * (3 * MAX_TEXT_CHARS // 100)  # 31 MB of two-byte text
    shown = raw_message(only_request(run(HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body)))
    assert decoded == [MAX_TEXT_CHARS - MAX_TEXT_CHARS % len(line)]  # cut after a line: no character split
    # Read on in the charset found, past the limit: the body is full and cut with its note.
    assert len(shown["Body"]) == MAX_BODY
    assert set(shown["Body"][: MAX_BODY - 300]) == {"ü", "\n"}


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_a_long_utf_16_text_is_read_on_whole_characters(bom: bytes) -> None:
    codec = "utf-16-le" if bom == b"\xff\xfe" else "utf-16-be"
    body = bom + ("é" * 99 + "\n").encode(codec) * (MAX_TEXT_CHARS // 50)
    part = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(body)
    message = parse_message(HEAD + part)
    assert message.body is not None
    assert set(message.body.text) == {"é", "\n"}
    assert len(message.body.text) == MAX_TEXT_CHARS + 1  # one past: convert marks it truncated


def forwarded(text: bytes) -> bytes:
    inner = b"Subject: old\r\nContent-Type: text/plain\r\n\r\n" + text + b"\r\n"
    return b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner


def forwarded_texts(raw: bytes) -> tuple[list[str], list[str]]:
    """The .txt of each forwarded message, and the defects, as the conversion's plan finds them."""
    defects = Defects()
    with budget.metered() as meter:
        message = parse_message(raw)
        candidates, _ = find_candidates(message.files, None, defects)
        meter.report(defects)
    return [candidate.payload().decode() for candidate in candidates], defects.as_list()


@pytest.mark.parametrize("over", [False, True])
def test_a_forwarded_text_is_cut_where_the_agent_stops_reading(over: bool) -> None:
    texts, defects = forwarded_texts(MIXED + TEXT_PART + forwarded(b"a" * (MAX_FORWARDED_CHARS + over)) + END)
    assert "a" * MAX_FORWARDED_CHARS in texts[0] and "a" * (MAX_FORWARDED_CHARS + 1) not in texts[0]
    assert ("text_cut:forwarded_text" in defects) is over


def test_forwarded_messages_share_one_bound() -> None:
    """Their .txt files are all kept until stored: 38 MB in 8 forwarded messages held 209 MiB."""
    first, second = b"a" * (MAX_FORWARDED_CHARS - 10), b"b" * 20
    texts, defects = forwarded_texts(MIXED + TEXT_PART + forwarded(first) + forwarded(second) + END)
    assert first.decode() in texts[0]
    assert "b" * 10 in texts[1] and "b" * 11 not in texts[1]
    assert "text_cut:forwarded_text" in defects


@pytest.mark.parametrize("over", [False, True])
def test_parameters_are_read_up_to_the_bound(over: bool) -> None:
    parameters = b"".join(b"; p%d=v" % n for n in range(MAX_PARAMETERS - 1 + over))
    message = parse_message(
        MIXED + b'--b\r\nContent-Type: application/pdf; name="a.pdf"' + parameters + b"\r\n\r\nx\r\n" + END
    )
    assert message.files[0].get_param("name") == "a.pdf"
    assert ("header_truncated:content-type" in message.defects) is over


# --- winmail.dat ---------------------------------------------------------------------------------

ATTACH_LEVEL = 2
RENDDATA, ATTACHMENT, TITLE, DATA = 0x9002, 0x9005, 0x8010, 0x800F
EMBEDDED = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"


def tnef_object(name: int, data: bytes, level: int = ATTACH_LEVEL, kind: int = 0x0006) -> bytes:
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def tnef_stream(*objects: bytes) -> bytes:
    return struct.pack("<IH", tnef.SIGNATURE, 0) + b"".join(objects)


def tnef_file(name: bytes, content: bytes) -> bytes:
    return tnef_object(RENDDATA, b"\0" * 14) + tnef_object(TITLE, name + b"\0") + tnef_object(DATA, content)


def mapi_block(count: int, properties: bytes) -> bytes:
    return struct.pack("<I", count) + properties


def int_property() -> bytes:
    return struct.pack("<HHI", 0x0003, 0x0E20, 1)  # PR_ATTACH_SIZE: 8 bytes, the smallest


def unpacked(data: bytes) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The files and defects; readable when a file was read or nothing stopped the reading."""
    defects = Defects()
    started = time.process_time()
    result = tnef.unpack(data, defects)
    assert time.process_time() - started < 2
    assert result.readable is bool(result.files or not defects.as_list())
    return result.files, defects.as_list()


def test_a_458_byte_winmail_dat_declaring_4_billion_properties_is_refused_at_once() -> None:
    hostile = tnef_object(RENDDATA, b"\0" * 14) + tnef_object(ATTACHMENT, mapi_block(2**32 - 1, b"\0" * 400))
    data = tnef_stream(tnef_file(b"kept.pdf", b"%PDF-1.4"), hostile)
    files, defects = unpacked(data)
    assert files == [("kept.pdf", b"%PDF-1.4")]
    assert defects == ["tnef_over_budget:count"]


def test_a_property_count_the_data_can_hold_is_read() -> None:
    block = mapi_block(50, int_property() * 50)
    files, defects = unpacked(tnef_stream(tnef_file(b"a.pdf", b"%PDF"), tnef_object(ATTACHMENT, block)))
    assert files == [("a.pdf", b"%PDF")] and defects == []


@pytest.mark.parametrize("over", [False, True])
def test_winmail_dat_objects_are_read_up_to_the_bound(over: bool) -> None:
    filler = tnef_object(0x0006, b"xy", level=1)  # an object tnefparse passes over (13 bytes: read)
    data = tnef_stream(tnef_file(b"a.pdf", b"%PDF"), filler * (MAX_TNEF_OBJECTS - 3 + over))
    files, defects = unpacked(data)
    assert files == [("a.pdf", b"%PDF")]
    assert defects == (["tnef_over_budget:objects"] if over else [])


def nested(depth: int) -> bytes:
    """A winmail.dat holding a message that holds a message... ``depth`` levels down."""
    inner = tnef_stream(tnef_file(b"deep.pdf", b"%PDF"))
    for _ in range(depth):
        value = EMBEDDED + inner
        data_obj = struct.pack("<HHII", 0x000D, 0x3701, 1, len(value)) + value + b"\0" * (-len(value) % 4)
        inner = tnef_stream(
            tnef_object(RENDDATA, b"\0" * 14), tnef_object(ATTACHMENT, mapi_block(1, data_obj))
        )
    return inner


@pytest.mark.parametrize("over", [False, True])
def test_embedded_messages_are_read_down_to_the_bound(over: bool) -> None:
    files, defects = unpacked(nested(MAX_TNEF_DEPTH + over))
    assert defects == (["tnef_over_budget:depth"] if over else [])
    assert len(files) == (0 if over else 1)  # the embedded message, as one file: unreadable past the bound


def test_a_hostile_winmail_dat_in_a_message_still_delivers_the_message() -> None:
    hostile = tnef_object(RENDDATA, b"\0" * 14) + tnef_object(ATTACHMENT, mapi_block(2**32 - 1, b"\0" * 400))
    data = tnef_stream(hostile)
    assert len(data) <= 458
    part = (
        b"--b\r\nContent-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="winmail.dat"\r\n\r\n' + base64.encodebytes(data)
    )
    conversion = run(MIXED + TEXT_PART + part + END)
    request = only_request(conversion)
    assert "tnef_over_budget:count" in conversion.defects
    assert request["Attributes"]["sesAttachmentsSkipped"] == "winmail.dat (tnef_unreadable)"
