"""The Powertools idempotency internals that ``adapters/ledger.py`` relies on, pinned.

The ledger reads Powertools' records itself (``BasePersistenceLayer.configure`` and
``get_record``, ``DataRecord``), outside the decorator that normally calls them, and shares
the table with items of its own. None of that is Powertools' documented interface, so an
upgrade may change it without notice: each check here names what changed, and the tests run
the real ledger against DynamoDB (moto) so that a change in behaviour fails here too, not in
production.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from aws_lambda_powertools.shared.version import VERSION
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from moto import mock_aws

from ses_to_connect.adapters.ledger import KEY_PREFIX, ContactLedger
from ses_to_connect.delivery import DeliveryRecord
from ses_to_connect.errors import DeliveryError, StorageError

from . import FakeLambdaContext, create_ledger_table

if TYPE_CHECKING:
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

TABLE = "ses-to-connect-idempotency-contract"
TOKEN = "3f1c0ffee"


def pinned(holds: bool, what: str) -> None:
    assert holds, (
        f"aws-lambda-powertools {VERSION} changed {what}; adapters/ledger.py relies on it: "
        "adapt the ledger (and this contract) before upgrading"
    )


def parameters(function: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    return inspect.signature(function).parameters


def test_the_signatures_the_ledger_calls_are_unchanged() -> None:
    pinned(
        list(parameters(BasePersistenceLayer.configure)) == ["self", "config", "function_name", "key_prefix"],
        "BasePersistenceLayer.configure(config, function_name=None, key_prefix=None)",
    )
    pinned(
        list(parameters(BasePersistenceLayer.get_record)) == ["self", "data"],
        "BasePersistenceLayer.get_record(data)",
    )
    pinned(
        isinstance(inspect.getattr_static(DataRecord, "status"), property), "DataRecord.status (a property)"
    )
    pinned(
        list(parameters(DataRecord.response_json_as_dict)) == ["self"], "DataRecord.response_json_as_dict()"
    )
    pinned(
        list(parameters(IdempotencyConfig.register_lambda_context)) == ["self", "lambda_context"],
        "IdempotencyConfig.register_lambda_context(lambda_context)",
    )
    pinned(
        {"event_key_jmespath", "raise_on_no_idempotency_key", "expires_after_seconds"}
        <= set(parameters(IdempotencyConfig)),
        "IdempotencyConfig's event_key_jmespath, raise_on_no_idempotency_key, expires_after_seconds",
    )
    pinned(
        {"data_keyword_argument", "persistence_store", "config", "key_prefix"}
        <= set(parameters(idempotent_function)),
        "idempotent_function's data_keyword_argument, persistence_store, config, key_prefix",
    )
    layer = parameters(DynamoDBPersistenceLayer)
    # The ledger writes its delivery items into the same table, under the same key and TTL attribute.
    pinned(
        (layer["key_attr"].default, layer["expiry_attr"].default) == ("id", "expiration"),
        "DynamoDBPersistenceLayer's default key_attr 'id' and expiry_attr 'expiration'",
    )
    pinned({"table_name", "boto3_client"} <= set(layer), "DynamoDBPersistenceLayer(table_name, boto3_client)")


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_ledger_table(client, TABLE)
        yield client


class RunningInvocation(FakeLambdaContext):
    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def request(**members: str) -> StartEmailContactRequestTypeDef:
    """Only the ClientToken matters to the ledger; the rest of a real request is left out."""
    return cast("StartEmailContactRequestTypeDef", {"ClientToken": TOKEN, **members})


def ledger(client: Any, table: str = TABLE, *, lock_seconds: float = 30) -> ContactLedger:
    """A ledger as a fresh container builds it (handler.pipeline)."""
    persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
    built = ContactLedger(persistence, 3600, client=client, table=table, in_progress_seconds=lock_seconds)
    built.register_context(RunningInvocation())  # as the handler does on each invocation
    return built


class HardKill(BaseException):
    """Dies as a killed process does: Powertools catches Exception only, so the lock stays."""


def killed(request: StartEmailContactRequestTypeDef) -> str:
    """The function dies during the Connect call (its answer arrived or not)."""
    raise HardKill


def in_progress_expiry(client: Any) -> float:
    """Seconds from now until the token's in-progress record expires (Powertools' attribute, in ms)."""
    [item] = [i for i in client.scan(TableName=TABLE)["Items"] if i["id"]["S"].startswith(KEY_PREFIX)]
    pinned(item["status"]["S"] == "INPROGRESS", "the status of a record in progress")
    return int(item["in_progress_expiration"]["N"]) / 1000 - time.time()


def test_the_in_progress_lock_ends_with_the_connect_call_and_then_a_retry_takes_it_over(
    dynamodb: Any,
) -> None:
    """The lock lasts as long as the Connect call may, not the invocation's remaining time (300 s),
    which would outlast Lambda's retries."""
    with pytest.raises(HardKill):
        ledger(dynamodb, lock_seconds=1.5).start_once(request(), killed)
    left = in_progress_expiry(dynamodb)
    pinned(0.5 < left <= 1.5, f"in_progress_expiration = now + get_remaining_time_in_millis() (left: {left})")
    with pytest.raises(DeliveryError) as raised:  # the lock still holds: Lambda retries later
        ledger(dynamodb).start_once(request(), lambda _: "never sent")
    assert raised.value.code == "InProgress"

    time.sleep(left + 0.1)

    retry = ledger(dynamodb)
    pinned(retry.start_once(request(), lambda _: "contact-1") == "contact-1", "taking over an expired lock")
    assert retry.known_contact(TOKEN) == ["contact-1"]


