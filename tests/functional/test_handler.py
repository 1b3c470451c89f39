"""``ses_to_connect.handler.lambda_handler`` end to end: moto S3, the real Connect client stubbed."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ses_to_connect import handler
from ses_to_connect.adapters.connect import ContactStarter
from ses_to_connect.adapters.s3 import MailStore
from ses_to_connect.convert import client_token
from ses_to_connect.errors import DeliveryError, SettingsError, StorageError, UnsupportedRuntimeError
from ses_to_connect.event_builder import build_ses_event
from tests.support.constants import INSTANCE_ID, SALES, SALES_FLOW, SUPPORT
from tests.support.mail import handwritten

from . import (
    BUCKET,
    NAMESPACE,
    SERVICE,
    Bridge,
    FakeLambdaContext,
    bridge_env,
    emf_blobs,
    emf_metrics,
    running_bridge,
)

MESSAGE_ID = "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"
BODY_TEXT = "Hello, my order 42 has not arrived yet."
# Everything personal in PLAIN: none of it may reach an INFO log.
PRIVATE = (
    BODY_TEXT,
    "has not arrived",
    "Alice Example",
    "alice@customer.example",
    "bob@customer.example",
    "carol@customer.example",
    "customer.example",
    SUPPORT,
    SALES,
    "Order 42 is late",
)
PLAIN = handwritten(
    [
        "Return-Path: <alice@customer.example>",
        'From: "Alice Example" <alice@customer.example>',
        f"To: Support <{SUPPORT}>, bob@customer.example",
        "Cc: carol@customer.example",
        "Subject: Order 42 is late",
        "Date: Tue, 01 Apr 2025 10:00:00 +0000",
        "Message-ID: <order-42@customer.example>",
        "MIME-Version: 1.0",
    ],
    BODY_TEXT + "\r\n",
    cte=None,
)
RAW_URI = f"s3://{BUCKET}/inbound/{MESSAGE_ID}"


def event_for(raw: bytes, recipients: list[str], **verdicts: str) -> dict[str, Any]:
    return build_ses_event(raw, message_id=MESSAGE_ID, recipients=recipients, verdicts=verdicts)


def expected_plain_request() -> dict[str, Any]:
    """The exact StartEmailContact parameters for PLAIN sent to SUPPORT."""
    return {
        "InstanceId": INSTANCE_ID,
        "FromEmailAddress": {"EmailAddress": "alice@customer.example", "DisplayName": "Alice Example"},
        "DestinationEmailAddress": SUPPORT,
        "Name": "Order 42 is late",
        "Description": "Email from Alice Example <alice@customer.example>: Order 42 is late",
        "References": {
            "rawMessage": {"Type": "STRING", "Value": RAW_URI},
            "sesMessageId": {"Type": "STRING", "Value": MESSAGE_ID},
        },
        "EmailMessage": {
            "MessageSourceType": "RAW",
            "RawMessage": {
                "Subject": "Order 42 is late",
                "Body": BODY_TEXT + "\r\n",
                "ContentType": "text/plain",
                "Headers": {
                    "MESSAGE_ID": "<order-42@customer.example>",
                    "X_SES_SPAM_VERDICT": "PASS",
                    "X_SES_VIRUS_VERDICT": "PASS",
                },
            },
        },
        "AdditionalRecipients": {
            # Every To and Cc address except the destination itself.
            "ToAddresses": [{"EmailAddress": "bob@customer.example"}],
            "CcAddresses": [{"EmailAddress": "carol@customer.example"}],
        },
        # Static attributes from STATIC_ATTRIBUTES first, then the bridge's own.
        "Attributes": {
            "brand": "example-brand",
            "sesMessageId": MESSAGE_ID,
            "sesEnvelopeSender": "alice@customer.example",
            "sesRawMessage": RAW_URI,
            "sesSpamVerdict": "PASS",
            "sesVirusVerdict": "PASS",
            "sesSpfVerdict": "PASS",
            "sesDkimVerdict": "PASS",
            "sesDmarcVerdict": "PASS",
        },
        # CONTACT_EXPIRY_MINUTES=1440
        "SegmentAttributes": {
            "connect:ContactExpiry": {"ValueMap": {"ExpiryDuration": {"ValueInteger": 1440}}}
        },
        "ClientToken": client_token(MESSAGE_ID, SUPPORT),
    }


def message_result(
    outcome: str, reason: str | None = None, contact_ids: tuple[str, ...] = (), message_id: str = MESSAGE_ID
) -> dict[str, Any]:
    """One entry of the handler's ``messages`` list (no attachments in these messages)."""
    return {
        "messageId": message_id,
        "outcome": outcome,
        "reason": reason,
        "contactIds": list(contact_ids),
        "attachmentsSent": 0,
        "attachmentsSkipped": {},
        "relatedContactId": None,
        "contactsWithoutId": 0,
        "duplicate": False,
    }


