"""The one way tests build an email.

``message()`` builds a well-formed message with the standard library (``.as_bytes()`` or
:func:`wire` gives its bytes); ``handwritten()`` is the escape hatch for bytes that must be exactly
as written: broken or 8-bit headers, undeclared charsets, a MIME structure no mailer would make.
``part()`` and ``multipart()`` write the MIME entities a handwritten message carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.policy import SMTP, Policy, default

from tests.support.constants import FROM, SUBJECT, SUPPORT

Header = str | bytes | tuple[str, str]  # a whole line ("Name: value") or a (name, value) pair
HEAD: tuple[Header, ...] = (f"From: {FROM}", f"To: {SUPPORT}", f"Subject: {SUBJECT}")

# Header values set as plain strings go out exactly as written.
_WIRE_POLICY = SMTP.clone(refold_source="none")


@dataclass(frozen=True)
class Attachment:
    """A file ``message()`` attaches, base64-encoded as mailers do."""

    file_name: str | None
    data: bytes
    content_type: str = "application/pdf"
    disposition: str | None = None  # None: the standard library's choice, ``attachment``


def message(
    text: str | None = "Hello there",
    *,
    html: str | None = None,
    subject: str | None = SUBJECT,
    sender: str | None = FROM,
    to: str | None = SUPPORT,
    message_id: str | None = None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    attachments: Sequence[Attachment] = (),
    policy: Policy = default,
) -> EmailMessage:
    """A message from the customer to the Connect address: a text body, an HTML one or both
    (multipart/alternative), then ``attachments`` (multipart/mixed). A header given None is left
    out; ``headers`` are added after From, To, Subject and Message-ID, in order."""
    built = EmailMessage(policy=policy)
    for name, value in (("From", sender), ("To", to), ("Subject", subject), ("Message-ID", message_id)):
        if value is not None:
            built[name] = value
    for name, value in headers.items() if isinstance(headers, Mapping) else headers:
        built[name] = value
    if text is not None:
        built.set_content(text)
    if html is not None:
        if text is None:
            built.set_content(html, subtype="html")
        else:
            built.add_alternative(html, subtype="html")
    for attachment in attachments:
        maintype, subtype = attachment.content_type.split("/")
        built.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.file_name,
            disposition=attachment.disposition,
        )
    return built


def wire(built: Message) -> bytes:
    """The message as SMTP carries it (CRLF line ends, header values as they were set)."""
    return built.as_bytes(policy=_WIRE_POLICY)


class Entity(str):
    """A MIME entity written by hand: its header lines, a blank line, its body (CRLF line ends)."""


def part(content_type: str, body: str, *headers: str) -> Entity:
    """A single-part entity: Content-Type, then ``headers``, a blank line and ``body``."""
    return Entity("\r\n".join([f"Content-Type: {content_type}", *headers, "", body]))


def multipart(subtype: str, *parts: str, boundary: str = "b1") -> Entity:
    """A multipart/``subtype`` entity holding ``parts``, each one between its boundary lines."""
    inner = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts)
    return Entity(f"Content-Type: multipart/{subtype}; boundary={boundary}\r\n\r\n{inner}--{boundary}--\r\n")


def mime_head(subject: str = SUBJECT) -> tuple[Header, ...]:
    """The customer's header lines with ``subject`` and MIME-Version: the head of a MIME structure."""
    return (f"From: {FROM}", f"To: {SUPPORT}", f"Subject: {subject}", "MIME-Version: 1.0")


def handwritten(
    headers: Sequence[Header] | None = None,
    body: str | bytes | Entity = "Hello there",
    *,
    content_type: str | None = "text/plain; charset=utf-8",
    cte: str | None = "8bit",
) -> bytes:
    """A message byte for byte: the header lines, then (unless ``body`` is an :class:`Entity`,
    which brings its own) Content-Type and Content-Transfer-Encoding, each left out when None, a
    blank line and ``body``; CRLF line ends. Text is written as UTF-8 with surrogateescape, so that
    lone surrogates stand for raw bytes; ``bytes`` are written as they are. ``headers`` None: the
    customer's :data:`HEAD`, with MIME-Version before an entity (:func:`mime_head`)."""
    if headers is None:
        headers = mime_head() if isinstance(body, Entity) else HEAD
    lines: list[str | bytes] = [f"{h[0]}: {h[1]}" if isinstance(h, tuple) else h for h in headers]
    if isinstance(body, Entity):
        lines.append(body)
    else:
        lines += [f"Content-Type: {content_type}"] if content_type is not None else []
        lines += [f"Content-Transfer-Encoding: {cte}"] if cte is not None else []
        lines += ["", body]
    return b"\r\n".join(
        line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape") for line in lines
    )
