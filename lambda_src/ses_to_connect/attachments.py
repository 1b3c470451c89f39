"""Which parts of a message become Connect attachments, under which names, and why not.

Connect accepts at most 10 attachments per contact; the instance's own configuration decides
the extensions and the largest size (by default 18 extensions and 20 MB; the settings
``attachment_extensions`` and ``attachment_max_bytes`` follow it). Everything else is
*skipped with a reason* (listed in the contact's attributes and the log), never silently
dropped; the raw message stays in S3 and is referenced from the contact. Candidates are found
here without decoding any payload: decoding happens one part at a time as each is uploaded
(:meth:`Candidate.payload`), each decoded copy taking the place of its larger encoded text, and
uploads overlap only within a byte budget, so memory stays within the parsed message plus one
maximum-size file.
"""

from __future__ import annotations

import binascii
import contextlib
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from email.errors import MessageError
from email.message import Message
from email.utils import collapse_rfc2231_value
from enum import StrEnum
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from ses_to_connect import tnef
from ses_to_connect.file_types import content_agrees, declared_type_agrees, stored_type
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
    TYPE_MISMATCH = "type_mismatch"  # the content or the declared type is not what the extension says
    NAME_CONFLICT = "name_conflict"  # the part's file names (filename, filename*, name) differ in extension
    SMALL_INLINE_IMAGE = "small_inline_image"  # signature decoration under inlineImageMinBytes


class Candidate(NamedTuple):
    """One part that may be sent, with its cleaned file name.

    ``size`` is the decoded size, counted without decoding (so an oversized file is skipped
    without ever being decoded; damaged base64 may decode to more). ``payload()`` decodes it
    at the first call and lets go of the encoded copy in the parsed message; every call
    returns the same bytes. Once accepted (:func:`find_candidates`), ``content_type`` is the type
    its extension stands for (:data:`~ses_to_connect.file_types.STORED_TYPE`), never the sender's:
    the object is stored with it and its pre-signed URL serves it.
    """

    file_name: str
    content_type: str
    inline: bool  # an image the HTML body shows by cid:, sent after explicit attachments
    size: int
    payload: Callable[[], bytes]
    content_id: str = ""  # of an inline image, as the HTML body names it after ``cid:``
    rendered: bool = False  # the bridge's own text (a forwarded message), not the sender's bytes


class Skipped(NamedTuple):
    """A part that was not sent, and why: a :class:`Skip`, or ``rejected_by_connect:<Connect's reason>``."""

    file_name: str
    reason: str


def find_candidates(
    files: Iterable[Message],
    body_html: str | None,
    defects: Defects,
    extensions: Collection[str] = ALLOWED_ATTACHMENT_EXTENSIONS,
    inline_found: dict[str, tuple[str, bool]] | None = None,
) -> tuple[list[Candidate], list[Skipped]]:
    """The parts the body does not show, as attachments in sending order (explicit first, then
    inline images), and early skips; ``extensions`` (lowercase, with the dot) are the instance's.
    ``inline_found`` receives each inline image's file name by content id, sent or skipped, and
    whether its part is marked ``attachment``."""
    referenced = {cid.strip("<>") for cid in _CID_REFERENCE.findall(body_html or "")}
    explicit: list[Candidate] = []
    inline: list[Candidate] = []
    skipped: list[Skipped] = []
    for part in files:
        content_type = part.get_content_type()
        name = _file_name(part, content_type, defects, extensions)
        declared = None  # the sender's type of the file found, when it is the part itself
        if not is_forwarded(part) and _names_conflict(part, defects):
            skipped.append(Skipped(name, Skip.NAME_CONFLICT))
            continue
        if tnef.is_winmail(content_type, name):
            unpacked = _unpack_tnef(part, defects)
            if not unpacked:
                skipped.append(Skipped(name, Skip.TNEF_UNREADABLE if unpacked is None else Skip.TNEF_EMPTY))
            found = unpacked or []
        elif is_forwarded(part):
            found = [_forwarded(part, name, defects)]
        else:
            content_id = next(iter(message_ids(str(part.get("Content-ID", "")))), "").strip("<>")
            is_inline = content_type.startswith("image/") and content_id in referenced
            declared = _declared_type(part)
            if is_inline and inline_found is not None:
                inline_found.setdefault(content_id, (name, is_attachment(part)))
            size = _decoded_size(part, defects)
            shown_id = content_id if is_inline else ""
            found = [Candidate(name, content_type, is_inline, size, _decoder(part), shown_id)]
        for candidate in found:
            suffix = PurePosixPath(candidate.file_name.lower()).suffix
            if suffix not in extensions:
                skipped.append(Skipped(candidate.file_name, Skip.TYPE_NOT_ALLOWED))
            elif not declared_type_agrees(declared):
                skipped.append(Skipped(candidate.file_name, Skip.TYPE_MISMATCH))
            else:
                accepted = candidate._replace(content_type=stored_type(suffix))
                (inline if candidate.inline else explicit).append(accepted)
    return explicit + inline, skipped