def contact_result(*contact_ids: str) -> dict[str, Any]:
    return {"disposition": "CONTINUE", "messages": [message_result("contact", None, contact_ids)]}


# --- the normal path ---------------------------------------------------------------------------


def test_plain_message_creates_one_contact_with_the_exact_request(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge.store(PLAIN, MESSAGE_ID)
    bridge.stubber.add_response(
        "start_email_contact", {"ContactId": "contact-1"}, expected_params=expected_plain_request()
    )

    result = bridge.invoke(event_for(PLAIN, [SUPPORT]))

    assert result == contact_result("contact-1")
    bridge.stubber.assert_no_pending_responses()
    assert emf_metrics(capsys.readouterr().out) == {"ContactsCreated": [1.0]}


def test_a_retried_invocation_sends_byte_identical_requests(bridge: Bridge) -> None:
    """Lambda may deliver an event twice: the same ClientToken lets Connect deduplicate."""
    bridge.store(PLAIN, MESSAGE_ID)
    for _ in range(2):
        bridge.stubber.add_response(
            "start_email_contact", {"ContactId": "contact-1"}, expected_params=expected_plain_request()
        )

    first = bridge.invoke(event_for(PLAIN, [SUPPORT]), request_id="aaaaaaaa-0000-4000-8000-000000000001")
    second = bridge.invoke(event_for(PLAIN, [SUPPORT]), request_id="aaaaaaaa-0000-4000-8000-000000000002")

    assert first == second == contact_result("contact-1")
    assert len(bridge.sent) == 2
    assert json.dumps(bridge.sent[0], sort_keys=True) == json.dumps(bridge.sent[1], sort_keys=True)
    bridge.stubber.assert_no_pending_responses()


def test_two_connect_addresses_among_the_recipients_give_two_contacts(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = PLAIN.replace(
        b"To: Support <support@example.com>,", b"To: Support <support@example.com>, sales@example.com,"
    )
    bridge.store(raw, MESSAGE_ID)
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-2"})

    result = bridge.invoke(event_for(raw, ["someone-else@example.org", SUPPORT, SALES.upper()]))

    assert result == contact_result("contact-1", "contact-2")
    bridge.stubber.assert_no_pending_responses()
    assert [r["DestinationEmailAddress"] for r in bridge.sent] == [SUPPORT, SALES]
    assert [r.get("ContactFlowId") for r in bridge.sent] == [None, SALES_FLOW]
    tokens = [r["ClientToken"] for r in bridge.sent]
    assert tokens == [client_token(MESSAGE_ID, SUPPORT), client_token(MESSAGE_ID, SALES)]
    assert tokens[0] != tokens[1]
    # Each contact lists the other Connect address as a recipient, never its own.
    assert bridge.sent[0]["AdditionalRecipients"]["ToAddresses"] == [
        {"EmailAddress": SALES},
        {"EmailAddress": "bob@customer.example"},
    ]
    assert bridge.sent[1]["AdditionalRecipients"]["ToAddresses"] == [
        {"EmailAddress": SUPPORT, "DisplayName": "Support"},
        {"EmailAddress": "bob@customer.example"},
    ]
    assert emf_metrics(capsys.readouterr().out) == {"ContactsCreated": [2.0]}


def test_bcc_only_mail_without_subject_invoked_request_response_is_delivered(bridge: Bridge) -> None:
    """The real SES shape that Powertools' strict SesModel would reject must not be lost."""
    raw = handwritten(
        [
            "Return-Path: <alice@customer.example>",
            "From: alice@customer.example",
            "Message-ID: <bcc-1@customer.example>",
            "MIME-Version: 1.0",
        ],
        "Blind copy.\r\n",
        cte=None,
    )
    event = event_for(raw, [SUPPORT])
    common_headers = event["Records"][0]["ses"]["mail"]["commonHeaders"]
    assert "subject" not in common_headers
    assert "to" not in common_headers
    event["Records"][0]["ses"]["receipt"]["action"]["invocationType"] = "RequestResponse"
    bridge.store(raw, MESSAGE_ID)
    bridge.stubber.add_response(
        "start_email_contact",
        {"ContactId": "contact-bcc"},
        expected_params={
            "InstanceId": INSTANCE_ID,
            "FromEmailAddress": {"EmailAddress": "alice@customer.example"},
            "DestinationEmailAddress": SUPPORT,
            "Name": "(no subject)",
            "Description": "Email from alice@customer.example: (no subject)",
            "References": {
                "rawMessage": {"Type": "STRING", "Value": RAW_URI},
                "sesMessageId": {"Type": "STRING", "Value": MESSAGE_ID},
            },
            "EmailMessage": {
                "MessageSourceType": "RAW",
                "RawMessage": {
                    "Subject": "",
                    "Body": "Blind copy.\r\n",
                    "ContentType": "text/plain",
                    "Headers": {
                        "MESSAGE_ID": "<bcc-1@customer.example>",
                        "X_SES_SPAM_VERDICT": "PASS",
                        "X_SES_VIRUS_VERDICT": "PASS",
                    },
                },
            },
            "Attributes": expected_plain_request()["Attributes"],
            "SegmentAttributes": expected_plain_request()["SegmentAttributes"],
            "ClientToken": client_token(MESSAGE_ID, SUPPORT),
        },
    )

    assert bridge.invoke(event) == contact_result("contact-bcc")
    bridge.stubber.assert_no_pending_responses()


def test_the_setup_notification_is_skipped_without_reading_s3(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    event = build_ses_event(PLAIN, message_id="AMAZON_SES_SETUP_NOTIFICATION", recipients=[SUPPORT])

    result = bridge.invoke(event)  # the object is not in the bucket: reading it would raise

    assert result == {
        "disposition": "CONTINUE",
        "messages": [
            message_result("skipped", "setup_notification", message_id="AMAZON_SES_SETUP_NOTIFICATION")
        ],
    }
    assert bridge.sent == []
    assert emf_metrics(capsys.readouterr().out) == {}


def test_clients_and_settings_are_created_once_per_container(bridge: Bridge) -> None:
    bridge.store(PLAIN, MESSAGE_ID)
    first = handler.pipeline()
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})
    bridge.invoke(event_for(PLAIN, [SUPPORT]))

    assert handler.pipeline() is first
    assert isinstance(first.io.contacts, ContactStarter)
    assert first.io.contacts._client is bridge.connect
    config = bridge.connect.meta.config
    assert (config.connect_timeout, config.read_timeout) == (10, 10)
    assert config.retries["mode"] == "standard"


def test_a_runtime_sdk_without_start_email_contact_fails_at_cold_start(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The function uses the runtime's boto3: one too old for the email channel fails loudly, first."""
    create_client = boto3.client

    class ConnectClientOfAnOldSdk:  # has the service's other operations, not StartEmailContact
        def describe_instance(self, **_: Any) -> None:
            raise AssertionError("not called")

    def client(service: str, **kwargs: Any) -> Any:
        return ConnectClientOfAnOldSdk() if service == "connect" else create_client(service, **kwargs)

    monkeypatch.setattr(boto3, "client", client)
    handler.pipeline.cache_clear()
    with pytest.raises(UnsupportedRuntimeError, match=r"botocore [0-9.]+ has no Connect StartEmailContact"):
        bridge.invoke(event_for(PLAIN, [SUPPORT]))
    assert bridge.sent == []


def test_importing_the_handler_freezes_what_it_imported() -> None:
    """A fresh interpreter: the import-time objects leave the collector's full passes (cold start)."""
    script = (
        "import gc; before = gc.get_freeze_count()\n"
        "from ses_to_connect import handler\n"
        "print(before, gc.get_freeze_count())"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(Path(handler.__file__).parents[1])},
        capture_output=True,
        text=True,
        check=True,
    )
    before, after = map(int, done.stdout.split())
    assert before == 0
    assert after > 10_000  # boto3, Powertools and the function's modules


def test_attachments_are_stored_and_sent_as_presigned_urls(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = b"%PDF-1.4 fake invoice\n"
    raw = (
        b"Return-Path: <alice@customer.example>\r\n"
        b"From: alice@customer.example\r\n"
        b"To: support@example.com\r\n"
        b"Subject: Invoice\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="m"\r\n'
        b"\r\n--m\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n"
        b"--m\r\n"
        b'Content-Type: application/pdf; name="invoice.pdf"\r\n'
        b'Content-Disposition: attachment; filename="invoice.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(pdf) + b"\r\n"
        b"--m\r\n"
        b'Content-Type: application/octet-stream; name="tool.exe"\r\n'
        b'Content-Disposition: attachment; filename="tool.exe"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n"
        b"--m--\r\n"
    )
    bridge.store(raw, MESSAGE_ID)
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})

    result = bridge.invoke(event_for(raw, [SUPPORT]))

    assert result["messages"] == [
        {
            **message_result("contact", None, ("contact-1",)),
            "attachmentsSent": 1,
            "attachmentsSkipped": {"type_not_allowed": 1},
        }
    ]
    (request,) = bridge.sent
    (attachment,) = request["Attachments"]
    url, _, query = attachment["S3Url"].partition("?")
    key = f"attachments/{MESSAGE_ID}/00.pdf"
    assert (attachment["FileName"], url) == ("invoice.pdf", f"https://{BUCKET}.s3.amazonaws.com/{key}")
    assert "X-Amz-Expires=3600" in query.split("&")
    stored = bridge.s3.get_object(Bucket=BUCKET, Key=key)
    assert (stored["Body"].read(), stored["ContentType"]) == (pdf, "application/pdf")
    assert (request["Attributes"]["sesAttachmentsSent"], request["Attributes"]["sesAttachmentsSkipped"]) == (
        "1",
        "tool.exe (type_not_allowed)",
    )
    metrics = emf_metrics(capsys.readouterr().out)
    assert (metrics["AttachmentsSent"], metrics["AttachmentsSkipped"]) == ([1.0], [1.0])


