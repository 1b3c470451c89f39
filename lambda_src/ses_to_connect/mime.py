"""Raw MIME bytes in, a :class:`ParsedMessage` out: never raises on damaged mail.

The stdlib feed parser (``compat32`` policy, which never raises on header access) records
structural defects on each part; this module adds its own (unknown charsets, undecodable
headers, a missing body) to the same list and always returns something usable. The body is
what a mail client shows of the message (:class:`_Walk`); every part it does not show is
returned as a file for the attachment rules.
"""

from __future__ import annotations

import binascii
import codecs
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email._policybase import Compat32
from email.errors import MessageError
from email.feedparser import BytesFeedParser
from email.message import Message
from email.parser import BytesHeaderParser
from functools import partial
from typing import NamedTuple

from ses_to_connect.headers import (
    clean_text,
    decode_8bit,
    header_text,
    parse_addresses,
    without_lone_surrogates,
)
from ses_to_connect.limits import MAX_SUBJECT
from ses_to_connect.model import Address, Defects

BODY_TYPES = ("text/html", "text/plain")
SHOWN_TEXT_TYPES = (*BODY_TYPES, "text/rfc822-headers")
# Reports whose fields the parser reads as blocks of headers; a client shows them as text.
REPORT_TYPES = frozenset(
    {"message/delivery-status", "message/disposition-notification", "message/feedback-report"}
)
TEXT_SEPARATOR = "\n\n----\n\n"  # between the parts of a text body
HTML_SEPARATOR = "\n<hr>\n"  # between the parts of an HTML body
HEADER_BYTES = 256 * 1024  # kept while parsing, to recover the headers of an unparsable structure
# Headers the loop guards and verdict fallback read; kept decoded, lower-cased names.
GUARD_HEADERS = (
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "x-ses-spam-verdict",
    "x-ses-virus-verdict",
)


