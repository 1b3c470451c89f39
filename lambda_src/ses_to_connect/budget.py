"""The per-message budget: how much of a message the core reads, decodes and guesses, at most.

Every bound is per message, not per value, so that no message, however large or hostile, can
hold the function past its memory or time (docs/performance.md, "Per-message budget"). What a
bound stops is recorded as a defect and the rest is delivered as read; the raw message stays
in S3, referenced from the contact.

The count is kept by a :class:`Meter` for the message being read, found through a context
variable rather than passed through every decoding function: :func:`metered` opens one around
a message (the conversion's plan), and code reached outside any message (a unit test, a tool
decoding one value) gets a fresh meter of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum

from ses_to_connect.limits import MAX_BODY
from ses_to_connect.model import DefectKind, Defects

# A stdlib Message object costs about 1 kB: 10,000 parts stay under 10 MB. The corpus's most is
# 3,043 (a nesting torture test); real mail has tens.
MAX_PARTS = 10_000
# Header lines of all parts together: the parser keeps about 200 bytes per line. The corpus's
# most is 9,177.
MAX_HEADER_LINES = 100_000
# Header bytes of all parts together: every header is read and cleaned at least once. The
# corpus's most is 277 kB (a 210 kB Subject).
MAX_HEADER_BYTES = 4 * 1024 * 1024
# A Content-Type or Content-Disposition value, in characters and parameters: the stdlib reads
# parameters in quadratic time, several times a part. A file name of 255 CJK characters in
# RFC 2231 continuations takes about 2.5 kB and 35 parameters.
MAX_PARAMETER_HEADER = 16 * 1024
MAX_PARAMETERS = 100
# Lines of the whole message: the parser holds each line of a part as a string of its own
# (about 57 bytes more than its text) until the part ends. 40 MB of base64 is 540,000 lines.
MAX_LINES = 1_000_000
# RFC 2047 encoded words decoded in all headers, file names and forwarded headers together:
# a few microseconds each. The corpus's most is 3,302.
MAX_ENCODED_WORDS = 20_000
# Statistical charset detections (bodies and header words together): about 0.2 ms a header
# word and up to tens of ms a body. Past it, windows-1252 stands in (WHATWG's default).
MAX_DETECTIONS = 100
# Characters of one text read for the agent (a body piece, a forwarded message's .txt): what
# Connect takes in a body. A part's bytes are decoded only as far as that many characters.
MAX_TEXT_CHARS = MAX_BODY
# Characters of all forwarded messages' .txt files together, which are kept until the files are
# stored: 38 MB of windows-1252 text in 8 forwarded messages held 209 MiB as UTF-8 without it.
MAX_FORWARDED_CHARS = MAX_BODY
# The HTML cleaner (justhtml, a browser-grade parser) takes about a CPU-second per megabyte here,
# 3.5 s at 512 MB on Lambda; a larger HTML body is shown as text (html_text: linear) instead.
MAX_CLEANED_HTML_CHARS = 1_048_576
# A winmail.dat: objects read (a real one has a few per attached file), nesting of embedded
# messages, and bytes tnefparse may copy while parsing an embedded message (it copies the rest
# of the stream once per object).
MAX_TNEF_OBJECTS = 10_000
MAX_TNEF_DEPTH = 8
MAX_TNEF_COPY_BYTES = 256 * 1024 * 1024
# The RTF body of a winmail.dat, decompressed (as declared and as it comes out): RTFDE's lark
# parser reads it a character at a time, up to 24 microseconds and 1 kB of memory a byte here
# (a run of empty groups, the worst found), so 96 KiB costs up to 2.3 CPU-seconds and 100 MiB,
# a quarter of the processing budget. Outlook's RTF of an ordinary message is tens of
# kilobytes; past the bound, the plain text Outlook stores beside it is shown.
MAX_RTF_BYTES = 96 * 1024
# Compressed, it is refused at once when larger than the bound's worst case (LZFu spends a
# control byte on every 8 literals): decompression, pure Python, takes time by its output.
MAX_COMPRESSED_RTF_BYTES = MAX_RTF_BYTES * 9 // 8 + 16


class Bound(StrEnum):
    """What a meter counts; the value is the defect's detail when the bound is reached."""

    PARTS = "parts"
    HEADER_LINES = "header_lines"
    HEADER_BYTES = "header_bytes"
    LINES = "lines"
    ENCODED_WORDS = "encoded_words"
    DETECTIONS = "charset_detections"
    FORWARDED_CHARS = "forwarded_text"


LIMITS = {
    Bound.PARTS: MAX_PARTS,
    Bound.HEADER_LINES: MAX_HEADER_LINES,
    Bound.HEADER_BYTES: MAX_HEADER_BYTES,
    Bound.LINES: MAX_LINES,
    Bound.ENCODED_WORDS: MAX_ENCODED_WORDS,
    Bound.DETECTIONS: MAX_DETECTIONS,
    Bound.FORWARDED_CHARS: MAX_FORWARDED_CHARS,
}
# The defect each bound records: the parser's bounds stop reading the message there.
_DEFECTS = {
    Bound.PARTS: DefectKind.PARSE_STOPPED,
    Bound.HEADER_LINES: DefectKind.PARSE_STOPPED,
    Bound.HEADER_BYTES: DefectKind.PARSE_STOPPED,
    Bound.LINES: DefectKind.PARSE_STOPPED,
    Bound.ENCODED_WORDS: DefectKind.ENCODED_WORDS_CAPPED,
    Bound.DETECTIONS: DefectKind.CHARSET_DETECTIONS_CAPPED,
    Bound.FORWARDED_CHARS: DefectKind.TEXT_CUT,
}


@dataclass
class Meter:
    """What one message has used of its budget, and which bounds it reached."""

    used: dict[Bound, int] = field(default_factory=lambda: dict.fromkeys(Bound, 0))
    reached: dict[Bound, None] = field(default_factory=dict)

    def take(self, bound: Bound, amount: int = 1) -> bool:
        """Count ``amount`` more; False (and the bound reached) when that goes past the bound."""
        self.used[bound] += amount
        if self.used[bound] <= LIMITS[bound]:
            return True
        self.reached[bound] = None
        return False

    def room(self, bound: Bound) -> int:
        """How much of ``bound`` is left."""
        return max(0, LIMITS[bound] - self.used[bound])

    def report(self, defects: Defects) -> None:
        """Record a defect for each bound reached."""
        for bound in self.reached:
            defects.add(_DEFECTS[bound], bound.value)


_CURRENT: ContextVar[Meter | None] = ContextVar("ses_to_connect_budget_meter", default=None)


@contextmanager
def metered() -> Iterator[Meter]:
    """The meter of the message being read: a new one, or the enclosing message's own."""
    meter = _CURRENT.get()
    if meter is not None:
        yield meter
        return
    meter = Meter()
    token = _CURRENT.set(meter)
    try:
        yield meter
    finally:
        _CURRENT.reset(token)


def current() -> Meter:
    """The meter of the message being read; outside any, a fresh one for this value alone."""
    return _CURRENT.get() or Meter()