# --- quarantine ---------------------------------------------------------------------------------


def test_virus_fail_is_quarantined_by_copy_and_never_reaches_connect(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge.store(PLAIN, MESSAGE_ID)

    result = bridge.invoke(event_for(PLAIN, [SUPPORT], virus="FAIL"))

    assert result == {
        "disposition": "CONTINUE",
        "messages": [message_result("quarantine", "virus:FAIL")],
    }
    assert bridge.sent == []
    copy = bridge.s3.get_object(Bucket=BUCKET, Key=f"quarantine/{MESSAGE_ID}")
    assert copy["Body"].read() == PLAIN
    assert copy["Metadata"] == {"quarantine-reason": "virus:FAIL", "ses-message-id": MESSAGE_ID}
    original = bridge.s3.get_object(Bucket=BUCKET, Key=f"inbound/{MESSAGE_ID}")
    assert original["Body"].read() == PLAIN
    keys = [o["Key"] for o in bridge.s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [f"inbound/{MESSAGE_ID}", f"quarantine/{MESSAGE_ID}", f"quarantine/{MESSAGE_ID}.json"]
    sidecar = json.loads(
        bridge.s3.get_object(Bucket=BUCKET, Key=f"quarantine/{MESSAGE_ID}.json")["Body"].read()
    )
    assert sidecar["reason"] == "virus:FAIL"
    assert sidecar["record"]["ses"]["mail"]["messageId"] == MESSAGE_ID
    assert emf_metrics(capsys.readouterr().out) == {"Quarantined": [1.0], "QuarantinedByReason": [1.0]}


def test_quarantine_metrics_carry_the_reason(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    """The spec asks for metrics of "quarantined by reason": the reason is a dimension."""
    bridge.store(PLAIN, MESSAGE_ID)

    bridge.invoke(event_for(PLAIN, [SUPPORT], virus="FAIL"))

    (blob,) = [b for b in emf_blobs(capsys.readouterr().out) if "QuarantinedByReason" in b]
    assert blob["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": NAMESPACE,
            "Dimensions": [["reason", "service"]],
            "Metrics": [{"Name": "QuarantinedByReason", "Unit": "Count"}],
        }
    ]
    assert (blob["reason"], blob["service"], blob["QuarantinedByReason"]) == ("virus:FAIL", SERVICE, [1.0])


def test_mail_for_no_connect_address_is_quarantined(bridge: Bridge) -> None:
    bridge.store(PLAIN, MESSAGE_ID)

    result = bridge.invoke(event_for(PLAIN, ["other@example.org"]))

    assert result["messages"] == [message_result("quarantine", "no_connect_recipient")]
    head = bridge.s3.head_object(Bucket=BUCKET, Key=f"quarantine/{MESSAGE_ID}")
    assert head["Metadata"] == {"quarantine-reason": "no_connect_recipient", "ses-message-id": MESSAGE_ID}


# --- failures: raised, so Lambda retries and the failure destination keeps the event -----------


def test_a_missing_object_raises_storage_error(bridge: Bridge) -> None:
    with pytest.raises(StorageError) as raised:
        bridge.invoke(event_for(PLAIN, [SUPPORT]))

    assert raised.value.retryable is False
    assert str(raised.value) == f"cannot read s3://{BUCKET}/inbound/{MESSAGE_ID}: NoSuchKey"
    assert bridge.sent == []


def test_throttling_raises_retryable_delivery_error(bridge: Bridge) -> None:
    bridge.store(PLAIN, MESSAGE_ID)
    bridge.stubber.add_client_error(
        "start_email_contact",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded",
        http_status_code=429,
    )

    with pytest.raises(DeliveryError) as raised:
        bridge.invoke(event_for(PLAIN, [SUPPORT]))

    assert raised.value.retryable is True
    assert raised.value.code == "ThrottlingException"
    assert str(raised.value) == "StartEmailContact failed: ThrottlingException: Rate exceeded"
    bridge.stubber.assert_no_pending_responses()


def test_a_permanent_rejection_raises_after_every_destination_was_tried(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = PLAIN.replace(b"Cc: carol@customer.example", b"Cc: carol@customer.example, sales@example.com")
    bridge.store(raw, MESSAGE_ID)
    bridge.stubber.add_client_error(
        "start_email_contact",
        service_error_code="ResourceNotFoundException",
        service_message="Contact flow not found",
        http_status_code=404,
    )
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-2"})

    with pytest.raises(DeliveryError) as raised:
        bridge.invoke(event_for(raw, [SUPPORT, SALES]))

    assert raised.value.retryable is False
    assert raised.value.code == "ResourceNotFoundException"
    assert str(raised.value) == "StartEmailContact failed: ResourceNotFoundException: Contact flow not found"
    bridge.stubber.assert_no_pending_responses()
    assert [r["DestinationEmailAddress"] for r in bridge.sent] == [SUPPORT, SALES]
    levels = [(r["level"], r["message"], r.get("code")) for r in bridge.log_records()]
    assert levels == [
        ("WARNING", "contact not created", "ResourceNotFoundException"),
        (
            "ERROR",
            "permanent failure; raised for the failure destination",
            "ResourceNotFoundException",
        ),
    ]
    assert emf_metrics(capsys.readouterr().out) == {"PermanentFailures": [1.0]}


def test_a_retryable_failure_wins_over_a_permanent_one(bridge: Bridge) -> None:
    """A retry resends both requests; the ClientToken stops duplicates of the one that worked."""
    raw = PLAIN.replace(b"Cc: carol@customer.example", b"Cc: carol@customer.example, sales@example.com")
    bridge.store(raw, MESSAGE_ID)
    bridge.stubber.add_client_error(
        "start_email_contact", service_error_code="AccessDeniedException", http_status_code=403
    )
    bridge.stubber.add_client_error(
        "start_email_contact", service_error_code="InternalServiceException", http_status_code=500
    )

    with pytest.raises(DeliveryError) as raised:
        bridge.invoke(event_for(raw, [SUPPORT, SALES]))

    assert raised.value.retryable is True
    assert raised.value.code == "InternalServiceException"
    bridge.stubber.assert_no_pending_responses()


class _ThrottlingConnect(BaseHTTPRequestHandler):
    """A Connect endpoint that always answers 429 ThrottlingException, counting the attempts."""

    attempts = 0

    def do_PUT(self) -> None:
        type(self).attempts += 1
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({"message": "Rate exceeded"}).encode()
        self.send_response(429)
        self.send_header("x-amzn-ErrorType", "ThrottlingException")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log line."""


@pytest.fixture
def throttling_endpoint() -> Iterator[str]:
    _ThrottlingConnect.attempts = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ThrottlingConnect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_connect_max_attempts_is_the_total_number_of_attempts(throttling_endpoint: str) -> None:
    """settings.py documents CONNECT_MAX_ATTEMPTS as botocore's *total* attempts per call."""
    env = bridge_env(CONNECT_MAX_ATTEMPTS="2", AWS_ENDPOINT_URL_CONNECT=throttling_endpoint)
    with running_bridge(env) as bridge:
        bridge.stubber.deactivate()  # real HTTP to the local endpoint, botocore's retries included
        bridge.store(PLAIN, MESSAGE_ID)

        with pytest.raises(DeliveryError) as raised:
            bridge.invoke(event_for(PLAIN, [SUPPORT]))

    assert raised.value.retryable is True
    assert raised.value.code == "ThrottlingException"
    assert _ThrottlingConnect.attempts == 2


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "problems"),
    [
        ({"CONNECT_INSTANCE_ID": None}, ["CONNECT_INSTANCE_ID is required"]),
        (
            {"CONNECT_INSTANCE_ID": None, "MAIL_BUCKET": ""},
            ["CONNECT_INSTANCE_ID is required", "MAIL_BUCKET is required"],
        ),
        (
            {"CONNECT_ADDRESSES": SUPPORT},
            ["CONNECT_ADDRESSES: is not valid JSON: Expecting value at position 0"],
        ),
        (
            {"CONNECT_ADDRESSES": json.dumps([{"address": "not-an-address"}])},
            ["CONNECT_ADDRESSES[0]: 'not-an-address' is not an email address"],
        ),
        (
            {"CONTACT_EXPIRY_MINUTES": "20161"},
            ["CONTACT_EXPIRY_MINUTES: must be between 1 and 20160, not 20161"],
        ),
        (
            {"VERDICT_POLICY": json.dumps({"spam:FAIL": "drop"})},
            ["VERDICT_POLICY: rule 'spam:FAIL' has action 'drop'; use 'deliver' or 'quarantine'"],
        ),
        (
            {"CONNECT_RETRY_MODE": "legacy"},
            ["CONNECT_RETRY_MODE: must be one of 'standard', 'adaptive', not \"legacy\""],
        ),
        ({"CONNECT_MAX_ATTEMPTS": "11"}, ["CONNECT_MAX_ATTEMPTS: must be between 1 and 10, not 11"]),
        ({"CONNECT_MAX_ATTEMPTS": "0"}, ["CONNECT_MAX_ATTEMPTS: must be between 1 and 10, not 0"]),
        ({"CONNECT_TIMEOUT_SECONDS": "0"}, ["CONNECT_TIMEOUT_SECONDS: must be between 1 and 60, not 0"]),
    ],
    ids=[
        "missing-instance",
        "two-problems-at-once",
        "addresses-not-json",
        "address-invalid",
        "expiry-too-long",
        "unknown-action",
        "retry-mode",
        "max-attempts-11",
        "max-attempts-0",
        "timeout-0",
    ],
)
def test_invalid_settings_raise_one_error_naming_each_variable(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str | None], problems: list[str]
) -> None:
    for name, value in bridge_env(**overrides).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    # Even the setup notification needs the pipeline, so settings fail before any I/O; moto
    # catches the S3 client should bad settings be accepted.
    event = build_ses_event(PLAIN, message_id="AMAZON_SES_SETUP_NOTIFICATION", recipients=[SUPPORT])
    handler.pipeline.cache_clear()
    try:
        with mock_aws(), pytest.raises(SettingsError) as raised:
            handler.lambda_handler(event, FakeLambdaContext())
    finally:
        handler.pipeline.cache_clear()

    assert raised.value.problems == problems
    assert str(raised.value) == "invalid settings:\n  - " + "\n  - ".join(problems)


