"""Fault injection through the local pipeline: nothing lost, nothing duplicated, ids known.

Each scenario sends messages through SES storage, the real handler and Lambda's async retry
semantics over real HTTP to moto (behind a fault proxy) and the Connect emulator, then checks
the invariant against the services. Each prints a row of the scenario table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from ses_to_connect_tools.local_pipeline.aws import BUCKET, LocalAws
from tests.e2e import container, ses_message_id
from tests.reliability.harness import check, invoke_concurrently, runtime, store


def _short_timeouts_until_the_retry(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """1-second timeouts for the first attempt, which meets the delays; Lambda's wait before the
    retry, after which the retry runs in a new container with the long ones again, so that a slow
    machine cannot make the retry time out too."""
    container(monkeypatch, connect_timeout_seconds=1, aws_timeout_seconds=1)

    def wait(_seconds: float) -> None:
        container(monkeypatch)

    return wait


def _emulator(aws: LocalAws) -> Any:
    assert aws.emulator is not None
    return aws.emulator


def _proxy(aws: LocalAws) -> Any:
    assert aws.s3_proxy is not None
    return aws.s3_proxy


def _run(aws: LocalAws, tag: str, count: int = 3) -> tuple[list[dict[str, Any]], list[Any]]:
    events = store(aws, tag, count)
    lam = runtime(aws)
    return events, [lam.invoke(event) for event in events]


def test_baseline_every_message_is_one_contact(aws: LocalAws) -> None:
    events, invocations = _run(aws, "baseline")
    counts = check(aws, "baseline", events, invocations)
    assert (counts.contacts, counts.lost, counts.duplicated, counts.invocations) == (3, 0, 0, 3)


def test_s3_no_such_key_goes_straight_to_the_failure_queue(aws: LocalAws) -> None:
    events = store(aws, "nosuchkey", 2)
    s3 = aws.client("s3")
    for event in events:
        s3.delete_object(Bucket=BUCKET, Key=f"inbound/{event['Records'][0]['ses']['mail']['messageId']}")
    lam = runtime(aws)
    invocations = [lam.invoke(event) for event in events]
    counts = check(aws, "s3 NoSuchKey (permanent)", events, invocations)
    assert [i.attempts for i in invocations] == [1, 1]  # not retried: it cannot succeed
    assert (counts.failure_queue, counts.contacts, counts.lost, counts.duplicated) == (2, 0, 0, 0)
    record = next(r for r in aws.failure_records() if r["requestPayload"] == events[0])
    assert record["requestContext"]["condition"] == "PermanentFailure"
    assert record["responsePayload"]["errorType"] == "StorageError"


def test_s3_5xx_is_retried_until_it_passes(aws: LocalAws) -> None:
    # botocore makes 3 attempts per call (standard mode): 4 failures defeat the first invocation.
    _proxy(aws).fail("GET", r"/inbound/", count=4, status=500, code="InternalError")
    events, invocations = _run(aws, "s3-5xx", 1)
    counts = check(aws, "s3 5xx", events, invocations)
    assert invocations[0].attempts == 2
    assert (counts.contacts, counts.lost, counts.duplicated) == (1, 0, 0)


def test_s3_timeouts_are_retried_until_they_pass(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    retry = _short_timeouts_until_the_retry(monkeypatch)
    _proxy(aws).delay("GET", r"/inbound/", count=3, seconds=1.6)  # AWS_TIMEOUT_SECONDS is 1
    events = store(aws, "s3-timeout", 1)
    invocations = [runtime(aws, sleep=retry).invoke(events[0])]
    counts = check(aws, "s3 timeouts", events, invocations)
    assert invocations[0].attempts == 2
    assert (counts.contacts, counts.lost, counts.duplicated) == (1, 0, 0)


def test_connect_throttling_burst(aws: LocalAws) -> None:
    _emulator(aws).inject_errors("ThrottlingException", count=5)
    events, invocations = _run(aws, "throttle", 3)
    counts = check(aws, "connect throttling burst", events, invocations)
    assert (counts.contacts, counts.lost, counts.duplicated, counts.failure_queue) == (3, 0, 0, 0)
    assert counts.invocations > 3  # the burst outlasted botocore's retries and reached Lambda's


def test_connect_500s(aws: LocalAws) -> None:
    _emulator(aws).inject_errors("InternalServiceException", count=3)
    events, invocations = _run(aws, "connect-500", 1)
    counts = check(aws, "connect 500s", events, invocations)
    assert invocations[0].attempts == 2
    assert (counts.contacts, counts.lost, counts.duplicated) == (1, 0, 0)


@pytest.mark.parametrize("code", ["AccessDeniedException", "ResourceNotFoundException"])
def test_permanent_connect_errors_go_straight_to_the_failure_queue(aws: LocalAws, code: str) -> None:
    _emulator(aws).inject_errors(code, count=1)
    events, invocations = _run(aws, f"permanent-{code}", 1)
    counts = check(aws, f"connect {code}", events, invocations)
    assert invocations[0].attempts == 1
    assert (counts.failure_queue, counts.contacts, counts.lost, counts.duplicated) == (1, 0, 0, 0)
    record = next(r for r in aws.failure_records() if r["requestPayload"] == events[0])
    assert record["responsePayload"]["errorType"] == "DeliveryError"


def test_the_handlers_failure_record_has_the_shape_of_lambdas_own(aws: LocalAws) -> None:
    """The handler queues a permanent failure itself, in the record Lambda sends after its retries
    (built by the harness from AWS's documentation): redrive and operators read both alike."""
    events = store(aws, "record-shape", 2)
    permanent, exhausted = events
    aws.client("s3").delete_object(Bucket=BUCKET, Key=f"inbound/{ses_message_id(permanent)}")
    # CONNECT_MAX_ATTEMPTS is 2: two HTTP calls in each of Lambda's three attempts.
    _emulator(aws).inject_errors("InternalServiceException", count=6)
    lam = runtime(aws)
    assert [lam.invoke(event).attempts for event in events] == [1, 3]
    [handlers] = [r for r in aws.failure_records() if r["requestPayload"] == permanent]
    [lambdas] = [r for r in aws.failure_records() if r["requestPayload"] == exhausted]

    assert _shape(handlers) == _shape(lambdas)
    for record in (handlers, lambdas):
        assert record["version"] == "1.0"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
        assert record["responseContext"] == lambdas["responseContext"]
        assert record["responsePayload"]["requestId"] == record["requestContext"]["requestId"]
        frames = record["responsePayload"]["stackTrace"]
        assert frames and all(frame.startswith('  File "') for frame in frames)
    assert (handlers["requestContext"]["condition"], lambdas["requestContext"]["condition"]) == (
        "PermanentFailure",
        "RetriesExhausted",
    )
    assert (handlers["responsePayload"]["errorType"], lambdas["responsePayload"]["errorType"]) == (
        "StorageError",
        "DeliveryError",
    )


def _shape(value: object) -> object:
    """``value``'s keys and value types at every level (a list: the shape of its first item)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value[:1]]
    return type(value).__name__


def test_the_same_event_three_times_at_once(aws: LocalAws) -> None:
    events = store(aws, "triple", 2)
    runs = [run for event in events for run in invoke_concurrently(aws, event, 3)]
    counts = check(aws, "same event x3 concurrently", events, runs)
    assert (counts.contacts, counts.lost, counts.duplicated, counts.failure_queue) == (2, 0, 0, 0)
    # An attempt that found the event in progress succeeded on its retry, after the holder returned.
    assert [(run.result is not None, run.attempts <= 2) for run in runs] == [(True, True)] * 6


# --- The contact's id survives lost answers; refusals never lose the email ------------------------------
