"""The Connect emulator's model of an instance's configuration: its flows, which flow each email
address starts, and its attached-files configuration for email.

Read by the operators' preflight through three read-only operations, each checked against the
botocore model by the emulator like every other (``DescribeContactFlow``, ``GetFlowAssociation``
with ``ResourceType`` ``INBOUND_EMAIL``, ``DescribeAttachedFilesConfiguration`` with scope
``EMAIL``), and enforced on ``StartEmailContact``: a file whose extension or size the
configuration refuses is refused with Connect's reasons (``INVALID_FILE_TYPE``,
``INVALID_FILE_SIZE``), and a ``ContactFlowId`` that is not a flow of a configured instance is
``ResourceNotFoundException``.

Kept apart from ``connect_emulator.py`` and ``connect_validation.py`` (which import it) so that
the instance's configuration reads as one piece.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ses_to_connect_tools.local_pipeline.connect_validation import ConnectError

__all__ = [
    "DEFAULT_EMAIL_EXTENSIONS",
    "DEFAULT_EMAIL_MAX_BYTES",
    "INSTANCE_CONFIG_ROUTES",
    "AttachedFiles",
    "Flow",
    "InstanceConfiguration",
    "email_address_id",
]

# The documented defaults for email (Connect feature specifications): these 18 types, "20 MB"
# (read as 10^6 bytes each, the stricter reading). DescribeAttachedFilesConfiguration answers the
# defaults when no custom configuration exists; it lists extensions without their dot.
DEFAULT_EMAIL_EXTENSIONS = (
    "csv", "doc", "docx", "heic", "jfif", "jpeg", "jpg", "mov", "mp4",
    "pdf", "png", "ppt", "pptx", "rtf", "txt", "wav", "xls", "xlsx",
)  # fmt: skip
DEFAULT_EMAIL_MAX_BYTES = 20_000_000

# (method, path pattern whose groups are the URI members, operation)
INSTANCE_CONFIG_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "GET",
        re.compile(r"/contact-flows/(?P<InstanceId>[^/]+)/(?P<ContactFlowId>[^/]+)"),
        "DescribeContactFlow",
    ),
    (
        "GET",
        re.compile(r"/flow-associations/(?P<InstanceId>[^/]+)/(?P<ResourceId>[^/]+)/(?P<ResourceType>[^/]+)"),
        "GetFlowAssociation",
    ),
    (
        "GET",
        re.compile(r"/attached-files-configurations/(?P<InstanceId>[^/]+)/(?P<AttachmentScope>[^/]+)"),
        "DescribeAttachedFilesConfiguration",
    ),
)


def email_address_id(address: str) -> str:
    """The emulator's stable id for one of an instance's email addresses."""
    return hashlib.sha256(address.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Flow:
    """One flow of an instance, as DescribeContactFlow describes it."""

    flow_id: str
    name: str
    type: str = "CONTACT_FLOW"  # the model's ContactFlowType; "CONTACT_FLOW" is an inbound flow
    state: str = "ACTIVE"  # or ARCHIVED
    status: str = "PUBLISHED"  # SAVED: never published, so DescribeContactFlow refuses it


@dataclass(frozen=True)
class AttachedFiles:
    """An instance's attached-files configuration for email: extensions as Connect lists them (no dot)."""

    extensions: tuple[str, ...] = DEFAULT_EMAIL_EXTENSIONS
    max_bytes: int = DEFAULT_EMAIL_MAX_BYTES

    def __post_init__(self) -> None:
        # The model's own bounds (AttachedFilesConfiguration, FileExtension): a test cannot configure
        # what Connect could not hold.
        if not 1 <= self.max_bytes <= 104_857_600:
            raise ValueError("max_bytes must be 1-104857600 (MaximumSizeLimitInBytes)")
        if not all(re.fullmatch(r"[a-zA-Z0-9_-]{1,10}", e) for e in self.extensions):
            raise ValueError("extensions are 1-10 letters, digits, '-' or '_', without the dot")

    @property
    def dotted(self) -> tuple[str, ...]:
        return tuple(f".{e.lower()}" for e in self.extensions)