# --- logs ---------------------------------------------------------------------------------------


def _arrange_contact(bridge: Bridge) -> dict[str, Any]:
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-2"})
    return event_for(PLAIN, [SUPPORT, SALES])


def _arrange_quarantine(bridge: Bridge) -> dict[str, Any]:
    return event_for(PLAIN, [SUPPORT], spam="FAIL")


def _arrange_rejection(bridge: Bridge) -> dict[str, Any]:
    bridge.stubber.add_client_error(
        "start_email_contact",
        service_error_code="InvalidRequestException",
        service_message="Invalid request for alice@customer.example",
        http_status_code=400,
    )
    return event_for(PLAIN, [SUPPORT])


@pytest.mark.parametrize(
    ("arrange", "messages"),
    [
        (_arrange_contact, ["contacts created"]),
        (_arrange_quarantine, ["message quarantined"]),
        (
            _arrange_rejection,
            ["contact not created", "permanent failure; raised for the failure destination"],
        ),
    ],
    ids=["contact", "quarantine", "rejection"],
)
def test_logs_carry_the_message_id_and_nothing_personal(
    bridge: Bridge, arrange: Any, messages: list[str]
) -> None:
    bridge.store(PLAIN, MESSAGE_ID)
    event = arrange(bridge)

    with contextlib.suppress(DeliveryError):
        bridge.invoke(event)

    records = bridge.log_records()
    assert [r["message"] for r in records] == messages
    assert {r["correlation_id"] for r in records} == {MESSAGE_ID}
    assert {r["function_request_id"] for r in records} == {FakeLambdaContext().aws_request_id}
    text = bridge.logs.getvalue()
    leaked = [item for item in PRIVATE if item.lower() in text.lower()]
    assert leaked == []


