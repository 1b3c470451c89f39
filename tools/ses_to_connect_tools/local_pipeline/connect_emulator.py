"""Local stand-in for Amazon Connect ``StartEmailContact`` (``PUT /contact/email``, rest-json).

Design
------
* A stdlib ``ThreadingHTTPServer`` bound to 127.0.0.1 speaks the real wire protocol, so callers use an
  unmodified ``boto3.client("connect", endpoint_url=emulator.url, ...)``: botocore's own serializer builds
  the request and botocore's own ``RestJSONParser`` turns the error responses into the modeled exceptions.
* Every request is checked against two sources, in this order (the first failure is answered):

  1. ``server_side_limits()``, one table with every rule of docs/connect-limits.md. It comes
     first because its rows carry the specific class and ``Reason`` AWS answers with
     (``INVALID_FILE_TYPE``, ``TOTAL_FILE_COUNT_EXCEEDED``...), and it keeps holding when a botocore
     upgrade relaxes the model (the newest model already allows 50 attachments where Connect takes 10).
  2. The botocore service model itself, walked recursively (required members, types, lengths, patterns,
     enums): what the service enforces and botocore checks only partly on the client.

* Errors go out the rest-json way: the model's HTTP status, an ``x-amzn-ErrorType`` header (what
  ``RestJSONParser`` reads for the code) and a JSON body with ``message`` (what botocore copies into
  ``Error.Message``), ``Message`` (the modeled member) and, where modeled, the ``Reason`` union, which
  botocore parses into ``response["Reason"]``.
* Read-only operations the operators' preflight and smoke test need (``DescribeInstance``,
  ``ListInstanceStorageConfigs``, ``SearchEmailAddresses``, ``DescribeContact``,
  ``GetContactAttributes``, ``ListContactReferences``) answer from the same state: the known
  instances, their addresses and storage, and the contacts created. Their input is checked against
  the botocore model like StartEmailContact's; they never throttle and take no injected faults.
* Agents' replies (``agent_replies.py`` beside this module): ``CreateContact`` (EMAIL, AGENT_REPLY),
  ``StartOutboundEmailContact`` (the email goes to ``outbound``, as Connect's goes through SES),
  ``ListAssociatedContacts`` and the reply's stored message (``ListContactReferences``
  ``EMAIL_MESSAGE``, ``GetAttachedFile`` and its download URL), checked against the model the same way;
  each undocumented reading of the reply's headers is selectable (``set_agent_replies``).
  instances, their addresses and storage, and the contacts created. The instance's configuration
  (flows, each address's flow, the email attached-files configuration) and its read operations
  (``DescribeContactFlow``, ``GetFlowAssociation``, ``DescribeAttachedFilesConfiguration``) live in
  ``connect_instance_config``. Their input is checked against the botocore model like
  StartEmailContact's; they never throttle and take no injected faults.
* Order of work per request: injected fault, access key, token bucket, validation, instance and address,
  pre-signed attachment URLs (signature, X-Amz-Date + X-Amz-Expires, the signing key's expiry), idempotency,
  RelatedContactId (must be a contact of this emulator), attachment downloads (loopback hosts only), contact
  recorded, lost answer (or an answer without ``ContactId``) or delay, response. The delay comes after the
  contact is recorded on purpose: it reproduces what a read timeout means in production (the contact
  exists but the caller never learns its id), which only a stable ClientToken makes safe to retry.
* At least as strict as Connect where Connect's behaviour is undocumented (docs/exactly-once.md):
  the URLs are checked *before* the idempotency check, so a retry that replays stale URLs is refused
  even when its token is known; whether a refused request uses up its ClientToken is selectable
  (``refused_tokens="kept"``: a later request with the token and other parameters gets
  IdempotencyException; ``"forgotten"``: the token stays free); tokens are remembered for
  ``idempotency_window`` seconds (default 24 hours: Lambda retries an event for up to 6 hours; Connect
  documents 7 days for other Start* calls and nothing for StartEmailContact).
"""

import argparse
import calendar
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import http.client
import json
import logging
import re
import sys
import threading
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self, get_args
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit, urlunsplit

import botocore.session
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ses_to_connect_tools.local_pipeline.agent_replies import (
    FILES_PATH,
    AgentReplyDesk,
    Outbound,
    ReplyContact,
    Stored,
    Threading,
)
from ses_to_connect_tools.local_pipeline.connect_instance_config import (
    INSTANCE_CONFIG_ROUTES,
    AttachedFiles,
    Flow,
    InstanceConfiguration,
    email_address_id,
)

_LOG = logging.getLogger(__name__)

ErrorCode = Literal[
    "InvalidRequestException",
    "ServiceQuotaExceededException",
    "AccessDeniedException",
    "ResourceNotFoundException",
    "IdempotencyException",
    "ThrottlingException",
    "InternalServiceException",
]
ERROR_CODES: tuple[ErrorCode, ...] = get_args(ErrorCode)
# Errors only read operations answer (connect_instance_config).
ReadErrorCode = Literal["InvalidParameterException", "ContactFlowNotPublishedException"]

EMAIL_PATTERN = r"[^\s@]+@[^\s@]+\.[^\s@]+"
HEADER_KEYS = ("REFERENCES", "MESSAGE_ID", "IN_REPLY_TO", "X_SES_SPAM_VERDICT", "X_SES_VIRUS_VERDICT")
CONTENT_TYPES = ("text/plain", "text/html")
CREATABLE_REFERENCE_TYPES = ("URL", "NUMBER", "STRING", "DATE")
# The documented defaults (connect_instance_config), which an instance keeps until someone changes them.
ATTACHMENT_EXTENSIONS = AttachedFiles().dotted
MAX_ATTACHMENT_BYTES = AttachedFiles().max_bytes
# UNVERIFIED: no documented total. SES bounces inbound mail over 40 MB, so more can never arrive.
MAX_TOTAL_ATTACHMENT_BYTES = 40_000_000
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
_DOWNLOAD_TIMEOUT_SECONDS = 10.0
_CONTACTS_PATH = "/_emulator/contacts"
DEFAULT_TOKEN_WINDOW_SECONDS = 24 * 3600.0
MAX_PRESIGNED_EXPIRES = 604_800  # SigV4's limit: 7 days
# Answers that refuse the request itself; with refused_tokens="kept" they use up its ClientToken.
_REFUSALS = frozenset(
    {"InvalidRequestException", "ServiceQuotaExceededException", "ResourceNotFoundException"}
)
RefusedTokens = Literal["kept", "forgotten"]
# What an instance needs for the email channel (Connect admin guide): storage for both.
EMAIL_STORAGE_TYPES = ("EMAIL_MESSAGES", "ATTACHMENTS")


