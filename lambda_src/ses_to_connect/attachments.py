"""Which parts of a message become Connect attachments, under which names, and why not.

Connect accepts at most 10 attachments per contact, each at most 20 MB, with one of 18
extensions. Everything else is *skipped with a reason* (listed in the contact's attributes and
the log), never silently dropped; the raw message stays in S3 and is referenced from the
contact. Candidates are found here without decoding any payload: decoding happens one part
at a time as each is uploaded (:meth:`Candidate.payload`), each decoded copy taking the place
of its larger encoded text, and uploads overlap only within a byte budget, so memory stays
within the parsed message plus one maximum-size file.
"""

from __future__ import annotations

import binascii
import contextlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from email.errors import MessageError
from email.message import Message
from enum import StrEnum
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from ses_to_connect.headers import clean_text, decode_words, header_text, message_ids
from ses_to_connect.limits import (
    ALLOWED_ATTACHMENT_EXTENSIONS,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_FILE_NAME,
    MAX_S3_URL,
)
from ses_to_connect.mime import decoded_payload, is_attachment, is_forwarded, render_forwarded
from ses_to_connect.model import DefectKind, Defects

if TYPE_CHECKING:
    from ses_to_connect.ports import AttachmentSink

# Extensions Connect accepts, by content type, for parts whose name has none.
EXTENSION_BY_TYPE = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/png": ".png",
    "image/heic": ".heic",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "text/rtf": ".rtf",
    "application/rtf": ".rtf",
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "video/quicktime": ".mov",
    "video/mp4": ".mp4",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
}
TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_CID_REFERENCE = re.compile(r"""cid:([^"'\s)>]+)""", re.IGNORECASE)


class Skip(StrEnum):
    """Why an attachment was not sent; stable identifiers used in attributes and metrics."""

    TYPE_NOT_ALLOWED = "type_not_allowed"
    TOO_LARGE = "too_large"
    TOO_MANY = "too_many"
    EMPTY = "empty"
    TNEF_UNREADABLE = "tnef_unreadable"
    TNEF_EMPTY = "tnef_empty"  # a winmail.dat holding only a body (its text is in the raw message)
    REJECTED_BY_CONNECT = "rejected_by_connect"  # with Connect's reason: "rejected_by_connect:<reason>"
    URL_TOO_LONG = "url_too_long"
    SMALL_INLINE_IMAGE = "small_inline_image"  # signature decoration under inlineImageMinBytes


class Candidate(NamedTuple):
    """One part that may be sent, with its cleaned file name.

    ``size`` is the decoded size, counted without decoding (so an oversized file is skipped
    without ever being decoded; damaged base64 may decode to more). ``payload()`` decodes it
    at the first call and lets go of the encoded copy in the parsed message; every call
    returns the same bytes.
    """

    file_name: str
    content_type: str
    inline: bool  # an image the HTML body shows by cid:, sent after explicit attachments
    size: int
    payload: Callable[[], bytes]
    content_id: str = ""  # of an inline image, as the HTML body names it after ``cid:``


class Skipped(NamedTuple):
    """A part that was not sent, and why: a :class:`Skip`, or ``rejected_by_connect:<Connect's reason>``."""

    file_name: str
    reason: str


def find_candidates(
    files: Iterable[Message],
    body_html: str | None,
    defects: Defects,
    inline_found: dict[str, tuple[str, bool]] | None = None,
) -> tuple[list[Candidate], list[Skipped]]:
    """The parts the body does not show, as attachments in sending order (explicit first, then
    inline images), and early skips. ``inline_found`` receives each inline image's file name by
    content id, sent or skipped, and whether its part is marked ``attachment``."""
    referenced = {cid.strip("<>") for cid in _CID_REFERENCE.findall(body_html or "")}
    explicit: list[Candidate] = []
    inline: list[Candidate] = []
    skipped: list[Skipped] = []
    for part in files:
        content_type = part.get_content_type()
        name = _file_name(part, content_type, defects)
        if content_type in TNEF_TYPES or name.lower() == "winmail.dat":
            unpacked = _unpack_tnef(part, defects)
            if not unpacked:
                skipped.append(Skipped(name, Skip.TNEF_UNREADABLE if unpacked is None else Skip.TNEF_EMPTY))
            found = unpacked or []
        elif is_forwarded(part):
            found = [_forwarded(part, name, defects)]
        else:
            content_id = next(iter(message_ids(str(part.get("Content-ID", "")))), "").strip("<>")
            is_inline = content_type.startswith("image/") and content_id in referenced
            if is_inline and inline_found is not None:
                inline_found.setdefault(content_id, (name, is_attachment(part)))
            size = _decoded_size(part, defects)
            shown_id = content_id if is_inline else ""
            found = [Candidate(name, content_type, is_inline, size, _decoder(part), shown_id)]
        for candidate in found:
            if PurePosixPath(candidate.file_name.lower()).suffix not in ALLOWED_ATTACHMENT_EXTENSIONS:
                skipped.append(Skipped(candidate.file_name, Skip.TYPE_NOT_ALLOWED))
            else:
                (inline if candidate.inline else explicit).append(candidate)
    return explicit + inline, skipped


