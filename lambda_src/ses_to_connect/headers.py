"""Turning raw header values into clean text, recording what was wrong on the way.

Header values arrive as ``str`` from ``email`` (compat32 policy), with raw 8-bit bytes held as
surrogate escapes and RFC 2047 encoded words still encoded. Everything that reaches a
Connect request passes through :func:`clean_text`, so CR, LF and other control characters
(header injection) never do.
"""

from __future__ import annotations

import re
from email.errors import MessageError
from email.header import decode_header, make_header

from ses_to_connect.model import Defects

_CONTROL_OR_SPACE_RUN = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029\ufeff]+")
_SURROGATES = re.compile(r"[\udc80-\udcff]+")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def decode_8bit(value: str, defects: Defects, field: str) -> str:
    """Undo surrogate escapes: raw 8-bit header bytes are read as UTF-8, else as cp1252.

    Text that is UTF-8 but for a sequence or two (senders cut long names mid-character) stays
    UTF-8, with U+FFFD where the damage is.
    """
    if not _SURROGATES.search(value):
        return value
    defects.add("8bit_header", field)
    raw = value.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", "replace")
    if text.count("\ufffd") <= 2:
        return text
    return raw.decode("cp1252", "replace")


def decode_words(value: str, defects: Defects, field: str) -> str:
    """Decode RFC 2047 encoded words; a broken word is kept as written and recorded."""
    value = decode_8bit(value, defects, field)
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, TypeError, MessageError):  # the stdlib's many ways
        defects.add("undecodable_header", field)
        return value


def clean_text(value: str) -> str:
    """One line of text: control characters and runs of white space become one space."""
    return _CONTROL_OR_SPACE_RUN.sub(" ", without_lone_surrogates(value)).strip()


def without_lone_surrogates(value: str) -> str:
    """Lone surrogates (from utf-7 or unicode_escape "charsets") are not text JSON should carry."""
    return _LONE_SURROGATE.sub("\ufffd", value)


def header_text(value: str | None, defects: Defects, field: str, limit: int | None = None) -> str:
    """A header's value decoded, unfolded and stripped of control characters.

    ``limit`` bounds the raw value before decoding, for headers whose use is short anyway (a
    210 kB Subject is cut to 998 characters; decoding all of it first is wasted work).
    """
    if value is None:
        return ""
    raw = str(value)
    if limit is not None and len(raw) > limit:
        defects.add("header_truncated", field)
        raw = raw[:limit]
    return clean_text(decode_words(raw, defects, field))


def message_ids(value: str | None) -> list[str]:
    """The ``<id>`` tokens of Message-ID, In-Reply-To or References, oldest first."""
    if not value:
        return []
    found = _MESSAGE_ID.findall(value)
    return found or value.split()
