"""Bursts against a Connect quota: every message becomes one contact, and how fast it drains.

Lambda runs at most ``lambdaReservedConcurrency`` (2) invocations at once; each uses botocore's
adaptive retry mode, whose client-side rate limiter slows down on ThrottlingException, and
Lambda's own retries (scaled from minutes to a second here) catch what is left. The figure is
the drain time against the quota-limited minimum ((messages - burst) / rate).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from ses_to_connect_tools.local_pipeline.aws import LocalAws, local_aws
from tests.reliability.harness import check, runtime, store
from tests.support.environment import variables

RESERVED_CONCURRENCY = 2


def _burst_env() -> dict[str, str]:
    return variables(connectRetryMode="adaptive", connectMaxAttempts=10, logLevel="CRITICAL")


@pytest.fixture
def quota_aws(request: pytest.FixtureRequest) -> Iterator[LocalAws]:
    rate = float(request.param)
    with local_aws(connect_tps=rate, env_overrides=_burst_env()) as running:
        yield running


def _drain(aws: LocalAws, tag: str, count: int, rate: float) -> tuple[float, float]:
    events = store(aws, tag, count)
    lam = runtime(aws, sleep=lambda _seconds: time.sleep(1.0))  # Lambda waits ~1-2 min; scaled down
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=RESERVED_CONCURRENCY) as pool:
        invocations = list(pool.map(lam.invoke, events))
    elapsed = time.monotonic() - started
    counts = check(aws, f"burst {count} at {rate:g}/s", events, invocations)
    assert (counts.contacts, counts.ids_known, counts.lost, counts.duplicated, counts.failure_queue) == (
        count,
        count,
        0,
        0,
        0,
    )
    burst = max(1, int(rate))  # the emulator's bucket starts full (local_aws sets burst = rate)
    minimum = (count - burst) / rate
    print(
        f"\nburst: {count} messages at {rate:g}/s drained in {elapsed:.1f} s; "
        f"minimum {minimum:.1f} s; ratio {elapsed / minimum:.2f}"
    )
    return elapsed, minimum


@pytest.mark.parametrize("quota_aws", [20.0], indirect=True)
def test_short_burst_drains_without_loss(quota_aws: LocalAws) -> None:
    elapsed, minimum = _drain(quota_aws, "burst-short", 60, 20.0)
    assert elapsed >= minimum * 0.95  # the emulated quota was really in force


@pytest.mark.slow
@pytest.mark.parametrize("quota_aws", [5.0], indirect=True)
def test_500_messages_at_5_per_second(quota_aws: LocalAws) -> None:
    elapsed, minimum = _drain(quota_aws, "burst-500", 500, 5.0)
    assert elapsed >= minimum * 0.95