class _RawHeaderPolicy(Compat32):
    """compat32, except that header values come back as parsed, 8-bit bytes still escaped.

    compat32 wraps 8-bit values in a ``Header`` whose ``str()`` turns every such byte into
    U+FFFD; keeping the escapes lets :func:`decode_8bit` recover UTF-8 or cp1252 text.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaderPolicy()


class Body(NamedTuple):
    """The body of the contact (or one piece of it), already decoded to text."""

    text: str
    content_type: str  # "text/html" or "text/plain"


@dataclass
class ParsedMessage:
    """What the conversion reads from a message: cleaned headers, the body, the other parts, defects.

    ``files`` are the parts the body does not show, in document order: the attachment
    candidates (forwarded messages whole, each followed by its own files).
    """

    subject: str
    from_: list[Address]
    reply_to: list[Address]
    to: list[Address]
    cc: list[Address]
    message_id: str
    in_reply_to: str
    references: str
    content_type: str
    headers: dict[str, str]  # the GUARD_HEADERS present, first occurrence, cleaned
    body: Body | None
    files: list[Message] = field(repr=False)
    root: Message = field(repr=False)
    defects: Defects = field(default_factory=Defects)


def parse_message(raw: bytes | Iterable[bytes], prefer: str = "text/html") -> ParsedMessage:
    """Parse raw MIME (bytes, or chunks of it); the body is in type ``prefer`` where there is a choice.

    The stdlib parser recurses once per nesting level: a few thousand nested parts (a 60 kB
    message) exhaust the stack. Such a message keeps its headers, is recorded as
    ``too_deeply_nested`` and gets no body or attachments; the raw message stays referenced.
    """
    head = bytearray()  # the first bytes, to recover the headers if the structure defeats the parser
    defects = Defects()
    try:
        parser = BytesFeedParser(policy=_POLICY)
        for chunk in [raw] if isinstance(raw, bytes) else raw:
            if len(head) < HEADER_BYTES:
                head += chunk[: HEADER_BYTES - len(head)]
            parser.feed(chunk)
        message = parser.close()
        for part in message.walk():
            for defect in part.defects:
                defects.add(type(defect).__name__)
        files: list[Message] = []
        body = _render(message, prefer, defects, files)
    except RecursionError:
        defects.add("too_deeply_nested")
        message = BytesHeaderParser(policy=_POLICY).parsebytes(bytes(head))
        body, files = None, []

    def text(name: str, limit: int | None = None) -> str:
        return header_text(message.get(name), defects, name.lower(), limit)

    def addresses(name: str) -> list[Address]:
        return parse_addresses(message.get_all(name, []), defects, name.lower())

    return ParsedMessage(
        # Encoded words take at most ~12 raw characters per decoded one; past that, waste.
        subject=text("Subject", limit=12 * MAX_SUBJECT),
        from_=addresses("From"),
        reply_to=addresses("Reply-To"),
        to=addresses("To"),
        cc=addresses("Cc"),
        message_id=text("Message-ID"),
        in_reply_to=text("In-Reply-To"),
        references=text("References"),
        content_type=message.get_content_type(),
        headers={name: text(name) for name in GUARD_HEADERS if message.get(name) is not None},
        body=body,
        files=files,
        root=message,
        defects=defects,
    )


def render_forwarded(message: Message, defects: Defects) -> str:
    """A forwarded message as plain text: main headers, a blank line, the text a client shows."""
    lines = [
        f"{name}: {header_text(message.get(name), defects, name.lower())}"
        for name in ("From", "Date", "Subject", "To", "Cc")
        if message.get(name) is not None
    ]
    body = _render(message, "text/plain", defects, files=None)
    text = body.text if body else ""
    if body and body.content_type == "text/html":
        text = _html_as_text(text)
    return "\n".join([*lines, "", text.replace("\r\n", "\n")])


def is_attachment(part: Message) -> bool:
    """Whether the part says ``Content-Disposition: attachment`` (a file, not a body)."""
    disposition = part.get("Content-Disposition")
    return disposition is not None and str(disposition).split(";")[0].strip().lower() == "attachment"


def is_forwarded(part: Message) -> bool:
    """A message inside the message (message/rfc822, message/news...), parsed, not a report."""
    return (
        part.get_content_maintype() == "message"
        and part.get_content_type() not in REPORT_TYPES
        and part.is_multipart()
    )


def _render(message: Message, prefer: str, defects: Defects, files: list[Message] | None) -> Body | None:
    """What a mail client shows of ``message``; every part it does not show is added to ``files``.

    Forwarded messages are files (sent as .txt); only when the message shows no text of its own
    is the text of the first forwarded message that has some shown instead (still a file too).
    """
    walk = _Walk(prefer, defects, files)
    shown = _read(walk.pieces(message))
    if shown:
        return _compose(shown, prefer)
    for forwarded in walk.forwarded:
        for inner in _children(forwarded):
            body = _render(inner, prefer, defects, files=None)
            if body is not None:
                return body
    return None


class _Walk:
    """One pass over a part tree, in document order, as a client reads it.

    ``multipart/alternative`` shows one child: the last (RFC 2046: the most faithful) of the
    preferred type, else the last with text; the text of the others stands for the same content.
    Every other multipart (mixed, related, digest, signed, unknown subtypes) shows its children
    one after another (RFC 2046 5.1.7). A text/plain or text/html part is shown unless its
    disposition is ``attachment`` (a file the sender attached, kept as one under its name; an
    inline part is shown even when it has a name, as clients do). Delivery and read reports are
    shown as text, and so is a multipart whose boundary never appears (the parser could not
    split it: a client shows its raw text). Everything else goes to ``files``: forwarded
    messages whole, each followed by its own files (its text is in its .txt). With ``files``
    None, nothing is collected.
    """

    def __init__(self, prefer: str, defects: Defects, files: list[Message] | None) -> None:
        self.prefer = prefer
        self.defects = defects
        self.files = files
        self.forwarded: list[Message] = []

    def pieces(self, part: Message) -> list[_Piece]:
        content_type = part.get_content_type()
        if content_type in REPORT_TYPES:
            return [_Piece("text/plain", partial(_report_text, part, self.defects))]
        if is_forwarded(part):
            _decode_forwarded(part, self.defects)
            self._file(part)
            self.forwarded.append(part)
            if self.files is not None:
                for inner in _children(part):
                    self._files_of(inner)
            return []
        if part.is_multipart():
            options = [self.pieces(child) for child in _children(part)]
            if content_type == "multipart/alternative":
                return _choose(options, self.prefer)
            return [piece for option in options for piece in option]
        if _is_shown_text(part):
            shown_as = content_type if content_type in BODY_TYPES else "text/plain"
            return [_Piece(shown_as, partial(_decode_text, part, self.defects))]
        self._file(part)
        return []

    def _files_of(self, part: Message) -> None:
        """The files of a forwarded message, without decoding the text its .txt shows."""
        if is_forwarded(part):
            self.pieces(part)
        elif part.is_multipart():
            for child in _children(part):
                self._files_of(child)
        elif not _is_shown_text(part):
            self._file(part)

    def _file(self, part: Message) -> None:
        if self.files is not None:
            self.files.append(part)


def _decode_forwarded(part: Message, defects: Defects) -> None:
    """Parse a forwarded message sent in base64 again, from its decoded bytes.

    RFC 2046 forbids base64 for message/rfc822, mailers use it anyway; the parser then reads
    the encoded text as a message without headers, and its .txt would show base64. Recorded
    when repaired. (Quoted-printable stays as parsed: its headers read correctly, only ``=XX``
    escapes show in the text.)
    """
    inner = _children(part)
    if str(part.get("Content-Transfer-Encoding", "")).strip().lower() != "base64" or len(inner) != 1:
        return
    encoded = inner[0].get_payload()
    if inner[0].keys() or not isinstance(encoded, str):
        return
    try:
        data = binascii.a2b_base64(encoded.encode("ascii"))
    except (UnicodeError, binascii.Error, ValueError):
        defects.add("undecodable_part")
        return
    parser = BytesFeedParser(policy=_POLICY)
    parser.feed(data)
    message = parser.close()
    for found in message.walk():
        for defect in found.defects:
            defects.add(type(defect).__name__)
    part.set_payload([message])
    del part["Content-Transfer-Encoding"]
    defects.add("encoded_forwarded_message", "base64")


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [child for child in payload if isinstance(child, Message)] if isinstance(payload, list) else []


def _is_shown_text(part: Message) -> bool:
    """A leaf a client shows as text: see :class:`_Walk`."""
    if part.get_content_maintype() == "multipart":  # a leaf only when its boundary never appeared
        return True
    return part.get_content_type() in SHOWN_TEXT_TYPES and not is_attachment(part)


class _Piece(NamedTuple):
    """A part to show, decoded only when it is shown: of an alternative's children, one is."""

    content_type: str  # "text/html" or "text/plain"
    read: Callable[[], str]


