"""Turning raw header values into clean text, recording what was wrong on the way.

Header values arrive as ``str`` from ``email`` (compat32 policy), with raw 8-bit bytes held as
surrogate escapes and RFC 2047 encoded words still encoded. Everything that reaches a
Connect request passes through :func:`clean_text`, so CR, LF and other control characters
(header injection) never do.
"""

from __future__ import annotations

import binascii
import itertools
import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from ses_to_connect import budget, charsets
from ses_to_connect.budget import Bound
from ses_to_connect.model import DefectKind, Defects

_CONTROL_OR_SPACE_RUN = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029\ufeff]+")
_SURROGATES = re.compile(r"[\udc80-\udcff]+")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_FOLD = re.compile(r"\r?\n(?=[ \t])")  # unfolding removes the line break, not the white space
# The start of an encoded word, as lenient as the stdlib's: anywhere in the text, a charset with an
# optional RFC 2231 language. Its encoded text runs to the first "?=" on the same line (see
# _encoded_words: a regular expression searching for it from every start is quadratic).
_WORD_START = re.compile(r"=\?([^?]*)\?([bBqQ])\?")


class _Word(NamedTuple):
    """One RFC 2047 encoded word of a value: where it stands, and its three fields."""

    start: int
    end: int
    charset: str
    encoding: str  # b, B, q or Q
    text: str


def decode_8bit(value: str, defects: Defects, field: str, hints: Sequence[str] = ()) -> str:
    """Undo surrogate escapes: raw 8-bit header bytes are read as UTF-8 (also when damaged in a
    few places: senders cut long names mid-character), else in a charset the message declares
    (``hints``, from :func:`charsets.codec_for`), else in the charset detection finds."""
    if not _SURROGATES.search(value):
        return value
    defects.add(DefectKind.EIGHT_BIT_HEADER, field)
    return charsets.decode(value.encode("utf-8", "surrogateescape"), None, hints).text


def decode_words(value: str, defects: Defects, field: str, hints: Sequence[str] = ()) -> str:
    """Decode RFC 2047 encoded words, each run of them on its own: one bad word spoils itself only.

    White space between two encoded words is dropped, white space around plain text kept (RFC
    2047 section 6.2); the words of one run in one charset are decoded together, since senders
    split multi-byte characters across words. A word that is not decodable stays as written.
    """
    value = _FOLD.sub("", decode_8bit(value, defects, field, hints))
    if "=?" not in value:
        return value
    out: list[str] = []
    run: list[tuple[str, bytes]] = []  # (charset label, bytes) of adjacent encoded words
    end = 0
    meter = budget.current()
    for word in _encoded_words(value):
        if not meter.take(Bound.ENCODED_WORDS):
            break  # the message's budget is spent: this word and the rest stay as written
        between = value[end : word.start]
        data = _word_bytes(word)
        if data is None:
            defects.add(DefectKind.UNDECODABLE_HEADER, field)
            out.append(_decode_run(run, defects, field, hints) + between + value[word.start : word.end])
            run = []
        else:
            if not run or between.strip(" \t"):
                out.append(_decode_run(run, defects, field, hints) + between)
                run = []
            run.append((word.charset.split("*", 1)[0].strip().lower(), data))
        end = word.end
    out.append(_decode_run(run, defects, field, hints) + value[end:])
    return "".join(out)


def _encoded_words(value: str) -> Iterator[_Word]:
    """The encoded words of ``value`` (``=?charset?b-or-q?text?=``, lenient), in linear time.

    Each word's text ends at the first "?=" after its start, unless a line break comes first.
    The next "?=" and the next line break are searched for only when passed, so the text is
    read a bounded number of times however many starts lack an end.
    """
    close = newline = -1
    index = value.find("=?")
    while index >= 0:
        start = _WORD_START.match(value, index)
        if start is None:
            index = value.find("=?", index + 1)
            continue
        if close < start.end():
            close = value.find("?=", start.end())
            if close < 0:
                return  # no "?=" further on: no later start has an end either
        if newline < start.end():
            newline = value.find("\n", start.end())
            newline = len(value) if newline < 0 else newline
        if newline < close:  # the text would cross a line break: no word starts here
            index = value.find("=?", index + 1)
            continue
        yield _Word(index, close + 2, start.group(1), start.group(2), value[start.end() : close])
        index = value.find("=?", close + 2)


def _word_bytes(word: _Word) -> bytes | None:
    """The bytes an encoded word stands for, or None when its encoded text is broken."""
    encoded = word.text
    try:
        if word.encoding in "bB":
            compact = "".join(encoded.split())
            return binascii.a2b_base64(compact + "=" * (-len(compact) % 4))
        return binascii.a2b_qp(encoded.encode("utf-8", "surrogateescape"), header=True)
    except (binascii.Error, ValueError):
        return None


def _decode_run(run: list[tuple[str, bytes]], defects: Defects, field: str, hints: Sequence[str]) -> str:
    parts: list[str] = []
    for label, group in itertools.groupby(run, key=lambda word: word[0]):
        data = b"".join(data for _, data in group)
        encoding = charsets.codec_for(label)
        decoded = charsets.decode(data, encoding, hints)
        if encoding is None or not decoded.clean or decoded.guessed:
            defects.add(DefectKind.UNDECODABLE_HEADER, field)
        parts.append(decoded.text)
    return "".join(parts)


def clean_text(value: str) -> str:
    """One line of text: control characters and runs of white space become one space."""
    return _CONTROL_OR_SPACE_RUN.sub(" ", without_lone_surrogates(value)).strip()


def without_lone_surrogates(value: str) -> str:
    """Lone surrogates (from utf-7 or unicode_escape "charsets") are not text JSON should carry."""
    return _LONE_SURROGATE.sub("\ufffd", value)


def header_text(
    value: str | None, defects: Defects, field: str, limit: int | None = None, hints: Sequence[str] = ()
) -> str:
    """A header's value decoded, unfolded and stripped of control characters.

    ``limit`` bounds the raw value before decoding, for headers whose use is short anyway (a
    210 kB Subject is cut to 998 characters; decoding all of it first is wasted work).
    ``hints`` are the message's declared charsets, for raw 8-bit bytes (see :func:`decode_8bit`).
    """
    if value is None:
        return ""
    raw = str(value)
    if limit is not None and len(raw) > limit:
        defects.add(DefectKind.HEADER_TRUNCATED, field)
        raw = raw[:limit]
    return clean_text(decode_words(raw, defects, field, hints))


def message_ids(value: str | None) -> list[str]:
    """The ``<id>`` tokens of Message-ID, In-Reply-To or References, oldest first."""
    if not value:
        return []
    found = _MESSAGE_ID.findall(value)
    return found or value.split()
