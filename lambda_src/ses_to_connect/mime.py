"""Raw MIME bytes in, a :class:`ParsedMessage` out: never raises on damaged mail.

The stdlib feed parser (``compat32`` policy, which never raises on header access) records
structural defects on each part; this module adds its own (unknown charsets, undecodable
headers, a missing body) to the same list and always returns something usable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email._policybase import Compat32
from email.errors import MessageError
from email.feedparser import BytesFeedParser
from email.message import Message
from email.parser import BytesHeaderParser
from typing import NamedTuple

from ses_to_connect import charsets
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
    U+FFFD; keeping the escapes lets :func:`decode_8bit` recover the text in its charset.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaderPolicy()


class Body(NamedTuple):
    """The body chosen for the contact, already decoded to text."""

    text: str
    content_type: str  # "text/html" or "text/plain"


@dataclass
class ParsedMessage:
    """What the conversion reads from a message: cleaned headers, the chosen body, its defects."""

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
    body_part: Message | None = field(repr=False)
    root: Message = field(repr=False)
    defects: Defects = field(default_factory=Defects)


def parse_message(raw: bytes | Iterable[bytes], prefer: str = "text/html") -> ParsedMessage:
    """Parse raw MIME (bytes, or chunks of it) and pick the body of type ``prefer`` if present.

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
        body, body_part = _find_body(message, prefer, defects)
    except RecursionError:
        defects.add("too_deeply_nested")
        message = BytesHeaderParser(policy=_POLICY).parsebytes(bytes(head))
        body, body_part = None, None

    hints = _declared_charsets(message)  # for raw 8-bit header bytes

    def text(name: str, limit: int | None = None) -> str:
        return header_text(message.get(name), defects, name.lower(), limit, hints)

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
        body_part=body_part,
        root=message,
        defects=defects,
    )


def render_forwarded(message: Message, defects: Defects) -> str:
    """A forwarded (message/rfc822) message as plain text: main headers, a blank line, its body."""
    lines = [
        f"{name}: {header_text(message.get(name), defects, name.lower())}"
        for name in ("From", "Date", "Subject", "To", "Cc")
        if message.get(name) is not None
    ]
    body, _ = _find_body(message, "text/plain", defects)
    text = body.text.replace("\r\n", "\n") if body else ""
    return "\n".join([*lines, "", text])


def _find_body(message: Message, prefer: str, defects: Defects) -> tuple[Body | None, Message | None]:
    """The preferred text part of the message itself, else of a forwarded message, else any text."""
    order = (prefer, *(t for t in BODY_TYPES if t != prefer))
    for parts in (
        _body_candidates(message, into_attached=False),
        _body_candidates(message, into_attached=True),
    ):
        candidates = list(parts)
        for wanted in order:
            for part in candidates:
                if part.get_content_type() == wanted:
                    body = _decode_text(part, defects)
                    if body:
                        return Body(body, wanted), part
    # Last resort: any text leaf, or a multipart whose boundary never appeared (its content
    # is then left as one undivided string).
    for part in message.walk():
        if part.get_content_maintype() in {"text", "multipart"} and not part.is_multipart():
            body = _decode_text(part, defects)
            if body:
                return Body(body, "text/plain"), part
    return None, None


def _body_candidates(part: Message, *, into_attached: bool) -> Iterator[Message]:
    """Leaf text parts that are not attachments, in document order."""
    if part.is_multipart():
        if part.get_content_type() == "message/rfc822" and not into_attached:
            return
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else []:
            if isinstance(child, Message):
                yield from _body_candidates(child, into_attached=into_attached)
    elif part.get_content_type() in BODY_TYPES and not is_attachment(part):
        yield part


def is_attachment(part: Message) -> bool:
    """Whether the part says ``Content-Disposition: attachment`` (a file, not a body)."""
    disposition = part.get("Content-Disposition")
    return disposition is not None and str(disposition).split(";")[0].strip().lower() == "attachment"


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
    """A text part's content in its declared charset, read as browsers read it (see
    :mod:`charsets`); undecodable bytes become U+FFFD, and every fallback is recorded."""
    data = decoded_payload(part, defects)
    if not data:
        return ""
    declared = _charset(part, defects)
    decoded = charsets.decode(data, declared)
    if declared is not None and (not decoded.clean or decoded.guessed):
        defects.add("charset_mismatch", declared)
    elif declared is None and decoded.guessed and part.get_param("charset") is None:
        defects.add("undeclared_8bit_body")
    if decoded.guessed:
        defects.add("charset_guessed", decoded.encoding)
    return without_lone_surrogates(decoded.text)


def _declared_charsets(message: Message) -> list[str]:
    """The usable charsets the message's parts declare, in order, each once."""
    found: dict[str, None] = {}
    for part in message.walk():
        raw = part.get_param("charset")
        if isinstance(raw, str):
            encoding = charsets.codec_for(raw.strip("\"'"))
            if encoding is not None:
                found[encoding] = None
    return list(found)


def _charset(part: Message, defects: Defects) -> str | None:
    """The encoding the part's charset parameter names; an unusable name is recorded."""
    raw = part.get_param("charset")
    if raw is None:
        return None
    value = decode_8bit(str(raw if isinstance(raw, str) else raw[2] or ""), defects, "content-type")
    name = value.strip().strip("\"'")
    encoding = charsets.codec_for(name)
    if encoding is None:
        defects.add("unknown_charset", clean_text(name.lower())[:40])
    return encoding
