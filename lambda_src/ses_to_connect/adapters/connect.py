"""``StartEmailContact`` behind one method, with Connect's errors sorted into retryable and permanent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ses_to_connect.errors import IdempotencyConflict, PermanentDeliveryError, RetryableDeliveryError

if TYPE_CHECKING:  # type stubs only: the function's asset needs nothing of them at run time
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

# botocore already retried these (standard/adaptive mode) before they reach us; Lambda's own
# asynchronous retries give them more time.
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "InternalServiceException",
        "ServiceUnavailableException",
        "TooManyRequestsException",
    }
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
        earlier attempt created the contact.
        """
        try:
            response = self._client.start_email_contact(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            message = f"StartEmailContact failed: {code}: {error.get('Message', '')}"
            if code == "IdempotencyException":
                raise IdempotencyConflict(message, code=code) from exc
            if code in RETRYABLE_CODES or status >= 500:
                raise RetryableDeliveryError(message, code=code) from exc
            raise PermanentDeliveryError(message, code=code, reason=_reason(exc.response)) from exc
        except BotoCoreError as exc:  # timeouts and connection errors, after botocore's retries
            raise RetryableDeliveryError(f"StartEmailContact failed: {exc}", code=type(exc).__name__) from exc
        return str(response["ContactId"])


def _reason(response: Mapping[str, Any]) -> str | None:
    """Connect's modeled reason (e.g. INVALID_FILE_SIZE), from whichever reason member is set."""
    reason = response.get("Reason")
    if isinstance(reason, Mapping):
        return next((str(value) for value in reason.values() if value), None)
    return str(reason) if reason else None
