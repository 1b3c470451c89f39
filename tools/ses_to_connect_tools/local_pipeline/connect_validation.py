"""What Amazon Connect's ``StartEmailContact`` accepts, checked as the service checks it.

Every request the emulator answers is checked against two sources, in this order (the first
failure is answered):

1. ``server_side_limits()``, one table with every rule of docs/connect-limits.md. It comes first
   because its rows carry the specific class and ``Reason`` AWS answers with
   (``INVALID_FILE_TYPE``, ``TOTAL_FILE_COUNT_EXCEEDED``...), and it keeps holding when a botocore
   upgrade relaxes the model (the newest model already allows 50 attachments where Connect takes 10).
2. The botocore service model itself, walked recursively (required members, types, lengths,
   patterns, enums): what the service enforces and botocore checks only partly on the client.

Connect's documented limits are stated here, not imported from the function
(``ses_to_connect.limits``): the tests use ``check_start_email_contact`` as an oracle independent
of the function's own ``check_request``, so a limit the function gets wrong is refused here.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import botocore.session

from ses_to_connect_tools.local_pipeline.connect_instance_config import AttachedFiles

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


class ConnectError(Exception):
    """A modeled StartEmailContact error, answered with the model's HTTP status."""

    def __init__(self, code: ErrorCode | ReadErrorCode, message: str, reason: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode | ReadErrorCode = code
        self.message = message
        self.reason = reason


def violation(
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
                raise violation(member, constraint, self.error, self.reason)
            return
        for where, value in selected:
            if self.check.violated_by(value):
                raise violation(where, constraint, self.error, self.reason)


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
def operation_model(name: str = "StartEmailContact") -> Any:
    return botocore.session.get_session().get_service_model("connect").operation_model(name)


def _check_size(metadata: Mapping[str, Any], size: int, where: str, what: str) -> None:
    if "min" in metadata and size < metadata["min"]:
        raise violation(where, f"have {what} greater than or equal to {metadata['min']}")
    if "max" in metadata and size > metadata["max"]:
        raise violation(where, f"have {what} less than or equal to {metadata['max']}")


def check_model(shape: Any, value: object, where: str) -> None:
    """Raise InvalidRequestException for the first place where ``value`` breaks ``shape``."""
    metadata: Mapping[str, Any] = shape.metadata
    match shape.type_name:
        case "structure":
            if not isinstance(value, dict):
                raise violation(where, "be an object")
            for name in metadata.get("required", ()):
                if value.get(name) is None:
                    raise violation(f"{where}.{name}".lstrip("."), "not be null")
            for name, member in shape.members.items():
                if value.get(name) is not None:
                    check_model(member, value[name], f"{where}.{name}".lstrip("."))
        case "list":
            if not isinstance(value, list):
                raise violation(where, "be a list")
            _check_size(metadata, len(value), where, "length")
            for index, item in enumerate(value):
                check_model(shape.member, item, f"{where}[{index}]")
        case "map":
            if not isinstance(value, dict):
                raise violation(where, "be a map")
            _check_size(metadata, len(value), where, "length")
            for key, item in value.items():
                check_model(shape.key, key, f"{where} key {key!r}")
                check_model(shape.value, item, f"{where}[{key!r}]")
        case "string":
            if not isinstance(value, str):
                raise violation(where, "be a string")
            _check_size(metadata, len(value), where, "length")
            if "enum" in metadata and value not in metadata["enum"]:
                raise violation(where, f"satisfy enum value set: [{', '.join(metadata['enum'])}]")
            if "pattern" in metadata and _compile(metadata["pattern"]).search(value) is None:
                raise violation(where, f"satisfy regular expression pattern: {metadata['pattern']}")
        case "integer" | "long":
            if not isinstance(value, int) or isinstance(value, bool):
                raise violation(where, "be an integer")
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
        check_model(operation_model().input_shape, params, "")
    except RecursionError as error:
        raise ConnectError("InvalidRequestException", "The request is nested too deeply") from error
