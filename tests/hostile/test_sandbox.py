"""The sandbox enforces the deployed limits and reports a kill as Lambda does.

Stand-in handlers (``stand_ins.py``) misbehave on purpose, one limit each; the real handler
shows that a normal message passes with its figures. Each child is a real process, killed for
real: nothing here raises an exception in place of a kill.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from ses_to_connect_tools.local_pipeline import simulate
from ses_to_connect_tools.local_pipeline.aws import BUCKET, LocalAws
from ses_to_connect_tools.local_pipeline.lambda_runtime import AsyncLambda, Invocation
from ses_to_connect_tools.local_pipeline.sandbox import (
    CDK_JSON,
    FULL_VCPU_MB,
    FunctionError,
    SandboxedHandler,
    SandboxLimits,
)
from ses_to_connect_tools.local_pipeline.ses import Receipt, receive
from tests.hostile.messages import headers

REPO_ROOT = Path(__file__).resolve().parents[2]


def _invoke(aws: LocalAws, sandbox: SandboxedHandler, event: dict[str, Any], retries: int = 0) -> Invocation:
    runtime = AsyncLambda(
        sandbox,
        sqs_client=aws.client("sqs"),
        failure_queue_url=aws.failure_queue_url,
        max_retry_attempts=retries,
    )
    return runtime.invoke(event)


def _record_for(aws: LocalAws, tag: str) -> dict[str, Any]:
    (record,) = [r for r in aws.failure_records() if r["requestPayload"].get("tag") == tag]
    return record


def test_a_message_within_the_limits_becomes_a_contact_with_its_figures(aws: LocalAws) -> None:
    assert aws.emulator is not None
    raw = (headers("Within limits") + "Content-Type: text/plain\r\n\r\nHello.\r\n").encode()
    event = receive(
        raw,
        name="ok.eml",
        receipt=Receipt(),
        connect_addresses=aws.addresses,
        s3_client=aws.client("s3"),
        bucket=BUCKET,
    )
    limits = SandboxLimits.deployed()
    sandbox = SandboxedHandler(limits)
    invocation = _invoke(aws, sandbox, event)
    assert invocation.error is None and invocation.result is not None
    (message,) = invocation.result["messages"]
    assert message["outcome"] == "contact"
    assert {c.contact_id for c in aws.emulator.contacts()} >= set(message["contactIds"])
    (run,) = sandbox.runs
    # Python, boto3, Powertools and four clients are resident: tens of MiB, far under the limit.
    assert 20 < run.peak_rss_mib < limits.memory_mb
    assert run.killed is None
    assert 0 < run.cpu_seconds < limits.processing_cpu_seconds
    assert run.init_cpu_seconds > 0  # the imports, counted apart from the invocation


def test_memory_over_the_limit_is_a_kill_that_lambda_retries_and_records(aws: LocalAws) -> None:
    tag = str(uuid.uuid4())
    sandbox = SandboxedHandler(
        SandboxLimits(memory_mb=128, timeout_seconds=60), entry="tests.hostile.stand_ins:allocate"
    )
    invocation = _invoke(aws, sandbox, {"tag": tag, "mib": 400}, retries=2)
    assert invocation.result is None and invocation.attempts == 3
    assert [run.killed for run in sandbox.runs] == ["Runtime.OutOfMemory"] * 3
    # Killed within a poll of crossing 128 MiB: far from the 400 MiB it asked for.
    assert all(128 < run.peak_rss_mib < 300 for run in sandbox.runs)
    record = _record_for(aws, tag)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    payload = record["responsePayload"]
    assert payload["errorType"] == "Runtime.OutOfMemory"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    assert payload["stackTrace"] == []


def test_under_the_memory_limit_the_same_handler_answers(aws: LocalAws) -> None:
    sandbox = SandboxedHandler(
        SandboxLimits(memory_mb=256, timeout_seconds=60), entry="tests.hostile.stand_ins:allocate"
    )
    invocation = _invoke(aws, sandbox, {"mib": 64})
    assert invocation.result == {"mib": 64}
    (run,) = sandbox.runs
    assert run.killed is None and 64 < run.peak_rss_mib < 256


def test_cpu_is_held_to_the_memory_share_of_a_vcpu(aws: LocalAws) -> None:
    """At 256 MB a 2 s timeout is 2 x 256 / 1,769 = 0.29 CPU-seconds: the kill comes well before 2 s."""
    tag = str(uuid.uuid4())
    limits = SandboxLimits(memory_mb=256, timeout_seconds=2)
    assert limits.cpu_seconds == pytest.approx(2 * 256 / FULL_VCPU_MB)
    sandbox = SandboxedHandler(limits, entry="tests.hostile.stand_ins:compute")
    invocation = _invoke(aws, sandbox, {"tag": tag, "seconds": 5})
    assert invocation.result is None
    (run,) = sandbox.runs
    assert run.killed == "Sandbox.Timedout"
    assert limits.cpu_seconds <= run.cpu_seconds < limits.cpu_seconds + 0.3
    # On Lambda the CPU-bound run took its CPU time over the share: the whole timeout.
    assert run.lambda_seconds >= 2
    payload = _record_for(aws, tag)["responsePayload"]
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Error: Task timed out after 2.00 seconds")


def test_a_full_vcpu_gets_the_whole_timeout_in_cpu(aws: LocalAws) -> None:
    sandbox = SandboxedHandler(
        SandboxLimits(memory_mb=FULL_VCPU_MB, timeout_seconds=30), entry="tests.hostile.stand_ins:compute"
    )
    assert _invoke(aws, sandbox, {"seconds": 0.5}).result == {"done": True}
    assert sandbox.runs[0].killed is None and sandbox.runs[0].cpu_seconds >= 0.5


def test_wall_time_is_held_to_the_timeout(aws: LocalAws) -> None:
    """A handler that waits uses no CPU; the timeout is wall time all the same."""
    sandbox = SandboxedHandler(
        SandboxLimits(memory_mb=1024, timeout_seconds=0.5), entry="tests.hostile.stand_ins:wait"
    )
    invocation = _invoke(aws, sandbox, {"seconds": 60})
    assert invocation.result is None
    (run,) = sandbox.runs
    assert run.killed == "Sandbox.Timedout"
    assert 0.5 <= run.wall_seconds < 10
    assert run.cpu_seconds < 0.5
    assert run.lambda_seconds >= 0.5


def test_an_exception_in_the_handler_is_reported_with_its_type_and_frames(aws: LocalAws) -> None:
    tag = str(uuid.uuid4())
    sandbox = SandboxedHandler(
        SandboxLimits(memory_mb=256, timeout_seconds=60), entry="tests.hostile.stand_ins:fail"
    )
    invocation = _invoke(aws, sandbox, {"tag": tag}, retries=1)
    assert isinstance(invocation.error, FunctionError) and invocation.attempts == 2
    assert [run.killed for run in sandbox.runs] == [None, None]
    payload = _record_for(aws, tag)["responsePayload"]
    assert payload["errorType"] == "LookupError"
    assert payload["errorMessage"] == "no such thing"
    assert any("stand_ins.py" in frame for frame in payload["stackTrace"])


def test_the_context_carries_the_limits(aws: LocalAws) -> None:
    sandbox = SandboxedHandler(
        SandboxLimits(memory_mb=384, timeout_seconds=42), entry="tests.hostile.stand_ins:remaining"
    )
    result = _invoke(aws, sandbox, {}).result
    assert result is not None
    assert result["memory"] == 384
    assert 30_000 < result["remainingMs"] <= 42_000


def test_the_limits_come_from_the_stack_configuration(tmp_path: Path) -> None:
    cdk = json.loads(CDK_JSON.read_text())
    # The shipped cdk.json leaves the timeout unset: two addresses' 270 s budget, rounded up to 300 s.
    assert SandboxLimits.deployed() == SandboxLimits(cdk["context"]["lambdaMemoryMb"], 300, 270)
    cdk["context"].update(
        {
            "lambdaMemoryMb": 512,
            "lambdaTimeoutSeconds": 600,
            "connectAddresses": [{"address": "support@example.com"}],
        }
    )
    (tmp_path / "cdk.json").write_text(json.dumps(cdk))
    limits = SandboxLimits.deployed(tmp_path / "cdk.json")
    # One address: one worst-case Connect call (5 x 2 x 10 s + 1+2+4+8 s of backoff) + 2 x 2 x 10 s.
    assert (limits.memory_mb, limits.timeout_seconds, limits.io_budget_seconds) == (512, 600, 155)
    assert limits.cpu_seconds == pytest.approx(600 * 512 / 1769)
    assert limits.processing_cpu_seconds == pytest.approx((600 - 155) * 512 / 1769)


def test_simulate_runs_under_the_deployed_limits_and_reports_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    assert simulate.main([str(REPO_ROOT / "samples" / "01-plain.eml"), "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "limits: 512 MB, 300 s timeout, 0.289 vCPU: 86.8 CPU-s here before a kill" in printed
    data = json.loads(report.read_text())
    assert data["limits"]["memory_mb"] == 512 and data["limits"]["cpu_seconds"] == pytest.approx(86.83)
    (message,) = data["messages"]
    assert message["outcome"] == "contact"
    assert message["usage"]["killed"] is None and 20 < message["usage"]["peak_rss_mib"] < 512


def test_simulate_reports_a_kill_as_a_kill(aws: LocalAws) -> None:
    """Under 48 MB the interpreter alone is too big: every attempt is killed, then queued."""
    sample = REPO_ROOT / "samples" / "01-plain.eml"
    (report,) = simulate.simulate([sample], aws, limits=SandboxLimits(memory_mb=48, timeout_seconds=300))
    assert report.outcome == "failed" and report.attempts == 3
    assert report.reason is not None and report.reason.startswith("Runtime.OutOfMemory: RequestId: ")
    assert report.usage is not None and report.usage["killed"] == "Runtime.OutOfMemory"
    assert "killed: 01-plain.eml: Runtime.OutOfMemory" in simulate.table(
        [report], limits=SandboxLimits(48, 300)
    )
