"""The composition root builds the adapters the settings call for, over the clients it is given."""

from __future__ import annotations

from dataclasses import replace

import boto3
import pytest

from ses_to_connect.adapters.connect import ContactStarter
from ses_to_connect.adapters.ledger import ContactLedger
from ses_to_connect.adapters.threads import ThreadIndex
from ses_to_connect.composition import Clients, build_pipeline
from ses_to_connect.settings import ConnectAddress, Settings

SETTINGS = Settings(
    instance_id="11111111-2222-3333-4444-555555555555",
    connect_addresses=(ConnectAddress("support@example.com"),),
    mail_bucket="mail-bucket",
)


def clients(*services: str) -> Clients:
    made = {name: boto3.client(name, region_name="us-east-1") for name in ("s3", "connect", *services)}
    return Clients(**made)


def test_only_the_core_adapters_without_tables_or_queue() -> None:
    given = clients()

    bridge = build_pipeline(SETTINGS, given)

    assert isinstance(bridge.io.contacts, ContactStarter)
    assert bridge.io.contacts._client is given.connect
    assert (bridge.io.ledger, bridge.io.threads, bridge.io.replies, bridge.io.failures) == (None,) * 4


def test_the_tables_use_the_dynamodb_client_given() -> None:
    settings = replace(SETTINGS, idempotency_table="ledger", threads_table="threads")
    given = clients("dynamodb")

    bridge = build_pipeline(settings, given)

    assert isinstance(bridge.io.ledger, ContactLedger)
    assert bridge.io.ledger._client is given.dynamodb
    assert isinstance(bridge.io.threads, ThreadIndex)
    assert bridge.io.threads._client is given.dynamodb


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        (replace(SETTINGS, idempotency_table="ledger"), "dynamodb"),
        (replace(SETTINGS, threads_table="threads"), "dynamodb"),
        (
            replace(SETTINGS, failure_queue_url="https://sqs.us-east-1.amazonaws.com/111122223333/failures"),
            "sqs",
        ),
    ],
)
def test_a_client_the_settings_need_is_asked_for_by_name(settings: Settings, missing: str) -> None:

    with pytest.raises(ValueError, match=rf"Clients\.{missing} is needed"):
        build_pipeline(settings, clients())
