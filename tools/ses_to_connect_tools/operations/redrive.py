"""Redrive the failure queue: run each recorded event again and delete only what succeeded.

Each queue entry is an on-failure record (Lambda's own, or the handler's for permanent
errors) whose ``requestPayload`` is the original SES event. The event is run with a redrive
marker, so a permanent failure raises instead of queueing a second copy: the original entry
stays, and reappears after its visibility timeout for a later redrive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ses_to_connect.ses_event import REDRIVE_KEY
from ses_to_connect_tools.operations.invoke import InvocationFailed, Invoker

BATCH = 10


@dataclass
class RedriveReport:
    succeeded: list[str] = field(default_factory=list)  # SES message ids now delivered or quarantined
    failed: dict[str, str] = field(default_factory=dict)  # queue message id -> error, left in the queue
    unreadable: list[str] = field(default_factory=list)  # queue message ids with no SES event, left as is


def redrive(
    sqs: Any, queue_url: str, invoker: Invoker, *, limit: int | None = None, visibility_seconds: int = 300
) -> RedriveReport:
    report = RedriveReport()
    seen: set[str] = set()
    while limit is None or len(seen) < limit:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=0,
            VisibilityTimeout=visibility_seconds,
        )
        messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:
            break
        for message in messages[: None if limit is None else limit - len(seen)]:
            seen.add(message["MessageId"])
            event = _event_of(message["Body"])
            if event is None:
                report.unreadable.append(message["MessageId"])
                continue
            try:
                invoker.invoke({**event, REDRIVE_KEY: True})
            except InvocationFailed as exc:
                report.failed[message["MessageId"]] = str(exc)
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            report.succeeded.extend(_message_ids(event))
    return report


def _event_of(body: str) -> dict[str, Any] | None:
    try:
        payload = json.loads(body).get("requestPayload")
    except (json.JSONDecodeError, AttributeError):
        return None
    return payload if isinstance(payload, dict) and isinstance(payload.get("Records"), list) else None


def _message_ids(event: dict[str, Any]) -> list[str]:
    return [str(r.get("ses", {}).get("mail", {}).get("messageId", "?")) for r in event["Records"]]
