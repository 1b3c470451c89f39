"""The durations exactly-once delivery rests on, named once (docs/exactly-once.md).

Pure numbers and arithmetic: the settings' ranges, the ledger's in-progress lock and the stack's
timeout budget (``infra/ses_to_connect_cdk/config.py``) are all derived from them.
"""

from __future__ import annotations

# A URL is replayed only while it stays valid this much longer: Connect may fetch the files
# after it answers, and clocks differ.
URL_SAFETY_MARGIN_SECONDS = 300
# Lambda retries a failed asynchronous invocation about one minute, then two minutes, after the
# attempt before it failed (Lambda developer guide, "Asynchronous invocation").
LAMBDA_RETRY_DELAYS_SECONDS = (60, 120)
# A retry may replay the URLs the first attempt signed until the last retry: the margin and both
# waits, or every retry signs again and a lost answer's contact id is lost with them.
MIN_ATTACHMENT_URL_EXPIRY_SECONDS = URL_SAFETY_MARGIN_SECONDS + sum(LAMBDA_RETRY_DELAYS_SECONDS)
# botocore's standard and adaptive retry modes wait at most min(2 ** i, 20) s before retry i + 1
# (botocore/retries/standard.py, ExponentialBackoff).
RETRY_BACKOFF_CAP_SECONDS = 20
# A service's x-amz-retry-after header may lengthen each of those waits by up to 5 s (same file).
RETRY_AFTER_EXTRA_SECONDS = 5
# The adaptive mode's client-side rate limiter may also wait before an attempt: at most one token
# at its lowest fill rate, 0.5 a second (botocore/retries/adaptive.py, MIN_FILL_RATE).
ADAPTIVE_WAIT_SECONDS = 2
# Added to the in-progress lock: another invocation compares the lock's end, written with this
# host's clock, against its own.
CLOCK_SKEW_SECONDS = 2


def connect_call_seconds(attempts: int, timeout_seconds: int) -> int:
    """The longest one Connect call can take: every attempt times out connecting, then reading
    (both ``timeout_seconds``), with the longest backoff between attempts."""
    backoff = sum(min(1 << retry, RETRY_BACKOFF_CAP_SECONDS) for retry in range(attempts - 1))
    return attempts * 2 * timeout_seconds + backoff


def in_progress_lock_seconds(attempts: int, timeout_seconds: int, *, adaptive: bool) -> int:
    """How long a ClientToken's in-progress record holds off other invocations: as long as the one
    Connect call it guards can possibly last (every wait botocore may add included), so that a retry
    after a hard kill takes the lock over and replays the request."""
    extra = (attempts - 1) * RETRY_AFTER_EXTRA_SECONDS + (attempts * ADAPTIVE_WAIT_SECONDS if adaptive else 0)
    return connect_call_seconds(attempts, timeout_seconds) + extra + CLOCK_SKEW_SECONDS