def _read(pieces: list[_Piece]) -> list[Body]:
    """The pieces' text; a piece that is only white space shows nothing."""
    bodies = [Body(piece.read(), piece.content_type) for piece in pieces]
    return [body for body in bodies if body.text.strip()]


def _choose(options: list[list[_Piece]], prefer: str) -> list[_Piece]:
    """The alternative a client shows: the last of the preferred type with text, else the last
    with text. Only the alternatives tried are decoded."""
    latest_first = [option for option in reversed(options) if option]
    ranked = sorted(latest_first, key=lambda option: _type_of(option) != prefer)  # stable
    for option in ranked:
        shown = _read(option)
        if shown:
            return [_Piece(body.content_type, partial(str, body.text)) for body in shown]
    return []


def _type_of(pieces: list[Body] | list[_Piece]) -> str:
    return "text/html" if any(piece.content_type == "text/html" for piece in pieces) else "text/plain"


def _compose(pieces: list[Body], prefer: str) -> Body | None:
    """One body from the pieces shown, in order, in the preferred type when there is a choice.

    HTML when preferred and present (text pieces escaped, their line breaks kept), or when
    everything is HTML; else text (HTML pieces rendered as text). A rule separates the pieces.
    """
    if len(pieces) <= 1:
        return pieces[0] if pieces else None
    pieces = [Body(piece.text.strip("\r\n"), piece.content_type) for piece in pieces]
    html = [piece.content_type == "text/html" for piece in pieces]
    if all(html) or (any(html) and prefer == "text/html"):
        shown = (p.text if p.content_type == "text/html" else _text_as_html(p.text) for p in pieces)
        return Body(HTML_SEPARATOR.join(shown), "text/html")
    shown = (p.text if p.content_type == "text/plain" else _html_as_text(p.text) for p in pieces)
    return Body(TEXT_SEPARATOR.join(shown), "text/plain")


