"""The limits Amazon Connect enforces on ``StartEmailContact`` that botocore does not.

botocore validates required members, types and minimum lengths only; maximum lengths,
patterns, enums and byte totals are checked by the service, so a request that breaks them
fails in production. :func:`check_request` checks every one of them (source:
``docs/connect-limits.md``); the core runs it on each request it builds and never emits
one that fails.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type stubs only: the function's asset needs nothing of them at run time
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

EMAIL_PATTERN = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
ATTRIBUTE_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")

MAX_INSTANCE_ID = 100
MAX_EMAIL_ADDRESS = 255
MAX_DISPLAY_NAME = 256
MAX_SUBJECT = 998
MAX_BODY = 5_242_880
CONTENT_TYPES = frozenset({"text/plain", "text/html"})
HEADER_KEYS = frozenset(
    {"REFERENCES", "MESSAGE_ID", "IN_REPLY_TO", "X_SES_SPAM_VERDICT", "X_SES_VIRUS_VERDICT"}
)
MAX_HEADER_VALUE = 20_000
MAX_NAME = 1024
MAX_DESCRIPTION = 4096
REFERENCE_TYPES = frozenset({"URL", "NUMBER", "STRING", "DATE"})
MAX_REFERENCES_BYTES = 4096
MAX_ADDRESSES_IN_ALL = 50  # destination included
MAX_ADDITIONAL_RECIPIENTS = MAX_ADDRESSES_IN_ALL - 1
MAX_ATTACHMENTS = 10  # Connect's feature-limits page; newer service models say 50
MAX_FILE_NAME = 256
MAX_S3_URL = 2000
MAX_CONTACT_FLOW_ID = 500
MAX_RELATED_CONTACT_ID = 256
MAX_ATTRIBUTES_BYTES = 32_768
MAX_SEGMENT_KEY = 128
MAX_SEGMENT_VALUE_STRING = 1024
MAX_CLIENT_TOKEN = 500
ALLOWED_ATTACHMENT_EXTENSIONS = frozenset(
    {
        ".csv",
        ".doc",
        ".docx",
        ".heic",
        ".jfif",
        ".jpeg",
        ".jpg",
        ".mov",
        ".mp4",
        ".pdf",
        ".png",
        ".ppt",
        ".pptx",
        ".rtf",
        ".txt",
        ".wav",
        ".xls",
        ".xlsx",
    }
)
MAX_ATTACHMENT_BYTES = 20_000_000  # "20 MB": the stricter reading, in case Connect means 10^6


def check_request(request: StartEmailContactRequestTypeDef) -> list[str]:
    """Every way ``request`` breaks a server-side limit; an empty list means Connect accepts it."""
    checker = _Checker()
    checker.length("InstanceId", request.get("InstanceId"), 1, MAX_INSTANCE_ID)
    checker.address_object("FromEmailAddress", request.get("FromEmailAddress"))
    checker.address("DestinationEmailAddress", request.get("DestinationEmailAddress"))
    checker.message(request.get("EmailMessage"))
    checker.length("Name", request.get("Name", ""), 0, MAX_NAME)
    checker.length("Description", request.get("Description", ""), 0, MAX_DESCRIPTION)
    checker.references(request.get("References") or {})
    checker.recipients(request.get("AdditionalRecipients"))
    checker.attachments(request.get("Attachments"))
    checker.length("ContactFlowId", request.get("ContactFlowId", ""), 0, MAX_CONTACT_FLOW_ID)
    if "RelatedContactId" in request:
        checker.length("RelatedContactId", request["RelatedContactId"], 1, MAX_RELATED_CONTACT_ID)
    checker.attributes(request.get("Attributes") or {})
    checker.segment_attributes(request.get("SegmentAttributes") or {})
    checker.length("ClientToken", request.get("ClientToken"), 1, MAX_CLIENT_TOKEN)
    return checker.problems


class _Checker:
    """Collects problems; each method checks one member of the request."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def length(self, path: str, value: Any, low: int, high: int) -> None:
        if not isinstance(value, str):
            self.problems.append(f"{path}: expected a string, got {type(value).__name__}")
        elif not low <= len(value) <= high:
            self.problems.append(f"{path}: length {len(value)} outside {low}-{high}")

    def no_controls(self, path: str, value: Any) -> None:
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            self.problems.append(f"{path}: contains control characters")

    def visible_only(self, path: str, value: Any) -> None:
        """Connect's ``^\\P{C}*$``: no control, format, private-use or unassigned character."""
        if isinstance(value, str) and any(unicodedata.category(c)[0] == "C" for c in value):
            self.problems.append(f"{path}: contains control or other invisible (Unicode C) characters")

    def address(self, path: str, value: Any) -> None:
        self.length(path, value, 1, MAX_EMAIL_ADDRESS)
        # Within the length only: the pattern backtracks in quadratic time on a long value.
        if isinstance(value, str) and len(value) <= MAX_EMAIL_ADDRESS and not EMAIL_PATTERN.fullmatch(value):
            self.problems.append(f"{path}: {value!r} does not match the email address pattern")

    def address_object(self, path: str, value: Any) -> None:
        if not isinstance(value, Mapping):
            self.problems.append(f"{path}: expected an object")
            return
        self.address(f"{path}.EmailAddress", value.get("EmailAddress"))
        if "DisplayName" in value:
            self.length(f"{path}.DisplayName", value["DisplayName"], 0, MAX_DISPLAY_NAME)
            self.no_controls(f"{path}.DisplayName", value["DisplayName"])

    def message(self, message: Any) -> None:
        if not isinstance(message, Mapping) or message.get("MessageSourceType") != "RAW":
            self.problems.append("EmailMessage: MessageSourceType must be RAW")
            return
        raw = message.get("RawMessage")
        if not isinstance(raw, Mapping):
            self.problems.append("EmailMessage.RawMessage: required")
            return
        self.length("RawMessage.Subject", raw.get("Subject"), 0, MAX_SUBJECT)
        self.length("RawMessage.Body", raw.get("Body"), 1, MAX_BODY)
        if raw.get("ContentType") not in CONTENT_TYPES:
            self.problems.append(
                f"RawMessage.ContentType: {raw.get('ContentType')!r} is not text/plain or text/html"
            )
        for key, value in (raw.get("Headers") or {}).items():
            if key not in HEADER_KEYS:
                self.problems.append(f"RawMessage.Headers: key {key!r} is not allowed")
            self.length(f"RawMessage.Headers.{key}", value, 1, MAX_HEADER_VALUE)

    def references(self, references: Mapping[str, Any]) -> None:
        total = 0
        for name, reference in references.items():
            if reference.get("Type") not in REFERENCE_TYPES:
                self.problems.append(
                    f"References.{name}: type {reference.get('Type')!r} not allowed at creation"
                )
            # Counted strictly: names, values and types together.
            total += sum(
                len(str(text).encode())
                for text in (name, reference.get("Value", ""), reference.get("Type", ""))
            )
        if total > MAX_REFERENCES_BYTES:
            self.problems.append(f"References: {total} UTF-8 bytes in all, over {MAX_REFERENCES_BYTES}")

    def recipients(self, recipients: Any) -> None:
        if recipients is None:
            return
        total = 1  # the destination counts
        for list_name in ("ToAddresses", "CcAddresses"):
            if list_name not in recipients:
                continue
            entries = recipients[list_name]
            if not 1 <= len(entries) <= MAX_ADDRESSES_IN_ALL:
                self.problems.append(f"AdditionalRecipients.{list_name}: {len(entries)} entries, not 1-50")
            total += len(entries)
            for i, entry in enumerate(entries):
                self.address_object(f"AdditionalRecipients.{list_name}[{i}]", entry)
        if total > MAX_ADDRESSES_IN_ALL:
            self.problems.append(f"AdditionalRecipients: {total} addresses with the destination, over 50")

    def attachments(self, attachments: Any) -> None:
        if attachments is None:
            return
        if not 1 <= len(attachments) <= MAX_ATTACHMENTS:
            self.problems.append(f"Attachments: {len(attachments)} entries, not 1-{MAX_ATTACHMENTS}")
        for i, attachment in enumerate(attachments):
            name = attachment.get("FileName")
            self.length(f"Attachments[{i}].FileName", name, 1, MAX_FILE_NAME)
            self.visible_only(f"Attachments[{i}].FileName", name)
            if isinstance(name, str) and not name.lower().endswith(tuple(ALLOWED_ATTACHMENT_EXTENSIONS)):
                self.problems.append(f"Attachments[{i}].FileName: {name!r} has an extension Connect refuses")
            self.length(f"Attachments[{i}].S3Url", attachment.get("S3Url"), 1, MAX_S3_URL)

    def attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            if not ATTRIBUTE_KEY_PATTERN.fullmatch(key):
                self.problems.append(f"Attributes: key {key!r} may hold only letters, digits, '-' and '_'")
            if not isinstance(value, str):
                self.problems.append(f"Attributes.{key}: value must be a string")
        total = attributes_size(attributes)
        if total > MAX_ATTRIBUTES_BYTES:
            self.problems.append(f"Attributes: {total} UTF-8 bytes in all, over {MAX_ATTRIBUTES_BYTES}")

    def segment_attributes(self, segments: Mapping[str, Any]) -> None:
        for key, value in segments.items():
            self.length(f"SegmentAttributes key {key!r}", key, 1, MAX_SEGMENT_KEY)
            if "ValueString" in value:
                self.length(
                    f"SegmentAttributes.{key}.ValueString", value["ValueString"], 0, MAX_SEGMENT_VALUE_STRING
                )


def attributes_size(attributes: Mapping[str, Any]) -> int:
    """UTF-8 bytes of all keys and values together, as Connect counts them."""
    return sum(len(k.encode()) + len(str(v).encode()) for k, v in attributes.items())