def send(
    candidates: Sequence[Candidate], sink: AttachmentSink, key_prefix: str
) -> tuple[list[dict[str, str]], list[Skipped]]:
    """Decode candidates in order and store them in ``sink``, within Connect's limits.

    Decoding stays on this thread, one file at a time, and waits until the sink has room for
    the file (:meth:`~ses_to_connect.ports.Uploads.make_room`), so a sink that stores several
    at once still never holds more decoded files than it allows. Each URL is known when its
    store is made, so names, keys, skips and the 10-file limit do not depend on how the sink
    overlaps its stores. After a failed store, files already handed over are still stored (a
    retry overwrites them, the keys being stable) and the first failure is raised.

    Keys are ``key_prefix`` + position + extension: short (the pre-signed URL must stay under
    2,000 characters) and stable, so a retry overwrites rather than duplicates.
    """
    sent: list[dict[str, str]] = []
    skipped: list[Skipped] = []
    names = _UniqueNames()
    with sink.uploads() as uploads:
        for index, candidate in enumerate(candidates):
            if len(sent) == MAX_ATTACHMENTS:
                skipped.append(Skipped(candidate.file_name, Skip.TOO_MANY))
                continue
            if candidate.size > MAX_ATTACHMENT_BYTES:
                skipped.append(Skipped(candidate.file_name, Skip.TOO_LARGE))
                continue
            uploads.make_room(candidate.size)
            data = candidate.payload()
            uploads.make_room(len(data))  # the size was estimated
            if not data:
                skipped.append(Skipped(candidate.file_name, Skip.EMPTY))
            elif len(data) > MAX_ATTACHMENT_BYTES:
                skipped.append(Skipped(candidate.file_name, Skip.TOO_LARGE))
            else:
                suffix = PurePosixPath(candidate.file_name.lower()).suffix
                url = uploads.store(f"{key_prefix}{index:02d}{suffix}", candidate, data)  # see stored_index
                if len(url) > MAX_S3_URL:
                    skipped.append(Skipped(candidate.file_name, Skip.URL_TOO_LONG))
                else:
                    sent.append({"FileName": names.take(candidate.file_name), "S3Url": url})
            del data  # the sink holds it until its store finishes
    return sent, skipped