def _text_as_html(text: str) -> str:
    """Plain text inside an HTML body: escaped, each line break kept as ``<br>``."""
    import html  # noqa: PLC0415 (only messages that mix text and HTML parts need it)

    return "<div>" + html.escape(text.replace("\r\n", "\n")).replace("\n", "<br>\n") + "</div>"


def _html_as_text(html: str) -> str:
    from ses_to_connect.html_text import html_to_text  # noqa: PLC0415 (only text bodies with HTML parts)

    return html_to_text(html)


def _report_text(part: Message, defects: Defects) -> str:
    """A delivery or read report: its blocks of fields (parsed as headers) and any text, as text."""
    if not part.is_multipart():
        return _decode_text(part, defects)
    lines: list[str] = []
    for block in _children(part):
        lines += [f"{name}: {header_text(value, defects, 'report')}" for name, value in block.items()]
        text = _decode_text(block, defects) if isinstance(block.get_payload(), str) else ""
        lines += [text.strip(), ""] if text.strip() else [""]
    return "\n".join(lines).strip()


def decoded_payload(part: Message, defects: Defects) -> bytes:
    """A leaf part's content with its transfer encoding undone; never raises.

    The stdlib decoder raises on a few damaged inputs (a charset parameter it cannot use on
    8-bit content, say); the raw content is then the best there is, and it is recorded.
    """
    try:
        data = part.get_payload(decode=True)
    except (ValueError, LookupError, UnicodeError, TypeError, MessageError):
        defects.add("undecodable_part")
        return b""  # the raw message, referenced from the contact, still has it
    return data if isinstance(data, bytes) else b""


def _decode_text(part: Message, defects: Defects) -> str:
    """A text part's content in its declared charset; wrong or unknown charsets fall back."""
    data = decoded_payload(part, defects)
    if not data:
        return ""
    declared = _charset(part, defects)
    if declared:
        try:
            return without_lone_surrogates(data.decode(declared))
        except UnicodeError:  # undecodable, or a codec (idna, "undefined") that is no charset
            defects.add("charset_mismatch", declared[:40])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if not declared:
            defects.add("undeclared_8bit_body")
        return data.decode("cp1252", "replace")


def _charset(part: Message, defects: Defects) -> str | None:
    raw = part.get_param("charset")
    if raw is None:
        return None
    value = decode_8bit(str(raw if isinstance(raw, str) else raw[2] or ""), defects, "content-type")
    name = value.strip().strip("\"'").lower()
    try:
        # Only text codecs: "base64" or "rot13" are codecs too, but not charsets.
        if not codecs.lookup(name)._is_text_encoding:
            raise LookupError(name)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        defects.add("unknown_charset", clean_text(name)[:40])
        return None
    return name