class ConnectError(Exception):
    """A modeled StartEmailContact error, answered with the model's HTTP status."""

    def __init__(self, code: ErrorCode | ReadErrorCode, message: str, reason: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode | ReadErrorCode = code
        self.message = message
        self.reason = reason


def _violation(
    where: str, constraint: str, error: ErrorCode = "InvalidRequestException", reason: str | None = None
) -> ConnectError:
    return ConnectError(
        error, f"Value at '{where}' failed to satisfy constraint: Member must {constraint}", reason
    )


# --- Java regular expressions from the model -------------------------------------------------------------

_UNICODE_PROPERTY = re.compile(r"\\([pP])\{(\w+)\}")


@functools.cache
def _category_ranges(prefix: str) -> str:
    """Character-class body for the Unicode general categories whose name starts with ``prefix``."""
    ranges: list[str] = []
    start: int | None = None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and unicodedata.category(chr(code)).startswith(prefix)
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append(f"\\U{start:08x}-\\U{code - 1:08x}")
            start = None
    return "".join(ranges)


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    """Compile a model (Java) pattern; ``re`` has no ``\\p{..}``, used by e.g. FileName's ``^\\P{C}*$``."""

    def expand(match: re.Match[str]) -> str:
        body = _category_ranges(match[2])
        return f"[^{body}]" if match[1] == "P" else f"[{body}]"

    return re.compile(_UNICODE_PROPERTY.sub(expand, pattern))


# --- The server-side limits table ------------------------------------------------------------------------


def _utf8_size(value: object) -> int:
    """UTF-8 bytes of every string in ``value``, not counting structure member names."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, dict):
        return sum(_utf8_size(item) for item in value.values())
    if isinstance(value, list):
        return sum(_utf8_size(item) for item in value)
    return 0


@dataclass(frozen=True)
class Length:
    """Each selected string has ``min``..``max`` characters."""

    min: int
    max: int

    def violated_by(self, value: object) -> bool:
        return isinstance(value, str) and not self.min <= len(value) <= self.max

    def describe(self) -> str:
        return f"have length between {self.min} and {self.max}"


@dataclass(frozen=True)
class FullMatch:
    """Each selected string matches ``pattern`` as a whole."""

    pattern: str

    def violated_by(self, value: object) -> bool:
        return isinstance(value, str) and _compile(self.pattern).fullmatch(value) is None

    def describe(self) -> str:
        return f"fully match the pattern {self.pattern}"


@dataclass(frozen=True)
class OneOf:
    """Each selected string is one of ``values``."""

    values: tuple[str, ...]

    def violated_by(self, value: object) -> bool:
        return isinstance(value, str) and value not in self.values

    def describe(self) -> str:
        return f"be one of {', '.join(self.values)}"


@dataclass(frozen=True)
class Requires:
    """Each selected object has all of ``members``."""

    members: tuple[str, ...]

    def violated_by(self, value: object) -> bool:
        return isinstance(value, dict) and any(value.get(name) is None for name in self.members)

    def describe(self) -> str:
        return f"have {', '.join(self.members)}"


@dataclass(frozen=True)
class MaxUtf8Bytes:
    """Each selected map holds at most ``max`` UTF-8 bytes: its keys plus every string in its values."""

    max: int

    def violated_by(self, value: object) -> bool:
        return (
            isinstance(value, dict)
            and sum(_utf8_size(key) + _utf8_size(item) for key, item in value.items()) > self.max
        )

    def describe(self) -> str:
        return f"hold at most {self.max} UTF-8 bytes in all"


@dataclass(frozen=True)
class MaxItems:
    """At most ``max`` values are selected, counted together."""

    max: int

    def describe(self) -> str:
        return f"have at most {self.max} items"


Check = Length | FullMatch | OneOf | Requires | MaxUtf8Bytes | MaxItems

# Paths join member names with dots; ``*`` is any member, ``[]`` walks a list,
# ``{k}``/``{v}`` walk a map's keys/values.
_SEGMENT = re.compile(r"(?P<name>\*|[A-Za-z0-9]+)(?P<walk>\[\]|\{k\}|\{v\})?")


@dataclass(frozen=True)
class Limit:
    """One server-side rule: the values at ``path`` must pass ``check``, or ``error``/``reason`` is raised."""

    path: str
    check: Check
    error: ErrorCode = "InvalidRequestException"
    reason: str | None = None
    rule: str | None = None  # the message wording when the check's own would hide the fact behind it

    def __post_init__(self) -> None:
        _parse_path(self.path)

    @property
    def segments(self) -> tuple[tuple[str, str | None], ...]:
        """``path`` as (member name, walk) pairs, e.g. ``("Attachments", "[]"), ("FileName", None)``."""
        return _parse_path(self.path)

    def enforce(self, params: Mapping[str, object]) -> None:
        selected = _select(params, self.segments)
        constraint = self.rule or self.check.describe()
        if isinstance(self.check, MaxItems):
            if len(selected) > self.check.max:
                member = re.sub(r"\.\*|\[\]|\{[kv]\}", "", self.path)
                raise _violation(member, constraint, self.error, self.reason)
            return
        for where, value in selected:
            if self.check.violated_by(value):
                raise _violation(where, constraint, self.error, self.reason)


@functools.cache
def _parse_path(path: str) -> tuple[tuple[str, str | None], ...]:
    segments: list[tuple[str, str | None]] = []
    for segment in path.split("."):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise ValueError(f"bad limit path {path!r}")
        segments.append((match["name"], match["walk"]))
    return tuple(segments)


def _select(
    params: Mapping[str, object], segments: Sequence[tuple[str, str | None]]
) -> list[tuple[str, object]]:
    """(where, value) for each value ``segments`` reach in ``params``; absent members reach nothing."""
    nodes: list[tuple[str, object]] = [("", params)]
    for name, walk in segments:
        found: list[tuple[str, object]] = []
        for where, node in nodes:
            if not isinstance(node, dict):
                continue
            children = node.items() if name == "*" else [(name, node[name])] if name in node else []
            for key, child in children:
                at = f"{where}.{key}" if where else str(key)
                if walk is None:
                    found.append((at, child))
                elif walk == "[]" and isinstance(child, list):
                    found.extend((f"{at}[{index}]", item) for index, item in enumerate(child))
                elif walk == "{k}" and isinstance(child, dict):
                    found.extend((f"{at} key {item_key!r}", item_key) for item_key in child)
                elif walk == "{v}" and isinstance(child, dict):
                    found.extend((f"{at}[{item_key!r}]", item) for item_key, item in child.items())
        nodes = found
    return nodes


def server_side_limits(
    max_attachments: int = 10, allowed_extensions: Sequence[str] = ATTACHMENT_EXTENSIONS
) -> tuple[Limit, ...]:
    """Every StartEmailContact rule of docs/connect-limits.md, in the order they are checked;
    ``allowed_extensions`` (with the dot) are the instance's attached-files configuration."""
    extensions = "|".join(re.escape(extension[1:]) for extension in allowed_extensions) or "(?!)"
    return (
        Limit("InstanceId", Length(1, 100)),
        Limit("FromEmailAddress.EmailAddress", Length(1, 255)),
        Limit("FromEmailAddress.EmailAddress", FullMatch(EMAIL_PATTERN)),
        Limit("FromEmailAddress.DisplayName", Length(0, 256)),
        Limit("DestinationEmailAddress", Length(1, 255)),
        Limit("DestinationEmailAddress", FullMatch(EMAIL_PATTERN)),
        Limit("EmailMessage", Requires(("MessageSourceType", "RawMessage"))),
        Limit("EmailMessage.RawMessage.Subject", Length(0, 998)),
        Limit("EmailMessage.RawMessage.Body", Length(1, 5_242_880)),
        Limit("EmailMessage.RawMessage.ContentType", OneOf(CONTENT_TYPES)),
        Limit("EmailMessage.RawMessage.Headers{k}", OneOf(HEADER_KEYS)),
        Limit("EmailMessage.RawMessage.Headers{v}", Length(1, 20_000)),
        Limit("Name", Length(0, 1024)),
        Limit("Description", Length(0, 4096)),
        Limit(
            "References{v}.Type",
            OneOf(CREATABLE_REFERENCE_TYPES),
            rule=f"be one of {', '.join(CREATABLE_REFERENCE_TYPES)} when a contact is created",
        ),
        Limit("References", MaxUtf8Bytes(4096)),
        Limit(
            "AdditionalRecipients.*[]",
            MaxItems(49),
            rule="hold at most 50 addresses in all, DestinationEmailAddress included",
        ),
        Limit("AdditionalRecipients.*[].EmailAddress", Length(1, 255)),
        Limit("AdditionalRecipients.*[].EmailAddress", FullMatch(EMAIL_PATTERN)),
        Limit("AdditionalRecipients.*[].DisplayName", Length(0, 256)),
        Limit(
            "Attachments[]",
            MaxItems(max_attachments),
            "ServiceQuotaExceededException",
            "TOTAL_FILE_COUNT_EXCEEDED",
        ),
        Limit("Attachments[].FileName", Length(1, 256), reason="INVALID_FILE_NAME"),
        Limit(
            "Attachments[].FileName",
            FullMatch(r"\P{C}*"),
            reason="INVALID_FILE_NAME",
            rule="contain no control characters",
        ),
        Limit(
            "Attachments[].FileName",
            FullMatch(rf"(?is).*\.(?:{extensions})"),
            reason="INVALID_FILE_TYPE",
            rule=f"end with one of {' '.join(allowed_extensions)}",
        ),
        Limit("Attachments[].S3Url", Length(1, 2000)),
        Limit("ContactFlowId", Length(0, 500)),
        Limit("RelatedContactId", Length(1, 256)),
        Limit("Attributes{k}", FullMatch(r"[A-Za-z0-9_-]+")),
        Limit("Attributes", MaxUtf8Bytes(32_768)),
        Limit("SegmentAttributes{k}", Length(1, 128)),
        Limit("SegmentAttributes{v}.ValueString", Length(0, 1024)),
        Limit("ClientToken", Length(0, 500)),
    )


# --- The botocore service model --------------------------------------------------------------------------


@functools.cache
def _operation_model(name: str = "StartEmailContact") -> Any:
    return botocore.session.get_session().get_service_model("connect").operation_model(name)


def _check_size(metadata: Mapping[str, Any], size: int, where: str, what: str) -> None:
    if "min" in metadata and size < metadata["min"]:
        raise _violation(where, f"have {what} greater than or equal to {metadata['min']}")
    if "max" in metadata and size > metadata["max"]:
        raise _violation(where, f"have {what} less than or equal to {metadata['max']}")


def _check_model(shape: Any, value: object, where: str) -> None:
    """Raise InvalidRequestException for the first place where ``value`` breaks ``shape``."""
    metadata: Mapping[str, Any] = shape.metadata
    match shape.type_name:
        case "structure":
            if not isinstance(value, dict):
                raise _violation(where, "be an object")
            for name in metadata.get("required", ()):
                if value.get(name) is None:
                    raise _violation(f"{where}.{name}".lstrip("."), "not be null")
            for name, member in shape.members.items():
                if value.get(name) is not None:
                    _check_model(member, value[name], f"{where}.{name}".lstrip("."))
        case "list":
            if not isinstance(value, list):
                raise _violation(where, "be a list")
            _check_size(metadata, len(value), where, "length")
            for index, item in enumerate(value):
                _check_model(shape.member, item, f"{where}[{index}]")
        case "map":
            if not isinstance(value, dict):
                raise _violation(where, "be a map")
            _check_size(metadata, len(value), where, "length")
            for key, item in value.items():
                _check_model(shape.key, key, f"{where} key {key!r}")
                _check_model(shape.value, item, f"{where}[{key!r}]")
        case "string":
            if not isinstance(value, str):
                raise _violation(where, "be a string")
            _check_size(metadata, len(value), where, "length")
            if "enum" in metadata and value not in metadata["enum"]:
                raise _violation(where, f"satisfy enum value set: [{', '.join(metadata['enum'])}]")
            if "pattern" in metadata and _compile(metadata["pattern"]).search(value) is None:
                raise _violation(where, f"satisfy regular expression pattern: {metadata['pattern']}")
        case "integer" | "long":
            if not isinstance(value, int) or isinstance(value, bool):
                raise _violation(where, "be an integer")
            _check_size(metadata, value, where, "value")
        case other:
            raise NotImplementedError(f"shape type {other} at {where}")


def check_start_email_contact(params: Mapping[str, Any], limits: Sequence[Limit] | None = None) -> None:
    """Raise the ConnectError StartEmailContact answers ``params`` with (``limits`` first, then the
    botocore model); return if they pass. Tests use it as an oracle independent of the function's own
    ``check_request``."""
    try:
        for limit in server_side_limits() if limits is None else limits:
            limit.enforce(params)
        _check_model(_operation_model().input_shape, params, "")
    except RecursionError as error:
        raise ConnectError("InvalidRequestException", "The request is nested too deeply") from error


# --- Records ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentDigest:
    """What the emulator downloaded from one attachment's S3Url."""

    file_name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class EmailContact:
    """One contact the emulator created."""

    contact_id: str
    sequence: int  # 1-based creation order since the last reset
    params: dict[str, Any]  # the request body as received, ClientToken included
    attachments: tuple[AttachmentDigest, ...]


@dataclass(frozen=True)
class Attempt:
    """One StartEmailContact request and how it was answered (for retry assertions)."""

    status: int
    error: ErrorCode | ReadErrorCode | None


@dataclass(frozen=True)
class _TokenUse:
    params: dict[str, Any]
    contact_id: str | None  # None: the request was refused (refused_tokens="kept")
    at: float


@dataclass(frozen=True)
class SigningKey:
    """Credentials the emulator accepts attachment URLs from; ``expires_at`` (wall clock) as STS sets it."""

    secret: str
    expires_at: float | None = None


class TokenBucket:
    """``rate`` requests a second on average, ``burst`` at once; thread-safe."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def try_take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


def _loopback_url(url: str, where: str) -> SplitResult:
    parts = urlsplit(url)
    # Only loopback hosts: a test must never make the emulator fetch from the internet or real S3.
    if parts.scheme not in ("http", "https") or parts.hostname not in _LOOPBACK_HOSTS:
        raise _violation(where, "be an http(s) URL on 127.0.0.1 or localhost (emulator restriction)")
    return parts


def check_presigned(url: str, where: str, now: float, keys: Mapping[str, SigningKey] | None) -> None:
    """Refuse a pre-signed URL S3 would refuse at ``now``: not yet valid, expired, or not signed by ``keys``.

    The signature is recomputed with botocore's own SigV4 query signer from the URL's parameters
    and the secret of its access key. ``keys`` None checks the dates only (any signer accepted).
    """
    parts = _loopback_url(url, where)
    query = {name: values[0] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
    if "X-Amz-Signature" not in query:
        if keys is not None:
            raise _violation(where, "be a pre-signed URL (SigV4 query parameters)")
        return
    try:
        signed_at = calendar.timegm(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
        expires = int(query["X-Amz-Expires"])
        access_key, _day, region, service, _terminal = query["X-Amz-Credential"].split("/")
    except (KeyError, ValueError) as error:
        raise _violation(where, f"carry complete SigV4 query parameters ({error!r})") from error
    if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or not 1 <= expires <= MAX_PRESIGNED_EXPIRES:
        raise _violation(where, "be signed with AWS4-HMAC-SHA256 for 1 to 604800 seconds")
    if now < signed_at:
        raise _violation(where, "be valid already (its X-Amz-Date is in the future)")
    if now > signed_at + expires:
        raise _violation(where, "not have expired (X-Amz-Date + X-Amz-Expires is past)")
    if keys is None:
        return
    key = keys.get(access_key)
    if key is None:
        raise _violation(where, "be signed by a known access key")
    if key.expires_at is not None and now >= key.expires_at:
        raise _violation(where, "be signed with credentials that have not expired")
    unsigned = "&".join(pair for pair in parts.query.split("&") if not pair.startswith("X-Amz-Signature="))
    request = AWSRequest(method="GET", url=urlunsplit(parts._replace(query=unsigned)))
    request.context["timestamp"] = query["X-Amz-Date"]
    credentials = Credentials(access_key, key.secret, query.get("X-Amz-Security-Token"))
    signer = S3SigV4QueryAuth(credentials, service, region, expires=expires)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, query["X-Amz-Signature"]):
        raise _violation(where, "carry a valid signature")


def _download(url: str, where: str, max_bytes: int) -> tuple[int, str]:
    """Size and sha256 of the body at ``url``, which must be on a loopback host."""
    parts = _loopback_url(url, where)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    # http.client rather than urllib: it follows no redirects and honours no proxy settings.
    try:
        connection = connection_class(str(parts.hostname), parts.port, timeout=_DOWNLOAD_TIMEOUT_SECONDS)
    except ValueError as error:
        raise _violation(where, f"have a valid port ({error})") from error
    digest = hashlib.sha256()
    size = 0
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        if response.status != 200:
            raise _violation(where, f"be downloadable (it answered HTTP {response.status})")
        while chunk := response.read(1 << 16):
            size += len(chunk)
            if size > max_bytes:
                raise _violation(
                    where, f"point at a file of at most {max_bytes} bytes", reason="INVALID_FILE_SIZE"
                )
            digest.update(chunk)
    except (OSError, http.client.HTTPException) as error:
        raise _violation(where, f"be downloadable ({error!r})") from error
    finally:
        connection.close()
    return size, digest.hexdigest()


# --- The emulator ----------------------------------------------------------------------------------------


class ConnectEmulator:
    """Amazon Connect ``StartEmailContact`` on 127.0.0.1; use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        port: int = 0,
        instances: Mapping[str, Collection[str]] | None = None,
        rate: float | None = None,
        burst: int = 5,
        max_attachments: int = 10,
        max_attachment_bytes: int | None = None,
        max_total_attachment_bytes: int = MAX_TOTAL_ATTACHMENT_BYTES,
        allowed_access_key_ids: Collection[str] | None = None,
        idempotency_window: float | None = DEFAULT_TOKEN_WINDOW_SECONDS,
        refused_tokens: RefusedTokens = "forgotten",
        signing_keys: Mapping[str, SigningKey] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        storage: Mapping[str, Collection[str]] | None = None,
        account: str = "111122223333",
        region: str = "us-east-1",
        outbound: Outbound | None = None,
        flows: Mapping[str, Collection[Flow]] | None = None,
        address_flows: Mapping[str, Mapping[str, str]] | None = None,
        attached_files: AttachedFiles | None = None,
    ) -> None:
        """Configure; nothing listens before start().

        ``instances`` maps each known instance id to its email addresses (None: accept any).
        ``rate``/``burst`` turn on throttling (None: never throttle). ``allowed_access_key_ids`` answers
        AccessDeniedException to requests signed with another key (None: accept any signature).
        ``idempotency_window`` is how long, in seconds, a ClientToken is remembered (None: until reset).
        ``refused_tokens`` says whether a refused request uses up its ClientToken ("kept") or not.
        ``signing_keys`` (access key id -> :class:`SigningKey`) are the credentials attachment URLs must be
        signed with (None: any signature; the dates are checked regardless). ``clock`` measures the
        throttle and the token window; ``wall_clock`` is what pre-signed URLs and keys expire against.
        ``storage`` maps an instance id to the storage resource types configured for it (None: every
        instance has ``EMAIL_STORAGE_TYPES``); ``account`` and ``region`` go into the ARNs it answers.
        ``outbound`` receives each email an agent's reply sends: its bytes and its recipients.
        ``flows`` (instance id -> its :class:`Flow` s; None: no flow is known or checked), ``address_flows``
        (instance id -> address -> the flow it starts) and ``attached_files`` (the email attached-files
        configuration, default the documented one; ``max_attachment_bytes`` is a shorthand for its size)
        are the instance's configuration (``connect_instance_config``).
        """
        self._requested_port = port
        self._instances = (
            None
            if instances is None
            # A bare string is a Collection[str] too: take it as one address, not as its characters.
            else {key: frozenset([v] if isinstance(v, str) else v) for key, v in instances.items()}
        )
        self._bucket = None if rate is None else TokenBucket(rate, burst, clock)
        self._max_attachments = max_attachments
        self._configured_files = attached_files or (
            AttachedFiles() if max_attachment_bytes is None else AttachedFiles(max_bytes=max_attachment_bytes)
        )
        self._configuration = InstanceConfiguration(
            flows,
            address_flows,
            self._configured_files,
            instance_arn=self._instance_arn,
            known_instance=self._known_instance,
            addresses=lambda instance_id: (self._instances or {}).get(instance_id, ()),
            error=ConnectError,
        )
        self._use_attached_files(self._configured_files)
        self._max_total_attachment_bytes = max_total_attachment_bytes
        self._allowed_keys = None if allowed_access_key_ids is None else frozenset(allowed_access_key_ids)
        self._idempotency_window = idempotency_window
        self._refused_tokens: RefusedTokens = "forgotten"
        self._signing_keys = None if signing_keys is None else dict(signing_keys)
        # What reset() returns to: a test's switched reading or added key must not leak into the next.
        self._configured = (refused_tokens, self._signing_keys)
        self._clock = clock
        self._wall_clock = wall_clock
        self._storage = None if storage is None else {key: frozenset(v) for key, v in storage.items()}
        self._account = account
        self._region = region
        operation = _operation_model()
        self._status = {
            shape.name: shape.metadata["error"]["httpStatusCode"] for shape in operation.error_shapes
        }
        self._reason_members: dict[str, dict[str, str]] = {
            shape.name: {
                reason: member_name
                for member_name, member in shape.members["Reason"].members.items()
                for reason in member.metadata.get("enum", ())
            }
            for shape in operation.error_shapes
            if "Reason" in shape.members
        }
        self._lock = threading.Lock()
        self.set_refused_tokens(refused_tokens)
        self._contacts: list[EmailContact] = []
        self._tokens: dict[str, _TokenUse] = {}
        self._faults: deque[ConnectError] = deque()
        self._lost_answers = 0
        self._answers_without_id = 0
        self._answer_hooks: deque[tuple[Callable[[], None], Callable[[], None]]] = deque()
        self._older_contact_ids: set[str] = set()
        self._attempts: list[Attempt] = []
        self._delay = 0.0
        self._stopping = threading.Event()
        self.agent_replies = AgentReplyDesk(
            fault=ConnectError,
            inbound=self._inbound_contact,
            addresses=lambda instance_id: (
                None if self._instances is None else self._instances.get(instance_id)
            ),
            instance_arn=self._instance_arn,
            wall_clock=wall_clock,
        )
        self.agent_replies.outbound = outbound
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        server = _Server(("127.0.0.1", self._requested_port), _handler_class(self))
        self._stopping.clear()
        # A short poll interval keeps stop() fast; the default half second adds up over a test suite.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="connect-emulator", daemon=True
        )
        self._server = server
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    # Inspection and control for tests

    def contacts(self) -> list[EmailContact]:
        with self._lock:
            return list(self._contacts)

    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    def set_attached_files(self, files: AttachedFiles) -> None:
        """Change the instance's email attached-files configuration, as UpdateAttachedFilesConfiguration
        would (``reset()`` restores the configured one)."""
        with self._lock:
            self._use_attached_files(files)

    def _use_attached_files(self, files: AttachedFiles) -> None:
        self._configuration.attached_files = files
        self._limits = server_side_limits(self._max_attachments, files.dotted)
        self._max_attachment_bytes = files.max_bytes

    def reset(self) -> None:
        """Forget contacts, ClientTokens, attempts, queued faults and the delay; restore the
        configured reading of refused tokens and signing keys."""
        with self._lock:
            self._refused_tokens, keys = self._configured
            self._signing_keys = None if keys is None else dict(keys)
            self._contacts.clear()
            self._tokens.clear()
            self._attempts.clear()
            self._faults.clear()
            self._lost_answers = 0
            self._answers_without_id = 0
            self._answer_hooks.clear()
            self._older_contact_ids.clear()
            self._delay = 0.0
            self._use_attached_files(self._configured_files)
        self.agent_replies.reset()

    def inject_errors(
        self, code: ErrorCode, count: int = 1, *, reason: str | None = None, message: str = "Injected fault"
    ) -> None:
        """Answer the next ``count`` StartEmailContact requests with ``code``.

        Server-side faults (429, 500) and AccessDeniedException come before any other check;
        refusals (InvalidRequestException, ServiceQuotaExceededException, ResourceNotFoundException)
        take the place of validation, so that ``refused_tokens`` applies to them as to real ones.
        """
        if code not in self._status:
            raise ValueError(f"{code} is not an error StartEmailContact can return")
        if count < 0:
            raise ValueError("count must be >= 0")
        if reason is not None and reason not in self._reason_members.get(code, {}):
            raise ValueError(f"{code} has no reason {reason}")
        with self._lock:
            self._faults.extend(ConnectError(code, message, reason) for _ in range(count))

    def lose_answers(self, count: int = 1) -> None:
        """Do the next ``count`` requests' work (a contact is created or found), then answer 500.

        The caller never learns the contact's id: a lost answer, as after a crash or a network fault.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._lost_answers += count

    def answer_without_contact_ids(self, count: int = 1) -> None:
        """Do the next ``count`` requests' work (a contact is created or found), then answer 200
        with an empty body: an answer the model allows (``ContactId`` is not required) that names
        no contact."""
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._answers_without_id += count

    def around_next_answer(self, before_sent: Callable[[], None], after_sent: Callable[[], None]) -> None:
        """Call ``before_sent`` once the next StartEmailContact is answered (its work done, its
        answer ready) and ``after_sent`` once that answer is written to the caller: a test stops and
        kills the caller's process there, as Lambda kills a sandbox that ran out of memory or time."""
        with self._lock:
            self._answer_hooks.append((before_sent, after_sent))

    def add_older_contact(self, contact_id: str) -> None:
        """A contact of the instance created before this emulator started: a valid RelatedContactId."""
        with self._lock:
            self._older_contact_ids.add(contact_id)

    def set_refused_tokens(self, reading: RefusedTokens) -> None:
        """Switch the reading of refused requests' tokens (see the constructor)."""
        if reading not in get_args(RefusedTokens):
            raise ValueError(f"refused_tokens must be one of {get_args(RefusedTokens)}")
        with self._lock:
            self._refused_tokens = reading

    def add_signing_key(self, access_key_id: str, key: SigningKey) -> None:
        """Accept attachment URLs signed with another set of credentials (say, a new container's)."""
        with self._lock:
            self._signing_keys = {**(self._signing_keys or {}), access_key_id: key}

    def set_agent_replies(self, threading_reading: Threading = "headers", stored: Stored = "mime") -> None:
        """Choose the reading of agents' replies (``agent_replies.py``); reset() restores it."""
        self.agent_replies.configure(threading_reading, stored)

    def set_delay(self, seconds: float) -> None:
        """Hold every StartEmailContact response this long after the work is done (0 turns it off)."""
        with self._lock:
            self._delay = seconds

    # Request handling

    def _start_email_contact(self, body: bytes, authorization: str | None) -> str:
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.code not in _REFUSALS:
            raise fault
        if self._allowed_keys is not None:
            signed_by = re.search(r"Credential=([^/,\s]+)/", authorization or "")
            if signed_by is None or signed_by[1] not in self._allowed_keys:
                raise ConnectError(
                    "AccessDeniedException", "The caller is not allowed to perform connect:StartEmailContact"
                )
        if self._bucket is not None and not self._bucket.try_take():
            raise ConnectError("ThrottlingException", "Rate exceeded")
        try:
            params = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise ConnectError(
                "InvalidRequestException", f"The request body is not valid JSON: {error}"
            ) from error
        if not isinstance(params, dict):
            raise ConnectError("InvalidRequestException", "The request body must be a JSON object")
        token = params.get("ClientToken")
        try:
            if fault is not None:  # a refusal of this very request: refused_tokens applies to it
                raise fault
            check_start_email_contact(params, self._limits)
            return self._create_or_replay(params, token)
        except ConnectError as refused:
            if self._refused_tokens == "kept" and refused.code in _REFUSALS and isinstance(token, str):
                with self._lock:
                    if token not in self._tokens:
                        self._remember(token, _TokenUse(params, None, self._clock()))
            raise

    def _create_or_replay(self, params: dict[str, Any], token: object) -> str:
        self._check_instance(params)
        self._configuration.check_flow(params["InstanceId"], params.get("ContactFlowId"))
        attachments = params.get("Attachments", [])
        with self._lock:
            keys = self._signing_keys
        for index, attachment in enumerate(attachments):
            check_presigned(attachment["S3Url"], f"Attachments[{index}].S3Url", self._wall_clock(), keys)
        with self._lock:
            replayed = self._replay(token, params)
        if replayed is not None:
            return replayed
        self._check_related(params)
        digests = self._download_attachments(attachments)
        with self._lock:
            # Another request with this token may have finished while the attachments downloaded.
            replayed = self._replay(token, params)
            if replayed is not None:
                return replayed
            contact = EmailContact(str(uuid.uuid4()), len(self._contacts) + 1, params, digests)
            self._contacts.append(contact)
            if isinstance(token, str):
                self._tokens.pop(token, None)  # a kept refusal of the same request gives way
                self._remember(token, _TokenUse(params, contact.contact_id, self._clock()))
            return contact.contact_id

    def _remember(self, token: str, use: _TokenUse) -> None:
        """Record a token (hold the lock), forgetting those past the window: memory stays bounded."""
        self._tokens[token] = use
        if self._idempotency_window is None:
            return
        while self._tokens:
            oldest = next(iter(self._tokens))
            if use.at - self._tokens[oldest].at <= self._idempotency_window:
                break
            del self._tokens[oldest]

    def _check_related(self, params: Mapping[str, Any]) -> None:
        related = params.get("RelatedContactId")
        if related is None:
            return
        with self._lock:
            known = related in self._older_contact_ids or any(
                c.contact_id == related and c.params["InstanceId"] == params["InstanceId"]
                for c in self._contacts
            )
        if not known:
            raise ConnectError("ResourceNotFoundException", f"RelatedContactId {related} was not found")

    def _check_instance(self, params: Mapping[str, Any]) -> None:
        instance_id = params["InstanceId"]
        self._known_instance(instance_id)
        if (
            self._instances is not None
            and params["DestinationEmailAddress"] not in self._instances[instance_id]
        ):
            # ResourceNotFoundException, not InvalidRequestException: an instance's email address is a
            # resource of its own (CreateEmailAddress gives it an ARN under the instance), the API reference
            # defines ResourceNotFoundException as "The specified resource was not found", and
            # InvalidRequestException ("The request is not valid") is for requests malformed in themselves.
            # Exact comparison on purpose (whether Connect folds case is UNVERIFIED): the caller should pass
            # the configured address, not whatever casing a sender used.
            raise ConnectError(
                "ResourceNotFoundException",
                f"DestinationEmailAddress is not an email address of instance {instance_id}",
            )

    def _replay(self, token: object, params: dict[str, Any]) -> str | None:
        """The contact id an earlier request with this ClientToken created, if any (hold the lock).

        Other parameters under a known token: IdempotencyException, whether the earlier request
        created a contact or (refused_tokens="kept") was refused. The same parameters as a refused
        request are evaluated again.
        """
        if not isinstance(token, str):
            return None
        used = self._tokens.get(token)
        if used is None:
            return None
        if self._idempotency_window is not None and self._clock() - used.at > self._idempotency_window:
            del self._tokens[token]
            return None
        if used.params != params:
            raise ConnectError(
                "IdempotencyException", "The ClientToken was already used with different parameters"
            )
        return used.contact_id

    def _download_attachments(self, attachments: Sequence[Mapping[str, str]]) -> tuple[AttachmentDigest, ...]:
        digests: list[AttachmentDigest] = []
        total = 0
        for index, attachment in enumerate(attachments):
            size, sha256 = _download(
                attachment["S3Url"], f"Attachments[{index}].S3Url", self._max_attachment_bytes
            )
            total += size
            if total > self._max_total_attachment_bytes:
                raise _violation(
                    "Attachments",
                    f"total at most {self._max_total_attachment_bytes} bytes",
                    "ServiceQuotaExceededException",
                    "TOTAL_FILE_SIZE_EXCEEDED",
                )
            digests.append(AttachmentDigest(attachment["FileName"], size, sha256))
        return tuple(digests)

    def _answer_start_email_contact(
        self, body: bytes, authorization: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
        error: ConnectError | None = None
        payload: dict[str, Any]
        try:
            status, payload = 200, {"ContactId": self._start_email_contact(body, authorization)}
            with self._lock:
                lose, self._lost_answers = self._lost_answers > 0, max(0, self._lost_answers - 1)
                if not lose and self._answers_without_id > 0:
                    self._answers_without_id -= 1
                    payload = {}
            if lose:
                error = ConnectError(
                    "InternalServiceException", "Injected: the answer was lost after the work"
                )
        except ConnectError as raised:
            error = raised
        except Exception as unexpected:  # noqa: BLE001 - an emulator bug must still reach the client as a 500
            _LOG.exception("emulator failure")
            error = ConnectError("InternalServiceException", f"Emulator failure: {unexpected!r}")
        if error is not None:
            status = self._status[error.code]
            headers["x-amzn-ErrorType"] = error.code
            payload = {"message": error.message, "Message": error.message}
            if error.reason is not None:
                payload["Reason"] = {self._reason_members[error.code][error.reason]: error.reason}
        with self._lock:
            self._attempts.append(Attempt(status, None if error is None else error.code))
            delay = self._delay
        if delay > 0:
            self._stopping.wait(delay)
        return status, headers, json.dumps(payload).encode()

    # Read-only operations

    def _instance_arn(self, instance_id: str) -> str:
        return f"arn:aws:connect:{self._region}:{self._account}:instance/{instance_id}"

    def _known_instance(self, instance_id: str) -> None:
        if self._instances is not None and instance_id not in self._instances:
            raise ConnectError("ResourceNotFoundException", f"Instance {instance_id} not found")

    def _inbound_contact(self, instance_id: str, contact_id: str) -> EmailContact | None:
        return next(
            (
                c
                for c in self.contacts()
                if c.contact_id == contact_id and c.params["InstanceId"] == instance_id
            ),
            None,
        )

    def _contact(self, instance_id: str, contact_id: str) -> EmailContact | ReplyContact:
        self._known_instance(instance_id)
        found = self._inbound_contact(instance_id, contact_id) or self.agent_replies.reply(
            instance_id, contact_id
        )
        if found is None:
            raise ConnectError("ResourceNotFoundException", f"Contact {contact_id} not found")
        return found

    def _describe_instance(self, params: Mapping[str, Any]) -> dict[str, Any]:
        instance_id = params["InstanceId"]
        self._known_instance(instance_id)
        return {
            "Instance": {
                "Id": instance_id,
                "Arn": self._instance_arn(instance_id),
                "IdentityManagementType": "CONNECT_MANAGED",
                "InstanceStatus": "ACTIVE",
                "InboundCallsEnabled": True,
                "OutboundCallsEnabled": True,
            }
        }

    def _list_instance_storage_configs(self, params: Mapping[str, Any]) -> dict[str, Any]:
        instance_id, resource_type = params["InstanceId"], params["ResourceType"]
        self._known_instance(instance_id)
        configured = EMAIL_STORAGE_TYPES if self._storage is None else self._storage.get(instance_id, ())
        if resource_type not in configured:
            return {"StorageConfigs": []}
        association = hashlib.sha256(f"{instance_id}/{resource_type}".encode()).hexdigest()[:32]
        return {
            "StorageConfigs": [
                {
                    "AssociationId": association,
                    "StorageType": "S3",
                    "S3Config": {"BucketName": "connect-storage", "BucketPrefix": resource_type.lower()},
                }
            ]
        }

    def _search_email_addresses(self, params: Mapping[str, Any]) -> dict[str, Any]:
        instance_id = params["InstanceId"]
        self._known_instance(instance_id)
        if self._instances is None:
            raise ConnectError(
                "InvalidRequestException", "The emulator knows addresses only when it is given instances"
            )
        if params.get("SearchCriteria") or params.get("SearchFilter"):
            # Emulator restriction: callers here list every address and compare themselves.
            raise ConnectError("InvalidRequestException", "The emulator does not filter: omit SearchCriteria")
        everything = sorted(self._instances[instance_id])
        start = int(params["NextToken"]) if str(params.get("NextToken", "")).isdigit() else 0
        end = start + int(params.get("MaxResults", 100))
        addresses = everything[start:end]
        found = [
            {
                "EmailAddressId": email_address_id(address),
                "EmailAddressArn": f"{self._instance_arn(instance_id)}/email-address/"
                + email_address_id(address),
                "EmailAddress": address,
            }
            for address in addresses
        ]
        page: dict[str, Any] = {"EmailAddresses": found, "ApproximateTotalCount": len(everything)}
        if end < len(everything):
            page["NextToken"] = str(end)
        return page

    def _describe_contact(self, params: Mapping[str, Any]) -> dict[str, Any]:
        contact = self._contact(params["InstanceId"], params["ContactId"])
        described = {
            "Arn": f"{self._instance_arn(params['InstanceId'])}/contact/{contact.contact_id}",
            "Id": contact.contact_id,
            "InitialContactId": contact.contact_id,
            "InitiationMethod": "AGENT_REPLY" if isinstance(contact, ReplyContact) else "API",
            "Channel": "EMAIL",
        }
        if contact.params.get("RelatedContactId"):
            described["RelatedContactId"] = contact.params["RelatedContactId"]
        return {"Contact": described}

    def _list_associated_contacts(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The thread's contacts: those created by StartEmailContact, then its agent replies."""
        instance_id = params["InstanceId"]
        self._contact(instance_id, params["ContactId"])
        root = self.agent_replies.root_of(instance_id, params["ContactId"])
        inbound = [
            {
                "ContactId": c.contact_id,
                "ContactArn": f"{self._instance_arn(instance_id)}/contact/{c.contact_id}",
                "InitiationMethod": "API",
                "Channel": "EMAIL",
                **(
                    {"RelatedContactId": c.params["RelatedContactId"]}
                    if c.params.get("RelatedContactId")
                    else {}
                ),
            }
            for c in self.contacts()
            if c.params["InstanceId"] == instance_id
            and self.agent_replies.root_of(instance_id, c.contact_id) == root
        ]
        everything = [*inbound, *self.agent_replies.associated(instance_id, str(root))]
        start = int(params["NextToken"]) if str(params.get("NextToken", "")).isdigit() else 0
        end = start + int(params.get("MaxResults", 100))
        page: dict[str, Any] = {"ContactSummaryList": everything[start:end]}
        if end < len(everything):
            page["NextToken"] = str(end)
        return page

    def _get_attached_file(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self._known_instance(params["InstanceId"])
        return self.agent_replies.attached_file(params, self.url)

    def _create_contact(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self._known_instance(params["InstanceId"])
        return self.agent_replies.create_contact(params)

    def _start_outbound_email_contact(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self._known_instance(params["InstanceId"])
        return self.agent_replies.start_outbound(params)

    def _get_contact_attributes(self, params: Mapping[str, Any]) -> dict[str, Any]:
        contact = self._contact(params["InstanceId"], params["InitialContactId"])
        return {"Attributes": dict(contact.params.get("Attributes") or {})}

    def _list_contact_references(self, params: Mapping[str, Any]) -> dict[str, Any]:
        contact = self._contact(params["InstanceId"], params["ContactId"])
        references: list[dict[str, Any]] = []
        if "ATTACHMENT" in params["ReferenceTypes"] and isinstance(contact, EmailContact):
            # What the emulator downloaded is what Connect would hold: approved once stored.
            references += [
                {"Attachment": {"Name": digest.file_name, "Value": digest.sha256, "Status": "APPROVED"}}
                for digest in contact.attachments
            ]
        if "EMAIL_MESSAGE" in params["ReferenceTypes"] and isinstance(contact, ReplyContact):
            stored = self.agent_replies.email_message_reference(contact)
            references += [stored] if stored else []
        for name, reference in (contact.params.get("References") or {}).items():
            kind = reference.get("Type")
            if kind in params["ReferenceTypes"] and kind in _REFERENCE_MEMBERS:
                references.append(
                    {_REFERENCE_MEMBERS[kind]: {"Name": name, "Value": reference.get("Value", "")}}
                )
        return {"ReferenceSummaryList": references}

    def _answer_read(self, name: str, params: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """One read-only operation: its input checked against the model, then answered from state."""
        operation = _operation_model(name)
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
        handlers: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "DescribeInstance": self._describe_instance,
            "ListInstanceStorageConfigs": self._list_instance_storage_configs,
            "SearchEmailAddresses": self._search_email_addresses,
            "DescribeContact": self._describe_contact,
            "GetContactAttributes": self._get_contact_attributes,
            "ListContactReferences": self._list_contact_references,
            "ListAssociatedContacts": self._list_associated_contacts,
            "GetAttachedFile": self._get_attached_file,
            "CreateContact": self._create_contact,
            "StartOutboundEmailContact": self._start_outbound_email_contact,
            **self._configuration.handlers(),
        }
        try:
            _check_model(operation.input_shape, params, "")
            return 200, headers, json.dumps(handlers[name](params)).encode()
        except ConnectError as raised:
            error = raised
        except Exception as unexpected:  # noqa: BLE001 - as for StartEmailContact: a bug still reaches the client as a 500
            _LOG.exception("emulator failure")
            error = ConnectError("InternalServiceException", f"Emulator failure: {unexpected!r}")
        modeled = {e.name: e.metadata["error"]["httpStatusCode"] for e in operation.error_shapes}
        # A request the model refuses: the operation's own validation error (some have no InvalidRequest).
        fallback = (
            "InvalidRequestException" if "InvalidRequestException" in modeled else "InvalidParameterException"
        )
        code = error.code if error.code in modeled else fallback
        headers["x-amzn-ErrorType"] = code
        return (
            modeled.get(code, 400),
            headers,
            json.dumps({"message": error.message, "Message": error.message}).encode(),
        )

    def _contacts_json(self) -> bytes:
        return json.dumps({"contacts": [dataclasses.asdict(contact) for contact in self.contacts()]}).encode()


_REFERENCE_MEMBERS = {"URL": "Url", "STRING": "String", "NUMBER": "Number", "DATE": "Date", "EMAIL": "Email"}


# Read-only routes: (method, path pattern whose groups are the URI members, operation).
_READ_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"/instance/(?P<InstanceId>[^/]+)"), "DescribeInstance"),
    ("GET", re.compile(r"/instance/(?P<InstanceId>[^/]+)/storage-configs"), "ListInstanceStorageConfigs"),
    ("POST", re.compile(r"/search-email-addresses"), "SearchEmailAddresses"),
    ("GET", re.compile(r"/contacts/(?P<InstanceId>[^/]+)/(?P<ContactId>[^/]+)"), "DescribeContact"),
    (
        "GET",
        re.compile(r"/contact/attributes/(?P<InstanceId>[^/]+)/(?P<InitialContactId>[^/]+)"),
        "GetContactAttributes",
    ),
    (
        "GET",
        re.compile(r"/contact/references/(?P<InstanceId>[^/]+)/(?P<ContactId>[^/]+)"),
        "ListContactReferences",
    ),
    ("GET", re.compile(r"/contact/associated/(?P<InstanceId>[^/]+)"), "ListAssociatedContacts"),
    ("GET", re.compile(r"/attached-files/(?P<InstanceId>[^/]+)/(?P<FileId>[^/]+)"), "GetAttachedFile"),
    ("PUT", re.compile(r"/contact/create-contact"), "CreateContact"),
    ("PUT", re.compile(r"/contact/outbound-email"), "StartOutboundEmailContact"),
    *INSTANCE_CONFIG_ROUTES,
)


def _read_request(method: str, target: str, body: bytes) -> tuple[str, dict[str, Any]] | None:
    """(operation, parameters by model member name) for a read-only request, None if it is not one."""
    parts = urlsplit(target)
    for route_method, pattern, name in _READ_ROUTES:
        match = pattern.fullmatch(parts.path)
        if route_method != method or match is None:
            continue
        params: dict[str, Any] = {key: unquote(value) for key, value in match.groupdict().items()}
        shape = _operation_model(name).input_shape
        query = parse_qs(parts.query)
        for member_name, member in shape.members.items():
            if member.serialization.get("location") != "querystring":
                continue
            values = query.get(member.serialization.get("name", member_name))
            if values is None:
                continue
            if member.type_name == "list":
                params[member_name] = values
            elif member.type_name == "integer":
                params[member_name] = int(values[0]) if values[0].isdigit() else values[0]
            else:
                params[member_name] = values[0]
        if body:
            try:
                decoded = json.loads(body)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict):
                params.update(decoded)
        return name, params
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Load tests open many connections at once; the stdlib's backlog of 5 would refuse some of them.
    request_queue_size = 128


def _handler_class(emulator: ConnectEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ConnectEmulator"

        def do_PUT(self) -> None:
            # Read the body first, whatever the answer, so the connection stays in sync.
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if urlsplit(self.path).path == "/contact/email":
                answer = emulator._answer_start_email_contact(body, self.headers.get("Authorization"))
                with emulator._lock:
                    hooks = emulator._answer_hooks.popleft() if emulator._answer_hooks else None
                if hooks is not None:
                    hooks[0]()
                self._send(*answer)
                if hooks is not None:
                    hooks[1]()
            else:
                self._send_read(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            stored = (
                emulator.agent_replies.file(path[len(FILES_PATH) :]) if path.startswith(FILES_PATH) else None
            )
            if path == _CONTACTS_PATH:
                self._send(200, {"Content-Type": "application/json"}, emulator._contacts_json())
            elif stored is not None:
                self._send(200, {"Content-Type": "application/octet-stream"}, stored)
            else:
                self._send_read(b"")

        def do_POST(self) -> None:
            self._send_read(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _send_read(self, body: bytes) -> None:
            request = _read_request(self.command, self.path, body)
            if request is None:
                self._send_unknown()
            else:
                self._send(*emulator._answer_read(*request))

        def _send_unknown(self) -> None:
            body = json.dumps({"message": f"No operation at {self.command} {self.path}"}).encode()
            self._send(
                404,
                {"Content-Type": "application/json", "x-amzn-ErrorType": "UnknownOperationException"},
                body,
            )

        def _send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up waiting (a read timeout under set_delay): nothing left to tell it.
                _LOG.debug("client closed the connection before the response")

        def log_message(self, format: str, *args: Any) -> None:
            _LOG.debug(format, *args)

    return Handler


# --- Command line ----------------------------------------------------------------------------------------


def _instance_arg(text: str) -> tuple[str, list[str]]:
    instance_id, separator, addresses = text.partition("=")
    if not separator or not instance_id or not addresses:
        raise argparse.ArgumentTypeError("expected INSTANCE_ID=ADDRESS[,ADDRESS...]")
    return instance_id, addresses.split(",")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ses_to_connect_tools.local_pipeline.connect_emulator",
        description="Serve a local Amazon Connect StartEmailContact on 127.0.0.1 until interrupted.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument(
        "--rate", type=float, help="requests per second before ThrottlingException (default: off)"
    )
    parser.add_argument("--burst", type=int, default=5, help="requests allowed at once when --rate is set")
    parser.add_argument(
        "--instance",
        type=_instance_arg,
        action="append",
        metavar="ID=ADDRESS[,ADDRESS...]",
        help="a known instance and its email addresses; repeat for more (default: accept any)",
    )
    parser.add_argument("--max-attachments", type=int, default=10)
    parser.add_argument(
        "--refused-tokens",
        choices=get_args(RefusedTokens),
        default="forgotten",
        help="whether a refused request uses up its ClientToken (default: forgotten)",
    )
    parser.add_argument(
        "--token-window",
        type=float,
        default=DEFAULT_TOKEN_WINDOW_SECONDS,
        help="seconds a ClientToken is remembered (default: 86400)",
    )
    args = parser.parse_args(argv)
    emulator = ConnectEmulator(
        port=args.port,
        instances=None if args.instance is None else dict(args.instance),
        rate=args.rate,
        burst=args.burst,
        max_attachments=args.max_attachments,
        refused_tokens=args.refused_tokens,
        idempotency_window=args.token_window,
    )
    with emulator:
        print(emulator.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
