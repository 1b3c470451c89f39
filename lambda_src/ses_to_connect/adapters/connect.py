"""``StartEmailContact`` behind one method, with Connect's errors sorted into retryable and permanent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ses_to_connect.errors import PermanentDeliveryError, RetryableDeliveryError

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

EXISTING_CONTACT = "existing-contact-id-unknown"


class ContactStarter:
    def __init__(self, client: Any) -> None:
        self._client = client

    def start(self, request: Mapping[str, Any]) -> str:
        """Create the contact and return its id.

        ``IdempotencyException`` means this ClientToken already created a contact with other
        parameters (a retry re-signs attachment URLs): the contact exists, exactly once, and
        Connect does not say its id, so :data:`EXISTING_CONTACT` stands in for it.
        """
        try:
            response = self._client.start_email_contact(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            if code == "IdempotencyException":
                return EXISTING_CONTACT
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            message = f"StartEmailContact failed: {code}: {error.get('Message', '')}"
            if code in RETRYABLE_CODES or status >= 500:
                raise RetryableDeliveryError(message, code=code) from exc
            raise PermanentDeliveryError(message, code=code) from exc
        except BotoCoreError as exc:  # timeouts and connection errors, after botocore's retries
            raise RetryableDeliveryError(f"StartEmailContact failed: {exc}", code=type(exc).__name__) from exc
        return str(response["ContactId"])
