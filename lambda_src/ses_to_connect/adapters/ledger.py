"""Exactly-once contacts: what was sent, and what was created, in the idempotency table.

Two kinds of item share the table:

* the **delivery** of each message (:class:`~ses_to_connect.delivery.DeliveryRecord`: signed
  attachment URLs, thread root, fallbacks taken), written before the first StartEmailContact,
  so that a retry sends Connect byte-identical requests and Connect answers with the contact
  it already created; its presence is also how the pipeline knows an earlier attempt may have
  reached Connect;
* one Powertools idempotency record per ClientToken, holding the ContactId once created:
  a duplicate invocation that finds every destination completed skips uploads and Connect
  calls altogether, and two invocations racing each other cannot both call Connect (the
  loser gets a retryable :class:`DeliveryError` and Lambda retries it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import BaseError as IdempotencyError
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyItemNotFoundError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext

from ses_to_connect.adapters.aws_errors import translated
from ses_to_connect.adapters.table_keys import table_key
from ses_to_connect.delivery import DeliveryRecord
from ses_to_connect.errors import DeliveryError, StorageError

if TYPE_CHECKING:  # type stubs only
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

# Fixed, so that renaming or redeploying the function keeps the records it wrote.
KEY_PREFIX = "ses-to-connect#StartEmailContact"
DELIVERY_PREFIX = "ses-to-connect#Delivery#"


class ContactLedger:
    def __init__(
        self,
        persistence: BasePersistenceLayer,
        ttl_seconds: int,
        *,
        client: Any,
        table: str,
        in_progress_seconds: float,
    ) -> None:
        """``persistence`` keeps the Powertools records; ``client`` and ``table`` the deliveries.

        ``in_progress_seconds``: how long a record stays "in progress" at most, the longest the
        Connect call it guards can take (``timing.in_progress_lock_seconds``).
        """
        self._client = client
        self._table = table
        self._ttl_seconds = ttl_seconds
        self._in_progress_millis = int(in_progress_seconds * 1000)
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
        """Lets an in-progress record expire once the Connect call it guards is over, or with the
        invocation if that ends sooner.

        Powertools ends the lock when the invocation would time out (300 s by default), longer
        than Lambda's retries wait after a hard kill (out of memory, timeout), which would then
        find the lock held and send the event to the failure queue. Ended with the call instead,
        the retry takes the lock over and replays the recorded request byte for byte under the
        same ClientToken: Connect answers with the contact it created (docs/exactly-once.md).
        """
        capped = _LockTime(context, self._in_progress_millis)
        self._config.register_lambda_context(cast(LambdaContext, capped))

    def known_contact(self, token: str) -> list[str] | None:
        """The contact recorded for ``token``: None if no invocation completed it, else its id
        (an empty list when the contact exists but Connect never told its id)."""
        with translated("cannot read the idempotency table"):  # Powertools lets botocore's through
            try:
                record = self._persistence.get_record({"ClientToken": token})
            except IdempotencyItemNotFoundError:
                return None
            if record is None or record.status != "COMPLETED":
                return None
            response = record.response_json_as_dict() or {}  # a damaged record fails here, translated
        contact_id = response.get("ContactId")
        return [str(contact_id)] if contact_id else []

    def delivery(self, message_id: str) -> DeliveryRecord | None:
        """The delivery an earlier invocation stored for this SES message, if any."""
        with translated("cannot read the idempotency table"):
            item = self._client.get_item(
                TableName=self._table, Key={"id": {"S": _delivery_key(message_id)}}, ConsistentRead=True
            ).get("Item")
            # A damaged item fails here, as a permanent error: every retry would read it the same.
            return None if item is None else DeliveryRecord.from_json(item["delivery"]["S"])

    def save_delivery(self, message_id: str, delivery: DeliveryRecord, *, first: bool) -> DeliveryRecord:
        """Store ``delivery``; the first one stored wins, so racing invocations send the same URLs.

        Returns what is stored: ``delivery``, or with ``first`` the one another invocation
        stored a moment earlier.
        """
        item = {
            "id": {"S": _delivery_key(message_id)},
            "delivery": {"S": delivery.to_json()},
            "expiration": {"N": str(int(time.time()) + self._ttl_seconds)},  # the table's TTL
        }
        condition = {"ConditionExpression": "attribute_not_exists(id)"} if first else {}
        try:
            with translated("cannot write the idempotency table"):
                self._client.put_item(TableName=self._table, Item=item, **condition)
        except StorageError as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise
            stored = self.delivery(message_id)
            if stored is None:  # expired by TTL between the two calls: this one is as good
                return self.save_delivery(message_id, delivery, first=False)
            return stored
        return delivery

    def start_once(
        self,
        request: StartEmailContactRequestTypeDef,
        start: Callable[[StartEmailContactRequestTypeDef], str | None],
    ) -> str | None:
        """``start(request)`` unless a record for its ClientToken exists; the record stores the ContactId
        (None: the contact exists, Connect never said its id)."""

        try:
            result = self._start_and_record(request=dict(request), start=start)
        except IdempotencyAlreadyInProgressError as exc:
            raise DeliveryError(
                "another invocation is creating this contact", code="InProgress", retryable=True
            ) from exc
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as exc:
            # The table failed, or changed under Powertools' three tries: a later attempt may pass.
            raise StorageError(f"cannot write the idempotency table: {exc}", code=type(exc).__name__) from exc
        except IdempotencyError as exc:  # a record or key Powertools refuses: the same on every retry
            raise StorageError(
                f"the idempotency table refused the record: {exc}", code=type(exc).__name__, retryable=False
            ) from exc
        return result["ContactId"]


class _LockTime:
    """The context as Powertools' in-progress expiry reads it: the invocation's time left, capped."""

    def __init__(self, context: LambdaContext, cap_millis: int) -> None:
        self._context = context
        self._cap_millis = cap_millis

    def get_remaining_time_in_millis(self) -> int:
        return min(self._context.get_remaining_time_in_millis(), self._cap_millis)


def _delivery_key(message_id: str) -> str:
    """SES's ids are short; an operator's hand-made event may carry any id."""
    return table_key(DELIVERY_PREFIX + message_id)


def _start_and_record(
    request: StartEmailContactRequestTypeDef, start: Callable[[StartEmailContactRequestTypeDef], str | None]
) -> dict[str, str | None]:
    """What the idempotency record stores: only the ContactId (the key is the ClientToken)."""
    return {"ContactId": start(request)}
