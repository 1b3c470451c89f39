"""Every adapter error is the bridge's own, and none loses or stops a message.

The cases: an 8-bit Content-Type, which botocore's signer meets with ``AttributeError``; a 200
answer without ``ContactId``; a Message-ID over DynamoDB's 2,048-byte key limit, in the thread
index after the contact exists and in In-Reply-To for the lookup before it; a failed
thread-index write after the contact was created.

moto accepts oversized keys on reads, so every DynamoDB request the handler sends passes through
:class:`DynamoDbKeyLimit`, which answers as DynamoDB does (``ValidationException``) and records
the sizes it saw.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from ses_to_connect import handler
from ses_to_connect.adapters.table_keys import MAX_PARTITION_KEY_BYTES, table_key
from ses_to_connect.errors import DeliveryError
from ses_to_connect_tools.local_pipeline.aws import BUCKET, THREADS_TABLE, LocalAws
from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator
from ses_to_connect_tools.local_pipeline.lambda_runtime import AsyncLambda

from . import container, failure_records_for, invoke, only_contact, ses_message_id, store

KEY_ATTRIBUTES = ("id", "messageId")  # the idempotency and thread tables' partition keys


def refused(code: str, message: str, status: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
    """What a ``before-call`` hook returns to answer for the service (as botocore's Stubber does):
    botocore raises it as the service's ClientError."""
    answer = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return AWSResponse(None, status, {}, None), answer


class DynamoDbKeyLimit:
    """DynamoDB's partition key limit, on reads as on writes, and a way to fail one table's writes."""

    def __init__(self) -> None:
        self.largest = 0
        self.refused_writes: dict[str, tuple[str, int]] = {}  # table -> (code, HTTP status)

    def __call__(
        self, params: dict[str, Any], model: Any, **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        request = json.loads(params["body"])  # the serialized request, as DynamoDB receives it
        for key in _keys(request):
            for name in KEY_ATTRIBUTES:
                if name in key:
                    size = len(key[name]["S"].encode("utf-8", "surrogatepass"))
                    self.largest = max(self.largest, size)
                    if size > MAX_PARTITION_KEY_BYTES:
                        return refused(
                            "ValidationException",
                            "One or more parameter values were invalid: Size of hashkey has exceeded "
                            f"the maximum size limit of {MAX_PARTITION_KEY_BYTES} bytes",
                        )
        table = request.get("TableName")
        if model.name == "PutItem" and table in self.refused_writes:
            code, status = self.refused_writes[table]
            return refused(code, f"Injected: {code}", status)
        return None


def _keys(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for field in ("Key", "Item"):
        if field in params:
            yield params[field]
    for request in params.get("RequestItems", {}).values():
        yield from request.get("Keys", [])


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> DynamoDbKeyLimit:
    """Every client created from now on (the handler's too) sends DynamoDB requests through the check."""
    limit = DynamoDbKeyLimit()
    session = boto3.Session()
    session.events.register("before-call.dynamodb", limit)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    container(monkeypatch)
    return limit


def raw_mail(*headers: str, attachment: tuple[bytes, bytes] | None = None) -> bytes:
    """A hand-written message (CRLF), so that headers are sent exactly as given: 8-bit, unfolded."""
    head = [b"From: Customer <customer@example.org>", b"To: support@example.com", b"Subject: test"]
    head += [h.encode() for h in headers]
    if attachment is None:
        return b"\r\n".join([*head, b"Content-Type: text/plain", b"", b"Hello.", b""])
    content_type, data = attachment
    return b"\r\n".join(
        [
            *head,
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/mixed; boundary="b"',
            b"",
            b"--b",
            b"Content-Type: text/plain",
            b"",
            b"Please see the file.",
            b"--b",
            b"Content-Type: " + content_type + b'; name="x.pdf"',
            b'Content-Disposition: attachment; filename="x.pdf"',
            b"",
            data,
            b"--b--",
            b"",
        ]
    )


def long_message_id() -> str:
    return f"<{uuid.uuid4()}.{'x' * 3000}@customer.example.org>"


def retrying_lambda(aws: LocalAws) -> AsyncLambda:
    """Lambda's asynchronous invocation: two retries, then the on-failure destination."""
    return AsyncLambda(
        handler.lambda_handler, sqs_client=aws.client("sqs"), failure_queue_url=aws.failure_queue_url
    )


def test_an_8bit_content_type_is_cleaned_before_the_upload_and_the_contact_created(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    event = store(aws, raw_mail(attachment=(b"application/p\xc3\xa9df", b"%PDF-1.4 8-bit type\n")))
    message_id = ses_message_id(event)

    run = retrying_lambda(aws).invoke(event)

    assert (run.attempts, run.error) == (1, None)
    assert run.result is not None and run.result["messages"][0]["outcome"] == "contact"
    contact = only_contact(emulator, message_id)
    assert [a.file_name for a in contact.attachments] == ["x.pdf"]
    s3 = aws.client("s3")
    [stored] = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"attachments/{message_id}/")["Contents"]
    content_type = s3.head_object(Bucket=BUCKET, Key=stored["Key"])["ContentType"]
    assert content_type.isascii() and content_type.isprintable() and "/" in content_type
    assert failure_records_for(aws, message_id) == []


def test_a_200_answer_without_contact_id_is_retried_and_the_retry_learns_the_id(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    event = store(aws, raw_mail(f"Message-ID: <{uuid.uuid4()}@customer.example.org>"))
    emulator.answer_without_contact_ids(1)

    with pytest.raises(DeliveryError) as raised:
        invoke(event)
    assert (raised.value.code, raised.value.retryable) == ("MissingContactId", True)

    result = invoke(event)  # Lambda's retry: the same request under the same ClientToken
    contact = only_contact(emulator, ses_message_id(event))
    assert result["contactIds"] == [contact.contact_id]
    assert [a.status for a in emulator.attempts()] == [200, 200]


def test_ids_over_the_key_limit_are_hashed_so_the_reply_still_threads(
    aws: LocalAws, emulator: ConnectEmulator, dynamodb: DynamoDbKeyLimit
) -> None:
    first_id, second_id = long_message_id(), long_message_id()
    first = store(aws, raw_mail(f"Message-ID: {first_id}", f"References: {long_message_id()}"))
    reply = store(aws, raw_mail(f"Message-ID: {second_id}", f"In-Reply-To: {first_id}"))

    results = [retrying_lambda(aws).invoke(event) for event in (first, reply)]

    assert [(run.attempts, run.error) for run in results] == [(1, None), (1, None)]
    root = only_contact(emulator, ses_message_id(first)).contact_id
    assert only_contact(emulator, ses_message_id(reply)).params["RelatedContactId"] == root
    assert 0 < dynamodb.largest <= MAX_PARTITION_KEY_BYTES
    assert thread_entry(aws, first_id) == root


@pytest.mark.parametrize(
    ("code", "status"),
    [("AccessDeniedException", 400), ("InternalServerError", 500)],
    ids=["permanent", "5xx"],
)
def test_a_failed_thread_index_write_leaves_a_contact_with_a_defect_not_a_failure(
    aws: LocalAws, emulator: ConnectEmulator, dynamodb: DynamoDbKeyLimit, code: str, status: int
) -> None:
    dynamodb.refused_writes[THREADS_TABLE] = (code, status)
    own_id = f"<{uuid.uuid4()}@customer.example.org>"
    event = store(aws, raw_mail(f"Message-ID: {own_id}"))
    message_id = ses_message_id(event)

    run = retrying_lambda(aws).invoke(event)

    assert (run.attempts, run.error) == (1, None)
    assert run.result is not None
    [result] = run.result["messages"]
    assert (result["outcome"], result["contactIds"]) == (
        "contact",
        [only_contact(emulator, message_id).contact_id],
    )
    assert "ThreadIndexWriteFailures" in handler.metrics.metric_set
    assert failure_records_for(aws, message_id) == []
    assert thread_entry(aws, own_id) is None
    # The duplicate path (an SES redelivery) writes the entry once the table takes it again.
    del dynamodb.refused_writes[THREADS_TABLE]
    assert invoke(event)["duplicate"] is True
    assert thread_entry(aws, own_id) == result["contactIds"][0]


def thread_entry(aws: LocalAws, message_id: str) -> str | None:
    item = (
        aws.client("dynamodb")
        .get_item(
            TableName=THREADS_TABLE, Key={"messageId": {"S": table_key(message_id)}}, ConsistentRead=True
        )
        .get("Item")
    )
    return None if item is None else str(item["contactId"]["S"])