def stored_index(url: str) -> int | None:
    """The position in the candidates of the file behind ``url`` (its key's last segment is the
    position and the extension: see :func:`send`), or None for a URL of another form."""
    from urllib.parse import unquote, urlsplit  # noqa: PLC0415 (messages with inline images only)

    match = re.match(r"(\d+)(?:\.|$)", unquote(urlsplit(url).path).rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None


def _file_name(part: Message, content_type: str, defects: Defects) -> str:
    """The sender's file name, decoded and made safe; an extension is added from the type."""
    raw = part.get_filename() or part.get_param("name")
    text = raw if isinstance(raw, str) else (raw[2] if isinstance(raw, tuple) else "")
    name = clean_text(decode_words(text, defects, "filename"))
    name = re.split(r"[\\/]", name)[-1].strip(" .") or "attachment"
    suffix = PurePosixPath(name).suffix.lower()
    if (
        suffix not in ALLOWED_ATTACHMENT_EXTENSIONS
        and content_type in EXTENSION_BY_TYPE
        and (not suffix or len(suffix) > 5)
    ):
        name += EXTENSION_BY_TYPE[content_type]
    return _shorten(name, MAX_FILE_NAME)


def visible_name(name: str) -> str:
    """``name`` without the Unicode "other" characters Connect refuses in a file name: format
    characters (U+202E, a right-to-left override, makes a name show its letters reversed),
    private-use and unassigned ones. Controls are already spaces (``clean_text``). Applied where
    requests are built, so that a delivery recorded before names were cleaned is cleaned too."""
    return "".join(c for c in name if not unicodedata.category(c).startswith("C"))


def _shorten(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    suffix = PurePosixPath(name).suffix
    suffix = suffix if len(suffix) <= 10 else ""
    return name[: limit - len(suffix)] + suffix


class _UniqueNames:
    """Connect shows attachments by name: two ``scan.pdf`` become ``scan.pdf`` and ``scan (2).pdf``."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, name: str) -> str:
        candidate, number = name, 1
        while candidate.lower() in self._taken:
            number += 1
            path = PurePosixPath(name)
            tag = f" ({number})"
            candidate = _shorten(path.stem, MAX_FILE_NAME - len(tag) - len(path.suffix)) + tag + path.suffix
        self._taken.add(candidate.lower())
        return candidate


def _is_base64(part: Message) -> bool:
    return str(part.get("Content-Transfer-Encoding", "")).strip().lower() == "base64"


def _base64_text(part: Message) -> str | None:
    """A base64 part's encoded text as parsed, or None (not base64, or the stdlib refuses it)."""
    if not _is_base64(part):
        return None
    try:
        payload = part.get_payload()
    except (ValueError, LookupError, UnicodeError, TypeError, MessageError):  # hostile parameters
        return None
    return payload if isinstance(payload, str) else None


def _decoded_size(part: Message, defects: Defects) -> int:
    """The decoded size of a part; for base64, counted on its encoded text without decoding."""
    encoded = _base64_text(part)
    if encoded is None:
        return len(decoded_payload(part, defects))  # 8-bit, binary, quoted-printable: small in practice
    significant = len(encoded) - sum(encoded.count(c) for c in "\r\n\t =")
    return significant * 3 // 4


def _decoder(part: Message) -> Callable[[], bytes]:
    """``payload()``: the part's content, decoded at the first call, which also lets go of the
    encoded copy in the parsed message (nothing reads it again); later calls return the same bytes."""
    decoded: bytes | None = None

    def payload() -> bytes:
        nonlocal decoded
        if decoded is None:
            decoded = _decode(part)
            part.set_payload("")
        return decoded

    return payload


def _decode(part: Message) -> bytes:
    encoded = _base64_text(part)
    if encoded is not None:
        # One copy, straight from the parsed text (the stdlib's decode=True splits and joins
        # lines first: several copies of a large file at once). Damaged base64 raises here
        # and goes to the stdlib's lenient decoder below, which recovers what it can.
        with contextlib.suppress(binascii.Error, ValueError):
            return binascii.a2b_base64(encoded)
    # Finds no defect that planning did not record: _decoded_size ran this decoder on every
    # part but readable base64 text, on which it does not fail.
    return decoded_payload(part, Defects())


def _constant(content: bytes) -> Callable[[], bytes]:
    return lambda: content


def _forwarded(part: Message, name: str, defects: Defects) -> Candidate:
    """A forwarded message as readable text, named after its subject unless the sender named it."""
    inner = part.get_payload()
    message = inner[0] if isinstance(inner, list) and inner and isinstance(inner[0], Message) else part
    if name == "attachment":
        subject = header_text(message.get("Subject"), defects, "forwarded-subject")
        stem = re.sub(r"[\\/:*?\"<>|]", "_", subject)[:200] or "forwarded-message"
    else:
        stem = PurePosixPath(name).stem  # "message.eml" -> "message.txt"
    file_name = _shorten(stem + ".txt", MAX_FILE_NAME)
    text = render_forwarded(message, defects).encode()
    return Candidate(file_name, "text/plain", False, len(text), _constant(text))


def _unpack_tnef(part: Message, defects: Defects) -> list[Candidate] | None:
    """Outlook's winmail.dat: its attachments, unpacked with tnefparse; None if unreadable."""
    try:
        from tnefparse import TNEF  # noqa: PLC0415 (only Outlook mail needs it)
    except ImportError:
        defects.add(DefectKind.TNEF_UNSUPPORTED)
        return None
    data = decoded_payload(part, defects)
    try:
        tnef = TNEF(data)
        files = [(str(a.long_filename() or a.name or "attachment"), bytes(a.data)) for a in tnef.attachments]
    except Exception:  # noqa: BLE001 (tnefparse raises anything on damaged input)
        defects.add(DefectKind.TNEF_UNREADABLE)
        return None
    candidates = []
    for file_name, content in files:
        name = _shorten(clean_text(re.split(r"[\\/]", file_name)[-1]) or "attachment", MAX_FILE_NAME)
        candidates.append(
            Candidate(name, "application/octet-stream", False, len(content), _constant(content))
        )
    return candidates
