"""botocore's errors, translated into the function's at each adapter's I/O boundary.

As httpx maps its transport's exceptions in one context manager, every AWS call in the
adapters runs inside ``with translated(...)``, and each adapter says only which error codes
are permanent for it. Whether an error is worth retrying is decided here, once, and travels
as data (:attr:`~ses_to_connect.errors.BridgeError.retryable`) to the handler.
"""

from __future__ import annotations

import contextlib
from collections.abc import Container, Iterator, Mapping
from typing import Any, Protocol

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    DataNotFoundError,
    InvalidConfigError,
    MissingParametersError,
    NoRegionError,
    ParamValidationError,
    ValidationError,
)

from ses_to_connect.errors import BridgeError, StorageError

# Raised before any request is sent, by the request's parameters or the client's own
# configuration: the same call fails the same way on every retry. Every other botocore error
# (timeouts, connection errors) comes after botocore's own retries and may pass later.
NOT_RETRYABLE = (
    ParamValidationError,
    ValidationError,
    MissingParametersError,
    DataNotFoundError,
    NoRegionError,
    InvalidConfigError,
)


class ErrorFactory(Protocol):
    """Makes the function's error from a translated one (``response``: the service's, if it answered)."""

    def __call__(
        self, message: str, *, code: str, retryable: bool, response: Mapping[str, Any]
    ) -> BridgeError: ...


class EveryCodeBut:
    """Every error code except ``codes``: for a service whose unexpected refusals are permanent."""

    def __init__(self, *codes: str) -> None:
        self._codes = frozenset(codes)

    def __contains__(self, code: object) -> bool:
        return code not in self._codes


def storage_error(message: str, *, code: str, retryable: bool, response: Mapping[str, Any]) -> StorageError:
    return StorageError(message, code=code, retryable=retryable)


@contextlib.contextmanager
def translated(
    what: str,
    *,
    permanent: Container[str] = frozenset(),
    error: ErrorFactory = storage_error,
    service_message: bool = True,
) -> Iterator[None]:
    """Raise botocore's errors inside the block as ``error("<what>: <code>: <message>")``.

    A service's refusal (``ClientError``) is retryable when the service failed (HTTP 5xx) or
    its code is not in ``permanent``; ``service_message=False`` leaves out a message that only
    restates the code (S3's). Any other botocore error is retryable unless it is one of
    :data:`NOT_RETRYABLE`. Anything else a library raises inside the block (botocore's signer
    meeting a header it cannot encode raises ``AttributeError``) is the function's error too:
    permanent, since the same request meets it on every retry, except an ``OSError`` (the
    network below botocore), which may pass.
    """
    try:
        yield
    except BridgeError:
        raise
    except ClientError as exc:
        details = exc.response.get("Error", {})
        code = str(details.get("Code") or "Unknown")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        text = str(details.get("Message") or "") if service_message else ""
        raise error(
            f"{what}: {code}: {text}" if text else f"{what}: {code}",
            code=code,
            retryable=status >= 500 or code not in permanent,
            response=exc.response,
        ) from exc
    except BotoCoreError as exc:
        raise error(
            f"{what}: {exc}",
            code=type(exc).__name__,
            retryable=not isinstance(exc, NOT_RETRYABLE),
            response={},
        ) from exc
    except Exception as exc:
        raise error(
            f"{what}: {type(exc).__name__}: {exc}",
            code=type(exc).__name__,
            retryable=isinstance(exc, OSError),
            response={},
        ) from exc
