"""End-to-end tests: the handler's own boto3 clients over real HTTP on 127.0.0.1.

``ses_to_connect_tools.local_pipeline.aws.local_aws`` starts moto's server (S3, DynamoDB, SQS) and
the Connect emulator and points the handler's environment at them; each test builds its mail,
stores it as SES does (``ses_to_connect_tools.local_pipeline.ses.receive``), invokes
``lambda_handler`` as Lambda would, and asserts on what the services hold: the emulator's contacts
(with the sha256 of every attachment it downloaded from its pre-signed URL), the S3 objects and the
failure queue.
Shared helpers live here; fixtures live in ``conftest.py``.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from email.message import EmailMessage, Message
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from ses_to_connect import handler
from ses_to_connect.composition import build_pipeline
from ses_to_connect.pipeline import Pipeline
from ses_to_connect.settings import Settings
from ses_to_connect_tools.local_pipeline.aws import BUCKET, LocalAws
from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator, EmailContact, SigningKey
from ses_to_connect_tools.local_pipeline.lambda_runtime import LambdaContext
from ses_to_connect_tools.local_pipeline.ses import Receipt, receive
from tests.support.constants import FROM as CUSTOMER
from tests.support.constants import SUPPORT
from tests.support.mail import message, wire

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "samples"
ROTATED_KEY = "ASIAROTATEDKEY"  # the access key of a retry's new container
MAX_S3_URL = 2000


def new_message(subject: str, body: str = "Hello, please see below.\n", **headers: str) -> EmailMessage:
    """A text message from the customer to the Connect address with a unique Message-ID."""
    return message(
        body,
        subject=subject,
        sender=headers.pop("From", CUSTOMER),
        to=headers.pop("To", SUPPORT),
        message_id=headers.pop("Message_ID", unique_message_id()),
        headers=[(name.replace("_", "-"), value) for name, value in headers.items()],
    )


def unique_message_id() -> str:
    return f"<{uuid.uuid4()}@customer.example.org>"


def attach(
    message: EmailMessage,
    data: bytes,
    content_type: str,
    filename: str | None,
    *,
    disposition: str | None = None,
) -> Message:
    """Add a base64 attachment part to ``message`` (made multipart/mixed) and return that part."""
    maintype, subtype = content_type.split("/")
    message.add_attachment(
        data, maintype=maintype, subtype=subtype, filename=filename, disposition=disposition
    )
    return last_part(message)


def last_part(container: Message) -> Message:
    payload = container.get_payload()
    assert isinstance(payload, list)
    part = payload[-1]
    assert isinstance(part, Message)
    return part


def decoded(part: Message) -> bytes:
    """The decoded body of a MIME part, as the sender meant it."""
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store(
    aws: LocalAws, raw: bytes, receipt: Receipt | None = None, *, name: str | None = None
) -> dict[str, Any]:
    """Store ``raw`` as the SES S3 action does and return the event the Lambda action sends."""
    return receive(
        raw,
        name=name or f"{uuid.uuid4()}.eml",
        receipt=receipt or Receipt(),
        connect_addresses=aws.addresses,
        s3_client=aws.client("s3"),
        bucket=BUCKET,
    )


def ses_message_id(event: dict[str, Any]) -> str:
    value = event["Records"][0]["ses"]["mail"]["messageId"]
    assert isinstance(value, str)
    return value


def new_container(monkeypatch: pytest.MonkeyPatch, emulator: ConnectEmulator) -> None:
    """Lambda's retry lands in another container, whose role session has other credentials."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a new process resolves credentials anew
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ROTATED_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "rotated-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "rotated-session-token")
    emulator.add_signing_key(ROTATED_KEY, SigningKey("rotated-secret"))
    container(monkeypatch)


def container(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    """The handler's next invocations run in a container of their own (until the test ends): built on
    first use, as Lambda builds one, from the settings and credentials the environment then holds,
    with ``changes`` to those settings."""

    def build() -> Pipeline:
        settings = replace(Settings.from_env(os.environ), **changes)
        return build_pipeline(settings, handler.aws_clients(settings))

    monkeypatch.setattr(handler, "pipeline", cache(build))


def invoke(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """One synchronous run of the real handler; the result of the event's only record."""
    response = handler.lambda_handler(event, context or LambdaContext())
    messages = response["messages"]
    assert isinstance(messages, list) and len(messages) == 1
    result = messages[0]
    assert isinstance(result, dict)
    return result


def deliver(aws: LocalAws, message: Message, receipt: Receipt | None = None) -> tuple[str, dict[str, Any]]:
    """Store and invoke once: the SES message id and the handler's result."""
    event = store(aws, wire(message), receipt)
    return ses_message_id(event), invoke(event)


def contacts_of(emulator: ConnectEmulator, message_id: str) -> list[EmailContact]:
    return [c for c in emulator.contacts() if c.params["Attributes"]["sesMessageId"] == message_id]


def only_contact(emulator: ConnectEmulator, message_id: str) -> EmailContact:
    found = contacts_of(emulator, message_id)
    assert len(found) == 1, f"{len(found)} contacts for {message_id}"
    return found[0]


def s3_body(aws: LocalAws, key: str) -> bytes:
    body: bytes = aws.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return body


def attachment_versions(aws: LocalAws, message_id: str) -> list[tuple[str, str]]:
    """(key, version id) of every attachment object ever written for the message (versioned bucket)."""
    response = aws.client("s3").list_object_versions(Bucket=BUCKET, Prefix=f"attachments/{message_id}/")
    return sorted((v["Key"], v["VersionId"]) for v in response.get("Versions", []))


def assert_sent(
    aws: LocalAws, contact: EmailContact, message_id: str, expected: Sequence[tuple[str, bytes]]
) -> None:
    """The contact's attachments are exactly ``expected`` (file name, decoded bytes), in order.

    For each one: the bytes the emulator downloaded from the pre-signed URL (its sha256) are
    the expected bytes, the URL names an object under ``attachments/<messageId>/`` holding
    those bytes, and the URL fits Connect's 2,000 characters.
    """
    sent = contact.params.get("Attachments", [])
    assert [a["FileName"] for a in sent] == [name for name, _ in expected]
    assert [(d.file_name, d.size, d.sha256) for d in contact.attachments] == [
        (name, len(data), sha256(data)) for name, data in expected
    ]
    for attachment, (_, data) in zip(sent, expected, strict=True):
        url = attachment["S3Url"]
        assert len(url) <= MAX_S3_URL
        path = urlsplit(url).path
        prefix = f"/{BUCKET}/attachments/{message_id}/"
        assert path.startswith(prefix), path
        assert sha256(s3_body(aws, path.removeprefix(f"/{BUCKET}/"))) == sha256(data)


def failure_records_for(aws: LocalAws, message_id: str) -> list[dict[str, Any]]:
    """The failure queue's records (Lambda's on-failure destination shape) for one SES message."""
    return [
        record
        for record in aws.failure_records()
        if any(r["ses"]["mail"]["messageId"] == message_id for r in record["requestPayload"]["Records"])
    ]


def next_second() -> None:
    """Sleep into the next wall-clock second, so a new SigV4 signature differs (X-Amz-Date)."""
    time.sleep(1.02 - time.time() % 1)
