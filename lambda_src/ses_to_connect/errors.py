"""The function's exception tree; botocore errors are translated into it inside the adapters.

BridgeError                     root: ``retryable`` and ``code`` are data, set where it is raised
├── EventError                  the event is not an SES receipt event
├── SettingsError               the configuration is unusable (every problem listed)
├── UnsupportedRuntimeError     the Lambda runtime's SDK lacks an API the function needs
├── StorageError                S3, DynamoDB or SQS failed (or refused) a read or a write
└── DeliveryError               Connect did not create a contact
    ├── AttachmentsRejected     Connect refused the files; the contact can be sent without them
    └── IdempotencyConflict     Connect knows the ClientToken from a request with other parameters

The handler decides once, from ``retryable``: raise so that Lambda retries, or send the event
to the failure queue at once because no retry can pass.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error this function raises on purpose.

    ``retryable``: whether a later attempt may pass (throttling, 5xx, timeouts) or never will
    (a wrong flow id, a missing object, a request botocore refuses to send). ``code`` names
    the cause in logs and in the handler's answer: the service's error code when a service
    refused, else the class name.
    """

    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.code = code or type(self).__name__
        if retryable is not None:
            self.retryable = retryable


class EventError(BridgeError):
    """The event is not an SES receipt event; nothing in it can be processed."""


class SettingsError(BridgeError):
    """The configuration is unusable; the message lists every problem found.

    Raised at cold start, before the failure queue is known: Lambda's retries and its
    on-failure destination keep the event, and an event retried after the fix passes.
    """

    retryable = True

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n  - " + "\n  - ".join(problems))


class UnsupportedRuntimeError(BridgeError):
    """Raised at cold start, before any message is touched: every event fails and is retried."""

    retryable = True


class StorageError(BridgeError):
    """S3, DynamoDB or SQS failed; by default a passing problem, worth a retry."""

    retryable = True


class DeliveryError(BridgeError):
    """Connect (or the network to it) did not create the contact."""

    def __init__(
        self, message: str, *, code: str, retryable: bool = False, reason: str | None = None
    ) -> None:
        super().__init__(message, code=code, retryable=retryable)
        self.reason = reason  # Connect's modeled reason, e.g. INVALID_FILE_SIZE


class AttachmentsRejected(DeliveryError):
    """Connect refused the attachments (``reason`` says why); the contact can be created without them."""


class IdempotencyConflict(DeliveryError):
    """``IdempotencyException``: the ClientToken was used before with other parameters.

    Whether that means "the contact exists" is for the pipeline to decide, from what the
    ledger knows about earlier attempts; on its own it is an error, never a success.
    """
