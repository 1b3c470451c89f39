"""Drive messages through the local pipeline and check the invariant for each one.

The invariant: every message is exactly one contact per destination, or a quarantine with a
reason, or a failure-queue entry — never none (lost), never two contacts (duplicated).
It is checked against the services themselves: the emulator's contacts, S3, the queue. A
contact's id is *known* when the handler reported exactly the emulator's contact ids for the
message; *id unknown* when it reported the contact as existing without its id.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from ses_to_connect_tools.local_pipeline.aws import BUCKET, LocalAws
from ses_to_connect_tools.local_pipeline.lambda_runtime import AsyncLambda, Invocation
from ses_to_connect_tools.local_pipeline.ses import Receipt, receive
from tests.reliability.conftest import TABLE
from tests.support.mail import Attachment
from tests.support.mail import message as support_message

PDF = b"%PDF-1.4\n%reliability\n"


@dataclass
class Counts:
    scenario: str
    messages: int
    contacts: int
    ids_known: int
    id_unknown: int
    quarantined: int
    failure_queue: int
    lost: int
    duplicated: int
    invocations: int

    def record(self) -> None:
        TABLE.parent.mkdir(parents=True, exist_ok=True)
        with TABLE.open("a") as table:
            table.write(json.dumps(asdict(self)) + "\n")


def message(tag: str, number: int, in_reply_to: str | None = None) -> bytes:
    mail = support_message(
        f"Body of {tag} message {number}.\n",
        sender=f"Customer {number} <customer{number}@example.org>",
        subject=f"{tag} message {number}",
        message_id=f"<{tag}-{number}@example.org>",
        headers=[] if in_reply_to is None else [("In-Reply-To", in_reply_to)],
        attachments=[Attachment(f"{tag}-{number}.pdf", PDF)],
    )
    return bytes(mail)


def store(
    aws: LocalAws, tag: str, count: int, in_reply_to: Callable[[int], str] | None = None
) -> list[dict[str, Any]]:
    s3 = aws.client("s3")
    return [
        receive(
            message(tag, n, None if in_reply_to is None else in_reply_to(n)),
            name=f"{tag}-{n}.eml",
            receipt=Receipt(),
            connect_addresses=aws.addresses,
            s3_client=s3,
            bucket=BUCKET,
        )
        for n in range(count)
    ]


def runtime(aws: LocalAws, sleep: Callable[[float], None] = lambda _s: None) -> AsyncLambda:
    from ses_to_connect import handler  # noqa: PLC0415

    return AsyncLambda(
        handler.lambda_handler,
        sqs_client=aws.client("sqs"),
        failure_queue_url=aws.failure_queue_url,
        sleep=sleep,
    )


def invoke_concurrently(aws: LocalAws, event: dict[str, Any], times: int) -> list[Invocation]:
    """The same event delivered ``times`` at once (SES and Lambda are at-least-once).

    An attempt that finds the event in progress fails, and Lambda retries it a minute later, long
    after the attempt that holds the event has finished. Here each retry waits for that attempt
    to return instead, so that the outcome does not depend on how fast the machine is.
    """
    from ses_to_connect import handler  # noqa: PLC0415

    returned = threading.Event()

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        result: dict[str, Any] = handler.lambda_handler(event, context)
        returned.set()
        return result

    def wait_for_holder(_seconds: float) -> None:
        returned.wait(timeout=60)  # bounded: a bug fails the test instead of hanging it

    queue = aws.failure_queue_url
    lam = AsyncLambda(handle, sqs_client=aws.client("sqs"), failure_queue_url=queue, sleep=wait_for_holder)
    runs: list[Invocation] = []
    threads = [threading.Thread(target=lambda: runs.append(lam.invoke(event))) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return runs


def check(aws: LocalAws, scenario: str, events: list[dict[str, Any]], runs: Sequence[Invocation]) -> Counts:
    assert aws.emulator is not None
    s3 = aws.client("s3")
    ids = [e["Records"][0]["ses"]["mail"]["messageId"] for e in events]
    contacts = [c.params["Attributes"]["sesMessageId"] for c in aws.emulator.contacts()]
    contact_ids: dict[str, set[str]] = {}
    for contact in aws.emulator.contacts():
        contact_ids.setdefault(contact.params["Attributes"]["sesMessageId"], set()).add(contact.contact_id)
    reported = [
        message
        for run in runs
        if run.result is not None
        for message in run.result.get("messages", [])
        if message["outcome"] == "contact"
    ]
    queued = [
        r["ses"]["mail"]["messageId"] for e in aws.failure_records() for r in e["requestPayload"]["Records"]
    ]
    invocations = sum(run.attempts for run in runs)
    counts = Counts(scenario, len(ids), 0, 0, 0, 0, 0, 0, 0, invocations)
    for message_id in ids:
        mine = [m for m in reported if m["messageId"] == message_id]
        real = contact_ids.get(message_id, set())
        counts.ids_known += int(bool(real) and any(set(m["contactIds"]) == real for m in mine))
        counts.id_unknown += int(bool(real) and any(m["contactsWithoutId"] for m in mine))
        created = contacts.count(message_id)
        in_queue = queued.count(message_id)
        quarantined = _exists(s3, f"quarantine/{message_id}")
        counts.contacts += min(created, 1)
        counts.quarantined += int(quarantined)
        counts.failure_queue += min(in_queue, 1)
        counts.duplicated += int(created > 1 or in_queue > 1)
        counts.lost += int(created + in_queue + int(quarantined) == 0)
    counts.record()
    return counts


def _exists(s3: Any, key: str) -> bool:
    try:
        s3.head_object(Bucket=BUCKET, Key=key)
    except ClientError:
        return False
    return True
