"""Every class of hostile mail ends as a contact or a quarantine, within the deployed limits.

Each message is built in memory (``messages.py``), stored as SES stores it and run through the
real handler in a process of its own under the stack's limits (the local pipeline's ``sandbox``:
``lambdaMemoryMb``, ``lambdaTimeoutSeconds``, CPU scaled to the memory's share of a vCPU). The
requirements, for every message:

- it ends as a contact (in the Connect emulator) or a quarantine (in S3), never in the failure
  queue, and the process is never killed;
- its peak resident memory, the interpreter and its clients included, stays under the deployed
  memory (256 MB);
- its CPU time stays within the **processing budget**: what the timeout leaves beside the I/O
  budget the stack reserves for Connect and AWS calls (``BridgeConfig.timeout_budget_seconds``,
  270 s of the 300 s with the stack's two addresses), at 256 MB's share of a vCPU:
  (300 - 270) x 256 / 1,769 = 4.34 CPU-seconds on this machine. A message that costs more can
  time out when Connect is slow, and holds one of the two reserved slots for longer than
  legitimate mail does.

One attempt each (no retries): a kill or a failure on the first attempt already breaks the
requirement, and retrying a 40 MB message three times would triple the run. ``make test`` runs
every class at a small size; ``make test-long`` runs them at full size, up to SES's 40 MB.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ses_to_connect_tools.local_pipeline.aws import BUCKET, LocalAws
from ses_to_connect_tools.local_pipeline.lambda_runtime import AsyncLambda
from ses_to_connect_tools.local_pipeline.sandbox import SandboxedHandler, SandboxLimits
from ses_to_connect_tools.local_pipeline.ses import Receipt, receive
from tests.hostile.conftest import TABLE
from tests.hostile.messages import CLASSES, Hostile

LIMITS = SandboxLimits.deployed()


def _params(size: str) -> list[Any]:
    return [pytest.param(hostile, getattr(hostile, size), id=hostile.name) for hostile in CLASSES]


@pytest.mark.parametrize(("hostile", "scale"), _params("fast"))
def test_hostile_mail_at_a_small_size(aws: LocalAws, hostile: Hostile, scale: int) -> None:
    _run(aws, hostile, scale)


@pytest.mark.slow
@pytest.mark.parametrize(("hostile", "scale"), _params("full"))
def test_hostile_mail_at_full_size(aws: LocalAws, hostile: Hostile, scale: int) -> None:
    _run(aws, hostile, scale)


def _run(aws: LocalAws, hostile: Hostile, scale: int) -> None:
    raw = hostile.build(scale)
    size = len(raw)
    name = f"{hostile.name} ({scale:,})"
    event = receive(
        raw,
        name=f"{hostile.name}.eml",
        receipt=Receipt(),
        connect_addresses=aws.addresses,
        s3_client=aws.client("s3"),
        bucket=BUCKET,
    )
    del raw  # held by moto's S3 now; not by this process twice
    message_id = event["Records"][0]["ses"]["mail"]["messageId"]
    sandbox = SandboxedHandler(LIMITS)
    runtime = AsyncLambda(
        sandbox, sqs_client=aws.client("sqs"), failure_queue_url=aws.failure_queue_url, max_retry_attempts=0
    )
    invocation = runtime.invoke(event)
    (run,) = sandbox.runs
    outcome = _outcome(aws, message_id)
    row = {"message": name, "bytes": size, "outcome": outcome, **asdict(run), "limits": LIMITS.describe()}
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    with TABLE.open("a") as table:
        table.write(json.dumps(row) + "\n")
    figures = f"{name}, {size:,} bytes: {outcome}; {run.peak_rss_mib} MiB, {run.cpu_seconds} CPU-s"
    assert run.killed is None, f"{figures}; killed: {run.killed}"
    assert invocation.error is None, f"{figures}; {invocation.error!r}"
    assert outcome in {"contact", "quarantine"}, figures
    assert run.peak_rss_mib < LIMITS.memory_mb, figures
    assert run.cpu_seconds <= LIMITS.processing_cpu_seconds, figures


def _outcome(aws: LocalAws, message_id: str) -> str:
    """Where the message is, from the services themselves: contact, quarantine, failure queue."""
    assert aws.emulator is not None
    found = []
    if any(c.params["Attributes"]["sesMessageId"] == message_id for c in aws.emulator.contacts()):
        found.append("contact")
    try:
        aws.client("s3").head_object(Bucket=BUCKET, Key=f"quarantine/{message_id}")
        found.append("quarantine")
    except ClientError:
        pass
    queued = {
        r["ses"]["mail"]["messageId"] for e in aws.failure_records() for r in e["requestPayload"]["Records"]
    }
    if message_id in queued:
        found.append("failure queue")
    return " + ".join(found) or "lost"
