"""``StartEmailContact`` behind one method, with Connect's errors sorted into retryable and permanent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ses_to_connect.adapters.aws_errors import EveryCodeBut, translated
from ses_to_connect.errors import AttachmentsRejected, DeliveryError, IdempotencyConflict

if TYPE_CHECKING:  # type stubs only: the function's asset needs nothing of them at run time
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

# Only these refusals may pass later (and any 5xx): botocore already retried them (standard or
# adaptive mode) before they reach us, and Lambda's own asynchronous retries give them more
# time. Any other refusal (a bad flow id, access denied, an invalid request) is permanent.
PERMANENT = EveryCodeBut(
    "ThrottlingException",
    "InternalServiceException",
    "ServiceUnavailableException",
    "TooManyRequestsException",
)
# Reasons Connect gives for refusing attachments; the contact can still be created without them.
ATTACHMENT_REJECTIONS = frozenset(
    {
        "INVALID_FILE_SIZE",
        "INVALID_FILE_TYPE",
        "INVALID_FILE_NAME",
        "TOTAL_FILE_SIZE_EXCEEDED",
        "TOTAL_FILE_COUNT_EXCEEDED",
    }
)


class ContactStarter:
    def __init__(self, client: Any) -> None:
        self._client = client

    def start(self, request: StartEmailContactRequestTypeDef) -> str:
        """Create the contact and return its id.

        ``IdempotencyException`` (this ClientToken came before with other parameters) raises
        :class:`IdempotencyConflict`: only the caller, with the ledger, can tell whether an
        earlier attempt created the contact. Refused attachments raise :class:`AttachmentsRejected`.
        """
        with translated("StartEmailContact failed", permanent=PERMANENT, error=_delivery_error):
            response = self._client.start_email_contact(**request)
        contact_id = response.get("ContactId")
        if not isinstance(contact_id, str) or not contact_id:
            # Connect answered 200 but did not say which contact: the contact may exist. A retry
            # sends this very request under the same ClientToken, which Connect answers with the
            # contact it created, so retrying cannot make a second one.
            raise DeliveryError(
                "StartEmailContact answered without a ContactId", code="MissingContactId", retryable=True
            )
        return contact_id


def _delivery_error(
    message: str, *, code: str, retryable: bool, response: Mapping[str, Any]
) -> DeliveryError:
    if code == "IdempotencyException":
        return IdempotencyConflict(message, code=code)
    if retryable:
        return DeliveryError(message, code=code, retryable=True)
    reason = _reason(response)
    if reason in ATTACHMENT_REJECTIONS:
        return AttachmentsRejected(message, code=code, reason=reason)
    return DeliveryError(message, code=code, reason=reason)


def _reason(response: Mapping[str, Any]) -> str | None:
    """Connect's modeled reason (e.g. INVALID_FILE_SIZE), from whichever reason member is set."""
    reason = response.get("Reason")
    if isinstance(reason, Mapping):
        return next((str(value) for value in reason.values() if value), None)
    return str(reason) if reason else None