def test_the_quarantine_log_names_the_reason_and_defect_kinds(bridge: Bridge) -> None:
    raw = PLAIN.replace(
        b"Content-Type: text/plain; charset=utf-8", b"Content-Type: text/plain; charset=x-nope"
    )
    bridge.store(raw, MESSAGE_ID)

    bridge.invoke(event_for(raw, [SUPPORT], spam="FAIL"))

    (record,) = bridge.log_records()
    assert (record["level"], record["message"], record["reason"], record["defects"]) == (
        "INFO",
        "message quarantined",
        "spam:FAIL",
        ["unknown_charset"],
    )


# --- Connect in another region ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connect_region", "called_region"), [("ap-northeast-2", "ap-northeast-2"), (None, "us-east-1")]
)
def test_connect_is_called_in_the_instance_region(connect_region: str | None, called_region: str) -> None:
    """The stack receives mail where SES can, and names the instance's region in CONNECT_REGION."""
    with running_bridge(bridge_env(CONNECT_REGION=connect_region)) as bridge:
        bridge.store(PLAIN, MESSAGE_ID)
        bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})
        assert bridge.invoke(event_for(PLAIN, [SUPPORT])) == contact_result("contact-1")

        assert bridge.connect.meta.region_name == called_region
        assert bridge.connect.meta.endpoint_url == f"https://connect.{called_region}.amazonaws.com"
        # Everything else stays in the function's region.
        store = handler.pipeline().io.store
        assert isinstance(store, MailStore)
        assert store._client.meta.region_name == "us-east-1"
