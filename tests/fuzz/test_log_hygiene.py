"""INFO logs carry no message content and no addresses, only the SES message id to correlate.

The real handler (``ses_to_connect.handler.lambda_handler``) runs on moto's in-process S3 with
its own Connect client stubbed by ``botocore.stub.Stubber``. Everything it prints on stdout
(Powertools Logger JSON lines and the EMF metrics blob) is captured at INFO for a delivered
message, a quarantined one and one whose Connect call fails permanently, and searched for the
message's distinctive body text, subject, display name, every address (sender, recipients,
envelope sender) and attachment file name.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ses_to_connect import handler
from ses_to_connect.adapters.connect import ContactStarter
from ses_to_connect.errors import DeliveryError
from ses_to_connect.event_builder import build_ses_event
from tests.functional import FAKE_AWS_ENV, FakeLambdaContext
from tests.support.constants import INSTANCE_ID, SALES, SALES_FLOW, SUPPORT
from tests.support.environment import function_environment

from .strategies import BUCKET

MESSAGE_ID = "k7quokka0e2ic28trm7dfhrc2v0cfuzzlog4nbp0g"
NAMESPACE = "SesToConnectFuzzLogs"
SERVICE = "ses-to-connect-fuzz"

BODY_TEXT = "The quokka parcel 7731 never reached Zanzibar"
SUBJECT = "Marmalade complaint 4410"
DISPLAY_NAME = "Alice Quokkason"
SENDER = "alice.quokkason@customer-mail.example"
ENVELOPE_SENDER = "bounce-8812@mailer.customer-mail.example"
TO_OTHER = "bob.wallaby@partner-mail.example"
CC = "carol.numbat@partner-mail.example"
ATTACHMENT_NAME = "quokka-invoice-9931.pdf"
PRIVATE = (
    BODY_TEXT,
    "quokka parcel",
    "Zanzibar",
    SUBJECT,
    "Marmalade",
    DISPLAY_NAME,
    "Quokkason",
    SENDER,
    ENVELOPE_SENDER,
    TO_OTHER,
    CC,
    SUPPORT,
    "customer-mail.example",
    "partner-mail.example",
    ATTACHMENT_NAME,
    "quokka-invoice",
)

RAW = "\r\n".join(
    [
        f"Return-Path: <{ENVELOPE_SENDER}>",
        f'From: "{DISPLAY_NAME}" <{SENDER}>',
        f"To: Support <{SUPPORT}>, {TO_OTHER}",
        f"Cc: {CC}",
        f"Reply-To: {SENDER}",
        f"Subject: {SUBJECT}",
        "Message-ID: <marmalade-4410@customer-mail.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="LOGS"',
        "",
        "--LOGS",
        "Content-Type: text/plain; charset=utf-8",
        "",
        BODY_TEXT,
        "--LOGS",
        f'Content-Type: application/pdf; name="{ATTACHMENT_NAME}"',
        f'Content-Disposition: attachment; filename="{ATTACHMENT_NAME}"',
        "Content-Transfer-Encoding: base64",
        "",
        base64.b64encode(b"%PDF-1.4 quokka").decode(),
        "--LOGS--",
        "",
    ]
).encode()

ENVIRONMENT = {
    **FAKE_AWS_ENV,
    **function_environment(
        {
            "connectInstanceId": INSTANCE_ID,
            "connectAddresses": [{"address": SUPPORT}, {"address": SALES, "contactFlowId": SALES_FLOW}],
            "serviceName": SERVICE,
            "metricsNamespace": NAMESPACE,
        },
        bucket=BUCKET,
    ),
}
# Anything that would send boto3 elsewhere than moto and the stub, or log the whole event.
CLEARED = (
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_CONNECT",
    "POWERTOOLS_LOGGER_LOG_EVENT",
    "POWERTOOLS_DEBUG",
    "IDEMPOTENCY_TABLE",
    "THREADS_TABLE",
)


@dataclass
class Lambda:
    stubber: Stubber
    s3: Any
    monkeypatch: pytest.MonkeyPatch

    def invoke(self, **verdicts: str) -> None:
        """One invocation; the Logger writes to the ``sys.stdout`` of this moment (``capsys``)."""
        self.monkeypatch.setattr(handler.logger.registered_handler, "stream", sys.stdout)
        event = build_ses_event(
            RAW, message_id=MESSAGE_ID, recipients=[SUPPORT], verdicts=verdicts, source=ENVELOPE_SENDER
        )
        with contextlib.suppress(DeliveryError):
            handler.lambda_handler(event, FakeLambdaContext())


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lambda]:
    """The handler with its environment, moto S3 holding the message, and Connect stubbed.

    The Logger's level and the Metrics namespace are set as the stack's environment would set
    them at import time (the module may have been imported before this environment existed).
    """
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    assert isinstance(handler.logger.registered_handler, logging.StreamHandler)
    monkeypatch.setattr(handler.metrics, "namespace", NAMESPACE)
    monkeypatch.setattr(handler.metrics, "service", SERVICE)
    level = handler.logger.log_level
    handler.logger.setLevel(logging.INFO)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=f"inbound/{MESSAGE_ID}", Body=RAW)
        handler.pipeline.cache_clear()
        try:
            starter = handler.pipeline().io.contacts
            assert isinstance(starter, ContactStarter)
            stubber = Stubber(starter._client)
            with stubber:
                yield Lambda(stubber, s3, monkeypatch)
            stubber.assert_no_pending_responses()
        finally:
            handler.pipeline.cache_clear()
            handler.logger.setLevel(level)


def printed(capsys: pytest.CaptureFixture[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """Every non-empty stdout line, and the Powertools log records among them."""
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    logs = []
    for line in lines:
        value = json.loads(line)  # Powertools and EMF print JSON only
        if isinstance(value, dict) and "level" in value:
            logs.append(value)
    return lines, logs


def leaks(lines: list[str]) -> list[tuple[str, str]]:
    return [(item, line) for line in lines for item in PRIVATE if item.lower() in line.lower()]


def test_a_delivered_message_logs_nothing_personal(
    deployed: Lambda, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})

    deployed.invoke()

    lines, logs = printed(capsys)
    assert [(r["level"], r["message"]) for r in logs] == [
        ("INFO", "attachment stored"),
        ("INFO", "contacts created"),
    ]
    assert {r["correlation_id"] for r in logs} == {MESSAGE_ID}
    assert 0 < logs[0]["url_length"] <= 2000  # the length only, never the URL or the file name
    assert logs[1]["attachments_sent"] == 1
    assert leaks(lines) == []


def test_a_quarantined_message_logs_nothing_personal(
    deployed: Lambda, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.invoke(spam="FAIL")

    lines, logs = printed(capsys)
    assert [(r["level"], r["message"], r["reason"]) for r in logs] == [
        ("INFO", "message quarantined", "spam:FAIL")
    ]
    assert {r["correlation_id"] for r in logs} == {MESSAGE_ID}
    assert leaks(lines) == []
    assert deployed.s3.head_object(Bucket=BUCKET, Key=f"quarantine/{MESSAGE_ID}")["Metadata"] == {
        "quarantine-reason": "spam:FAIL",
        "ses-message-id": MESSAGE_ID,
    }


def test_a_permanent_connect_failure_logs_nothing_personal(
    deployed: Lambda, capsys: pytest.CaptureFixture[str]
) -> None:
    """Connect's own error message may quote the request: it must not be logged either."""
    deployed.stubber.add_client_error(
        "start_email_contact",
        service_error_code="InvalidRequestException",
        service_message=f"Invalid FromEmailAddress {SENDER} for {SUPPORT} ({SUBJECT})",
        http_status_code=400,
    )

    deployed.invoke()

    lines, logs = printed(capsys)
    # The wording of the ERROR line is the handler's to change; its level and code are the contract.
    assert [(r["level"], r.get("code")) for r in logs] == [
        ("INFO", None),  # attachment stored
        ("WARNING", "InvalidRequestException"),
        ("ERROR", "InvalidRequestException"),
    ]
    assert logs[1]["message"] == "contact not created"
    assert {r["correlation_id"] for r in logs} == {MESSAGE_ID}
    assert leaks(lines) == []
