"""The "exists, id unknown" outcome is counted in its own metric (issue 12), for the stack's alarm."""

from __future__ import annotations

import boto3
import pytest

from ses_to_connect.errors import RetryableDeliveryError
from ses_to_connect.event_builder import build_ses_event

from . import SUPPORT, emf_metrics, mime, running_bridge
from . import bridge_env as base_env

MESSAGE_ID = "k2lost0answer0retried0after0create0000001"
TABLE = "ses-to-connect-idempotency-test"
RAW = mime(
    "From: Customer <customer@example.org>",
    f"To: {SUPPORT}",
    "Subject: Where is my answer?",
    "Message-ID: <lost-answer@example.org>",
    body="Hello.\r\n",
)


def test_a_contact_that_exists_without_its_id_is_counted(
    fake_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    env = base_env(IDEMPOTENCY_TABLE=TABLE, CONNECT_MAX_ATTEMPTS="1")
    with running_bridge(env) as bridge:
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        bridge.store(RAW, MESSAGE_ID)
        event = build_ses_event(RAW, message_id=MESSAGE_ID, recipients=[SUPPORT])
        # The first attempt reaches Connect, which creates the contact; its answer is lost.
        bridge.stubber.add_client_error(
            "start_email_contact", service_error_code="InternalServiceException", http_status_code=500
        )
        with pytest.raises(RetryableDeliveryError):
            bridge.invoke(event)
        capsys.readouterr()
        # The retry's request differs (say, its settings changed): Connect will not say the id.
        bridge.stubber.add_client_error(
            "start_email_contact", service_error_code="IdempotencyException", http_status_code=409
        )

        result = bridge.invoke(event)

    message = result["messages"][0]
    assert (message["outcome"], message["contactIds"], message["contactsWithoutId"]) == ("contact", [], 1)
    assert emf_metrics(capsys.readouterr().out) == {"ContactsWithoutId": [1.0]}
