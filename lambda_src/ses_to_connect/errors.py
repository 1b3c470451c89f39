"""The project's exception tree; botocore errors are translated into it inside the adapters.

BridgeError
├── DeliveryError               a message could not be turned into its contacts yet
│   ├── RetryableDeliveryError  throttling, 5xx, timeouts: raise so Lambda retries
│   └── PermanentDeliveryError  the request or configuration is wrong: retrying won't help
│       └── IdempotencyConflict Connect knows the ClientToken from a request with other parameters
├── StorageError                the stored message could not be read or quarantined
└── UnsupportedRuntimeError     the Lambda runtime's SDK lacks an API the function needs
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error this project raises on purpose."""


class DeliveryError(BridgeError):
    def __init__(self, message: str, *, code: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason  # Connect's modeled reason, e.g. INVALID_FILE_SIZE


class RetryableDeliveryError(DeliveryError):
    """Connect (or the network) failed in a way that may pass: throttling, 5xx, timeouts."""


class PermanentDeliveryError(DeliveryError):
    """Connect rejected the request for good (bad flow id, access denied, invalid request)."""


class IdempotencyConflict(PermanentDeliveryError):
    """``IdempotencyException``: the ClientToken was used before with other parameters.

    Whether that means "the contact exists" is for the pipeline to decide, from what the
    ledger knows about earlier attempts; on its own it is an error, never a success.
    """


class StorageError(BridgeError):
    """S3 or DynamoDB failed; ``permanent`` when retrying cannot help (no such object, no access)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class UnsupportedRuntimeError(BridgeError):
    """Raised at cold start, before any message is touched: every event fails and is retried."""