def store_attachments(
    candidates: Sequence[Candidate],
    sink: AttachmentSink,
    key_prefix: str,
    max_bytes: int = MAX_ATTACHMENT_BYTES,
) -> tuple[list[dict[str, str]], list[Skipped]]:
    """Decode candidates in order and store them in ``sink``, within Connect's limits.

    Decoding stays on this thread, one file at a time, and waits until the sink has room for
    the file (:meth:`~ses_to_connect.ports.Uploads.make_room`), so a sink that stores several
    at once still never holds more decoded files than it allows. Each URL is known when its
    store is made, so names, keys, skips and the 10-file limit do not depend on how the sink
    overlaps its stores. After a failed store, files already handed over are still stored (a
    retry overwrites them, the keys being stable) and the first failure is raised.

    Keys are ``key_prefix`` + position + extension: short (the pre-signed URL must stay under
    2,000 characters) and stable, so a retry overwrites rather than duplicates. A file whose
    content is not of the kind its extension names is skipped (``type_mismatch``), unless the
    bridge rendered it itself.
    """
    sent: list[dict[str, str]] = []
    skipped: list[Skipped] = []
    names = _UniqueNames()
    with sink.uploads() as uploads:
        for index, candidate in enumerate(candidates):
            if len(sent) == MAX_ATTACHMENTS:
                skipped.append(Skipped(candidate.file_name, Skip.TOO_MANY))
                continue
            if candidate.size > max_bytes:
                skipped.append(Skipped(candidate.file_name, Skip.TOO_LARGE))
                continue
            uploads.make_room(candidate.size)
            data = candidate.payload()
            uploads.make_room(len(data))  # the size was estimated
            suffix = PurePosixPath(candidate.file_name.lower()).suffix
            if not data:
                skipped.append(Skipped(candidate.file_name, Skip.EMPTY))
            elif len(data) > max_bytes:
                skipped.append(Skipped(candidate.file_name, Skip.TOO_LARGE))
            elif not candidate.rendered and not content_agrees(suffix, data):
                skipped.append(Skipped(candidate.file_name, Skip.TYPE_MISMATCH))
            else:
                url = uploads.store(f"{key_prefix}{index:02d}{suffix}", candidate, data)  # see stored_index
                if len(url) > MAX_S3_URL:
                    skipped.append(Skipped(candidate.file_name, Skip.URL_TOO_LONG))
                else:
                    sent.append({"FileName": names.take(candidate.file_name), "S3Url": url})
            del data  # the sink holds it until its store finishes
    return sent, skipped


def stored_index(url: str) -> int | None:
    """The position in the candidates of the file behind ``url`` (its key's last segment is the
    position and the extension: see :func:`store_attachments`), or None for a URL of another form."""
    from urllib.parse import unquote, urlsplit  # noqa: PLC0415 (messages with inline images only)

    match = re.match(r"(\d+)(?:\.|$)", unquote(urlsplit(url).path).rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None


def _file_name(part: Message, content_type: str, defects: Defects, extensions: Collection[str]) -> str:
    """The sender's file name, decoded and made safe; an extension is added from the type.

    Of several names the stdlib's choice is kept (as ``get_filename``, which raises on some RFC 2231
    charsets): the first ``filename`` parameter, plain or RFC 2231, then ``name``;
    :func:`_names_conflict` refuses the part when the others say otherwise.
    """
    raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
    name = _clean_name(raw, defects) or "attachment"
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in extensions and content_type in EXTENSION_BY_TYPE and (not suffix or len(suffix) > 5):
        name += EXTENSION_BY_TYPE[content_type]
    return _shorten(name, MAX_FILE_NAME)


def _clean_name(raw: str | tuple[str | None, str | None, str] | None, defects: Defects) -> str:
    """One name parameter as text (RFC 2231 and 2047 decoded), without control characters and path.

    An RFC 2231 charset whose codec takes no error handler (``idna``) or refuses everything
    (``undefined``) makes the stdlib raise: the name is then read as written, and recorded.
    """
    try:
        text = collapse_rfc2231_value(raw).strip() if raw is not None else ""
    except UnicodeError:
        defects.add(DefectKind.UNDECODABLE_HEADER, "filename")
        text = raw[2] if isinstance(raw, tuple) else str(raw)
    name = clean_text(decode_words(text, defects, "filename"))
    return re.split(r"[\\/]", name)[-1].strip(" .")


def _names_conflict(part: Message, defects: Defects) -> bool:
    """Whether the part's file names (Content-Disposition ``filename`` and ``filename*``,
    Content-Type ``name`` and ``name*``) carry different extensions.

    Clients do not agree which name wins (the stdlib takes the first, plain or not; RFC 2231
    mail clients prefer ``filename*``), so ``filename="safe.pdf"; filename*=UTF-8''evil.exe``
    would be a PDF here and a program elsewhere. Names that differ only before the extension
    are common in real mail (a name decoded in another charset, a shortened one) and harmless:
    the content is checked against the extension either way.
    """
    names = [
        value
        for header, key in (("content-disposition", "filename"), ("content-type", "name"))
        for param, value in part.get_params([], header=header)
        if param.lower() == key
    ]
    if len(set(map(repr, names))) < 2:  # one name, or the same one twice: nothing to decode
        return False
    suffixes = {PurePosixPath(_clean_name(value, defects).lower()).suffix for value in names}
    return len(suffixes - {""}) > 1


def _declared_type(part: Message) -> str | None:
    """The part's own Content-Type, or None when it has none or an unusable one (where the stdlib
    assumes text/plain)."""
    value = part.get("Content-Type")
    declared = str(value).split(";")[0].strip().lower() if value is not None else ""
    return declared if declared.count("/") == 1 else None


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
    return Candidate(file_name, "text/plain", False, len(text), _constant(text), rendered=True)


def _unpack_tnef(part: Message, defects: Defects) -> list[Candidate] | None:
    """Outlook's winmail.dat: its attachments (see :mod:`tnef`); None if unreadable."""
    unpacked = tnef.unpack(decoded_payload(part, defects), defects)
    if not unpacked.readable:
        return None
    candidates = []
    for file_name, content in unpacked.files:
        name = _shorten(clean_text(re.split(r"[\\/]", file_name)[-1]) or "attachment", MAX_FILE_NAME)
        candidates.append(
            Candidate(name, "application/octet-stream", False, len(content), _constant(content))
        )
    return candidates
