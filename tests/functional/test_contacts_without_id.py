"""The "exists, id unknown" outcome is counted in its own metric, for the stack's alarm."""

from __future__ import annotations

import boto3
import pytest

from ses_to_connect.errors import DeliveryError
from ses_to_connect.event_builder import build_ses_event
from tests.support.constants import SUPPORT
from tests.support.mail import handwritten

from . import bridge_env as base_env
from . import create_ledger_table, emf_metrics, running_bridge

MESSAGE_ID = "k2lost0answer0retried0after0create0000001"
TABLE = "ses-to-connect-idempotency-test"
RAW = handwritten(
    [
        "From: Customer <customer@example.org>",
        f"To: {SUPPORT}",
        "Subject: Where is my answer?",
        "Message-ID: <lost-answer@example.org>",
        "MIME-Version: 1.0",
    ],
    "Hello.\r\n",
    cte=None,
)


def test_a_contact_that_exists_without_its_id_is_counted(
    fake_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    env = base_env(IDEMPOTENCY_TABLE=TABLE, CONNECT_MAX_ATTEMPTS="1")
    with running_bridge(env) as bridge:
        create_ledger_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        bridge.store(RAW, MESSAGE_ID)
        event = build_ses_event(RAW, message_id=MESSAGE_ID, recipients=[SUPPORT])
        # The first attempt reaches Connect, which creates the contact; its answer is lost.
        bridge.stubber.add_client_error(
            "start_email_contact", service_error_code="InternalServiceException", http_status_code=500
        )
        with pytest.raises(DeliveryError) as raised:
            bridge.invoke(event)
        assert raised.value.retryable is True
        capsys.readouterr()
        # The retry's request differs (say, its settings changed): Connect will not say the id.
        bridge.stubber.add_client_error(
            "start_email_contact", service_error_code="IdempotencyException", http_status_code=409
        )

        result = bridge.invoke(event)

    message = result["messages"][0]
    assert (message["outcome"], message["contactIds"], message["contactsWithoutId"]) == ("contact", [], 1)
    assert emf_metrics(capsys.readouterr().out) == {"ContactsWithoutId": [1.0]}


def test_every_skipped_file_is_counted_when_the_ledger_keeps_only_some_names(fake_aws: None) -> None:
    """990 files over Connect's 10: the delivery record names some, and the listing counts all."""
    boundary = "files"
    parts = [
        f"--{boundary}\r\nContent-Type: application/pdf\r\n"
        f"Content-Disposition: attachment; filename=file-{'x' * 60}-{n:04}.pdf\r\n\r\n%PDF\r\n"
        for n in range(1000)
    ]
    raw = handwritten(
        [
            "From: Customer <customer@example.org>",
            f"To: {SUPPORT}",
            "Subject: A thousand files",
            "Message-ID: <thousand@example.org>",
            "MIME-Version: 1.0",
        ],
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nSee the files.\r\n"
        + "".join(parts)
        + f"--{boundary}--\r\n",
        content_type=f'multipart/mixed; boundary="{boundary}"',
        cte=None,
    )
    message_id = "k2thousand0files0counted0000000000000001"
    with running_bridge(base_env(IDEMPOTENCY_TABLE=TABLE)) as bridge:
        create_ledger_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        bridge.store(raw, message_id)
        bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})

        result = bridge.invoke(build_ses_event(raw, message_id=message_id, recipients=[SUPPORT]))

    assert result["messages"][0]["attachmentsSkipped"] == {"too_many": 990}
    listing = bridge.sent[0]["Attributes"]["sesAttachmentsSkipped"]
    named = listing.count("(too_many)")
    assert listing.endswith(f"; … and {990 - named} more")