class InstanceConfiguration:
    """Flows and flow associations per instance (None: the emulator knows no flows and checks none)
    and the email attached-files configuration, answered by the read operations."""

    def __init__(
        self,
        flows: Mapping[str, Collection[Flow]] | None,
        address_flows: Mapping[str, Mapping[str, str]] | None,
        attached_files: AttachedFiles,
        *,
        instance_arn: Callable[[str], str],
        known_instance: Callable[[str], None],
        addresses: Callable[[str], Collection[str]],
        error: Callable[..., ConnectError],  # ConnectError: (code, message)
    ) -> None:
        self.flows = None if flows is None else {i: {f.flow_id: f for f in fs} for i, fs in flows.items()}
        self.address_flows = {i: dict(a) for i, a in (address_flows or {}).items()}
        self.attached_files = attached_files
        self._instance_arn = instance_arn
        self._known_instance = known_instance
        self._addresses = addresses
        self._error = error

    def handlers(self) -> dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]]:
        return {
            "DescribeContactFlow": self._describe_contact_flow,
            "GetFlowAssociation": self._get_flow_association,
            "DescribeAttachedFilesConfiguration": self._describe_attached_files_configuration,
        }

    def check_flow(self, instance_id: str, flow_id: str | None) -> None:
        """StartEmailContact: a named flow must be a flow of an instance whose flows are configured."""
        if flow_id is None or self.flows is None:
            return
        if flow_id not in self.flows.get(instance_id, {}):
            raise self._error(
                "ResourceNotFoundException", f"ContactFlowId {flow_id} is not a flow of the instance"
            )

    def flow_arn(self, instance_id: str, flow_id: str) -> str:
        return f"{self._instance_arn(instance_id)}/contact-flow/{flow_id}"

    def _describe_contact_flow(self, params: Mapping[str, Any]) -> dict[str, Any]:
        instance_id, flow_id = params["InstanceId"], params["ContactFlowId"]
        self._known_instance(instance_id)
        flow = (self.flows or {}).get(instance_id, {}).get(flow_id)
        if flow is None:
            raise self._error("ResourceNotFoundException", f"Flow {flow_id} not found")
        if flow.status != "PUBLISHED":
            raise self._error("ContactFlowNotPublishedException", f"Flow {flow_id} is not published")
        return {
            "ContactFlow": {
                "Arn": self.flow_arn(instance_id, flow_id),
                "Id": flow_id,
                "Name": flow.name,
                "Type": flow.type,
                "State": flow.state,
                "Status": flow.status,
            }
        }

    def _get_flow_association(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The flow an email address starts. The API reference documents ResourceId as an ARN for
        phone numbers only; for an email address the emulator takes its ARN or its id (both readings)."""
        instance_id, resource_id, kind = params["InstanceId"], params["ResourceId"], params["ResourceType"]
        self._known_instance(instance_id)
        if kind != "INBOUND_EMAIL":
            raise self._error(
                "InvalidRequestException", "The emulator models INBOUND_EMAIL associations only"
            )
        prefix = f"{self._instance_arn(instance_id)}/email-address/"
        wanted = resource_id.removeprefix(prefix)
        address = next((a for a in self._addresses(instance_id) if email_address_id(a) == wanted), None)
        flow_id = None if address is None else self.address_flows.get(instance_id, {}).get(address)
        if flow_id is None:
            raise self._error("ResourceNotFoundException", f"No flow is associated with {resource_id}")
        return {"ResourceId": resource_id, "FlowId": flow_id, "ResourceType": kind}

    def _describe_attached_files_configuration(self, params: Mapping[str, Any]) -> dict[str, Any]:
        instance_id, scope = params["InstanceId"], params["AttachmentScope"]
        self._known_instance(instance_id)
        if scope != "EMAIL":
            raise self._error("InvalidParameterException", "The emulator models the EMAIL scope only")
        return {
            "AttachedFilesConfiguration": {
                "InstanceId": instance_id,
                "AttachmentScope": scope,
                "MaximumSizeLimitInBytes": self.attached_files.max_bytes,
                "ExtensionConfiguration": {
                    "AllowedExtensions": [{"Extension": e} for e in self.attached_files.extensions]
                },
            }
        }
