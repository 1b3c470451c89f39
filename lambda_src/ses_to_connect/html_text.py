"""HTML to readable plain text, in a few regular-expression passes of linear time.

For a text body that must also show an HTML part, and for the .txt of a forwarded HTML
message: the words a browser shows, in order, with line breaks where blocks end. No layout,
no links resolved; comments, scripts, styles and the document head dropped; entities decoded.

Not ``html.parser``: it costs about 3 us per tag in Python (a 38 MB message of tags would
take minutes at the function's share of a CPU) and some versions in use are quadratic on
unclosed constructs. Every pattern here either stops at the next ``<`` or ``>`` or, left
unclosed, runs to the end of the text once, so each pass reads the text a bounded number of
times. A ``>`` inside a quoted attribute value ends the tag early; the rest of that tag then
shows as text, which is the price of that bound. Never raises.
"""

from __future__ import annotations

import html
import re

# Unclosed, a comment or hidden element runs to the end of the text, as in a browser.
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_HIDDEN = re.compile(r"<(head|script|style|template|title)\b.*?(?:</\1\s*>|\Z)", re.DOTALL | re.IGNORECASE)
_PRE = re.compile(r"(<pre\b[^<>]*>.*?(?:</pre\s*>|\Z))", re.DOTALL | re.IGNORECASE)
# Elements whose start or end begins a new line in a browser.
_BLOCK = re.compile(
    r"</?(?:address|article|aside|blockquote|br|dd|div|dl|dt|fieldset|figcaption|figure|footer|"
    r"form|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|table|td|th|tr|ul)\b[^<>]*>?",
    re.IGNORECASE,
)
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>?|<[!?][^<>]*>?")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(markup: str) -> str:
    """The visible text of ``markup``, one line per block (each stripped), runs of blank lines one."""
    markup = _HIDDEN.sub(" ", _COMMENT.sub(" ", markup))
    # Split on <pre> elements: odd pieces are inside one, where white space is kept.
    pieces = _PRE.split(markup)
    for index in range(0, len(pieces), 2):  # outside: line breaks and runs of space are one space
        pieces[index] = _SPACES.sub(" ", pieces[index].replace("\n", " "))
    text = html.unescape(_TAG.sub("", _BLOCK.sub("\n", "".join(pieces)))).replace("\xa0", " ")
    lines = (line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
