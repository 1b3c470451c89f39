"""Exactly-once contacts: Powertools idempotency (DynamoDB) keyed by the request's ClientToken.

Connect's ClientToken already makes a byte-identical retry return the same contact; this
ledger adds what it cannot: a duplicate invocation that finds every destination recorded
as completed skips attachment uploads and Connect calls altogether, and two invocations
of the same event racing each other cannot both call Connect (the loser gets
:class:`RetryableDeliveryError` and Lambda retries it, by which time the record is complete).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemNotFoundError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext

from ses_to_connect.errors import RetryableDeliveryError, StorageError

# Fixed, so that renaming or redeploying the function keeps the records it wrote.
KEY_PREFIX = "ses-to-connect#StartEmailContact"


class ContactLedger:
    def __init__(self, persistence: BasePersistenceLayer, ttl_seconds: int) -> None:
        self._config = IdempotencyConfig(
            event_key_jmespath="ClientToken",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=ttl_seconds,
        )
        self._persistence = persistence
        persistence.configure(self._config, key_prefix=KEY_PREFIX)
        decorate = idempotent_function(
            data_keyword_argument="request",
            persistence_store=persistence,
            config=self._config,
            key_prefix=KEY_PREFIX,
        )
        self._start_and_record = cast(Callable[..., dict[str, str | None]], decorate(_start_and_record))

    def register_context(self, context: LambdaContext) -> None:
        """Lets an in-progress record expire with the invocation that wrote it, if that one dies."""
        self._config.register_lambda_context(context)

    def known_contact(self, token: str) -> list[str] | None:
        """The contact recorded for ``token``: None if no invocation completed it, else its id
        (an empty list when the contact exists but Connect never told its id)."""
        try:
            record = self._persistence.get_record({"ClientToken": token})
        except IdempotencyItemNotFoundError:
            return None
        except IdempotencyPersistenceLayerError as exc:
            raise StorageError(f"cannot read the idempotency table: {exc}") from exc
        if record is None or record.status != "COMPLETED":
            return None
        response = record.response_json_as_dict() or {}
        contact_id = response.get("ContactId")
        return [str(contact_id)] if contact_id else []

    def start_once(
        self, request: Mapping[str, Any], start: Callable[[Mapping[str, Any]], str | None]
    ) -> str | None:
        """``start(request)`` unless a record for its ClientToken exists; the record stores the ContactId."""

        try:
            result = self._start_and_record(request=dict(request), start=start)
        except IdempotencyAlreadyInProgressError as exc:
            raise RetryableDeliveryError(
                "another invocation is creating this contact", code="InProgress"
            ) from exc
        except IdempotencyPersistenceLayerError as exc:
            raise StorageError(f"cannot write the idempotency table: {exc}") from exc
        return result["ContactId"]


def _start_and_record(
    request: dict[str, Any], start: Callable[[Mapping[str, Any]], str | None]
) -> dict[str, str | None]:
    """What the idempotency record stores: only the ContactId (the key is the ClientToken)."""
    return {"ContactId": start(request)}
