"""redrive and replay against moto (server) and the Connect emulator: the operators' tools."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
from botocore.stub import Stubber

from ses_to_connect_tools.local_pipeline.aws import BUCKET, LocalAws
from ses_to_connect_tools.operations.invoke import InvocationFailed, LambdaInvoker, LocalInvoker
from ses_to_connect_tools.operations.redrive import redrive
from ses_to_connect_tools.operations.replay import ReplayError, replay, replay_event
from tests.reliability.harness import message, runtime, store


def _contacts_for(aws: LocalAws, message_id: str) -> list[Any]:
    assert aws.emulator is not None
    return [c for c in aws.emulator.contacts() if c.params["Attributes"]["sesMessageId"] == message_id]


def _queue_ids(aws: LocalAws) -> list[str]:
    return [
        r["ses"]["mail"]["messageId"] for e in aws.failure_records() for r in e["requestPayload"]["Records"]
    ]


def test_redrive_delivers_and_removes_only_what_succeeded(aws: LocalAws) -> None:
    assert aws.emulator is not None
    events = store(aws, "redrive", 2)
    ids = [e["Records"][0]["ses"]["mail"]["messageId"] for e in events]
    aws.emulator.inject_errors("ResourceNotFoundException", count=2)  # a wrong flow id, say
    lam = runtime(aws)
    for event in events:
        lam.invoke(event)
    assert set(ids) <= set(_queue_ids(aws))

    aws.emulator.inject_errors("AccessDeniedException", count=1)  # the first redrive fails again
    report = redrive(aws.client("sqs"), aws.failure_queue_url, LocalInvoker(), visibility_seconds=0)
    assert len(report.succeeded) == 1 and len(report.failed) == 1
    remaining = [i for i in _queue_ids(aws) if i in ids]
    assert len(remaining) == 1  # the failed one stays, once: redrive did not queue a copy

    second = redrive(aws.client("sqs"), aws.failure_queue_url, LocalInvoker(), visibility_seconds=0)
    assert second.succeeded == remaining and second.failed == {}
    assert [i for i in _queue_ids(aws) if i in ids] == []
    assert [len(_contacts_for(aws, i)) for i in ids] == [1, 1]


def test_redrive_keeps_unreadable_entries(aws: LocalAws) -> None:
    sqs = aws.client("sqs")
    bodies = ["not json", json.dumps({"requestPayload": {"no": "Records"}})]
    queue = aws.failure_queue_url
    sent = [sqs.send_message(QueueUrl=queue, MessageBody=body)["MessageId"] for body in bodies]
    report = redrive(sqs, queue, LocalInvoker(), visibility_seconds=0)
    assert sorted(report.unreadable) == sorted(sent)
    assert report.succeeded == [] and report.failed == {}
    # Both entries are still in the queue, untouched, for an operator to look at.
    left = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert sorted((m["MessageId"], m["Body"]) for m in left.get("Messages", [])) == sorted(
        zip(sent, bodies, strict=True)
    )
    sqs.purge_queue(QueueUrl=queue)


def test_replay_delivers_a_quarantined_message_with_the_reason(aws: LocalAws) -> None:
    from ses_to_connect_tools.local_pipeline.ses import Receipt, receive  # noqa: PLC0415

    event = receive(
        message("replay", 1),
        name="replay.eml",
        receipt=Receipt({"spam": "FAIL"}),
        connect_addresses=aws.addresses,
        s3_client=aws.client("s3"),
        bucket=BUCKET,
    )
    message_id = event["Records"][0]["ses"]["mail"]["messageId"]
    first = runtime(aws).invoke(event)
    assert first.result is not None and first.result["messages"][0]["reason"] == "spam:FAIL"
    aws.client("s3").delete_object(Bucket=BUCKET, Key=f"inbound/{message_id}")  # expired by lifecycle

    result = replay(
        aws.client("s3"),
        BUCKET,
        f"quarantine/{message_id}",
        LocalInvoker(),
        reason="false positive, ticket 4711",
        deliver=True,
    )
    assert result["messages"][0]["outcome"] == "contact"
    (contact,) = _contacts_for(aws, message_id)
    assert contact.params["Attributes"]["sesReplayReason"] == "false positive, ticket 4711"
    assert contact.params["Attributes"]["sesPolicyFlags"] == "spam:FAIL"
    assert contact.params["Attributes"]["sesRawMessage"].endswith(f"inbound/{message_id}")

    again = replay(
        aws.client("s3"),
        BUCKET,
        f"quarantine/{message_id}",
        LocalInvoker(),
        reason="clicked twice",
        deliver=True,
    )
    assert again["messages"][0]["duplicate"] is True
    assert len(_contacts_for(aws, message_id)) == 1  # a replay never duplicates


def test_replay_without_override_keeps_the_policy(aws: LocalAws) -> None:
    from ses_to_connect_tools.local_pipeline.ses import Receipt, receive  # noqa: PLC0415

    event = receive(
        message("replay-keep", 1),
        name="keep.eml",
        receipt=Receipt({"virus": "FAIL"}),
        connect_addresses=aws.addresses,
        s3_client=aws.client("s3"),
        bucket=BUCKET,
    )
    message_id = event["Records"][0]["ses"]["mail"]["messageId"]
    runtime(aws).invoke(event)
    result = replay(
        aws.client("s3"), BUCKET, f"quarantine/{message_id}", LocalInvoker(), reason="checking", deliver=False
    )
    assert result["messages"][0]["reason"] == "virus:FAIL"
    assert _contacts_for(aws, message_id) == []


def test_replay_of_a_stored_message_needs_recipients(aws: LocalAws) -> None:
    events = store(aws, "replay-stored", 1)
    key = f"inbound/{events[0]['Records'][0]['ses']['mail']['messageId']}"
    try:
        replay_event(aws.client("s3"), BUCKET, key, reason="re-run", deliver=False)
    except ReplayError as exc:
        assert "name the --recipient addresses" in str(exc)
    else:
        raise AssertionError("a replay without a record or recipients must be refused")
    event = replay_event(
        aws.client("s3"), BUCKET, key, reason="re-run", deliver=False, recipients=["support@example.com"]
    )
    assert event["Records"][0]["bridgeReplay"] == {"sourceKey": key, "deliver": False, "reason": "re-run"}
    assert LocalInvoker().invoke(event)["messages"][0]["outcome"] == "contact"


def test_replay_refuses_keys_outside_the_mail_prefixes(aws: LocalAws) -> None:
    events = store(aws, "replay-escape", 1)
    record = events[0]["Records"][0]
    record["bridgeReplay"] = {"sourceKey": "attachments/x/00.pdf", "deliver": True, "reason": "x"}
    result = LocalInvoker().invoke(events[0])
    assert result["failed"]["code"] == "EventError"


def test_lambda_invoker_reports_function_errors() -> None:
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": io.BytesIO(b'{"messages": []}')},
            {"FunctionName": "f", "InvocationType": "RequestResponse", "Payload": b'{"Records": []}'},
        )
        stub.add_response(
            "invoke",
            {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps({"errorMessage": "boom"}).encode()),
            },
        )
        invoker = LambdaInvoker(client, "f")
        assert invoker.invoke({"Records": []}) == {"messages": []}
        try:
            invoker.invoke({"Records": []})
        except InvocationFailed as exc:
            assert str(exc) == "Unhandled: boom"
        else:
            raise AssertionError("a function error must raise")