def test_the_lock_never_outlasts_the_invocation(dynamodb: Any) -> None:
    with pytest.raises(HardKill):
        ledger(dynamodb, lock_seconds=600).start_once(request(), killed)
    assert 55 < in_progress_expiry(dynamodb) <= 60  # RunningInvocation has 60 s left


def test_a_recorded_contact_is_found_by_a_fresh_ledger_under_a_stable_key(dynamodb: Any) -> None:
    ledger(dynamodb).start_once(request(Other="x"), lambda request: "contact-1")

    fresh = ledger(dynamodb)  # another container, after a redeploy or a rename of the function
    assert fresh.known_contact(TOKEN) == ["contact-1"]
    assert fresh.known_contact("never-sent") is None
    [item] = [i for i in dynamodb.scan(TableName=TABLE)["Items"] if i["id"]["S"].startswith(KEY_PREFIX)]
    # Records written before an upgrade must still be found after it: the key may not change.
    expected = f"{KEY_PREFIX}#{hashlib.md5(b'"' + TOKEN.encode() + b'"').hexdigest()}"  # noqa: S324
    pinned(
        item["id"]["S"] == expected, f"the idempotency key (md5 of the JSON ClientToken): {item['id']['S']}"
    )
    pinned(item["status"]["S"] == "COMPLETED", "the status of a completed record")


def test_a_second_start_while_the_first_runs_is_a_retryable_error(dynamodb: Any) -> None:
    first = ledger(dynamodb)
    racing = ledger(dynamodb)
    seen: list[list[str] | None] = []

    def start(request: StartEmailContactRequestTypeDef) -> str:
        seen.append(racing.known_contact(TOKEN))  # in progress: not a known contact
        with pytest.raises(DeliveryError) as raised:
            racing.start_once(request, lambda _: "contact-2")
        pinned(
            (raised.value.code, raised.value.retryable) == ("InProgress", True),
            "IdempotencyAlreadyInProgressError for a record in progress",
        )
        return "contact-1"

    assert first.start_once(request(), start) == "contact-1"
    assert seen == [None]
    assert racing.known_contact(TOKEN) == ["contact-1"]


def test_a_contact_without_an_id_is_known_but_has_none(dynamodb: Any) -> None:
    ledger(dynamodb).start_once(request(), lambda request: None)
    pinned(ledger(dynamodb).known_contact(TOKEN) == [], "response_json_as_dict() of a None ContactId")


def test_a_table_that_fails_raises_storage_error_from_every_ledger_call(dynamodb: Any) -> None:
    broken = ledger(dynamodb, table="no-such-table")
    calls: list[Callable[[], object]] = [
        lambda: broken.known_contact(TOKEN),
        lambda: broken.start_once(request(), lambda request: "contact-1"),
        lambda: broken.delivery("message"),
        lambda: broken.save_delivery("message", DeliveryRecord.signed([], [], None, {}), first=True),
    ]
    for call in calls:
        with pytest.raises(StorageError) as raised:
            call()
        assert raised.value.retryable is True


def test_a_damaged_delivery_item_is_a_permanent_storage_error_not_a_key_error(dynamodb: Any) -> None:
    dynamodb.put_item(
        TableName=TABLE, Item={"id": {"S": "ses-to-connect#Delivery#damaged"}, "delivery": {"S": "{"}}
    )
    with pytest.raises(StorageError) as raised:
        ledger(dynamodb).delivery("damaged")
    assert (raised.value.code, raised.value.retryable) == ("JSONDecodeError", False)
