"""Shared local pipeline for the reliability suites, and the scenario table they print."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ses_to_connect_tools.local_pipeline.aws import LocalAws, local_aws
from tests.support.environment import variables
from tests.tables import print_table

TABLE = Path(__file__).resolve().parents[2] / "reports" / "reliability.jsonl"
# Few botocore attempts, so that faults reach Lambda's retries quickly. Timeouts are the longest
# the settings allow: a slow run (coverage, a busy machine) must not add retries; the timeout
# scenarios shorten them for the one attempt that meets the delay.
FAST_FAILURE_ENV = variables(
    connectMaxAttempts=2, connectTimeoutSeconds=60, awsTimeoutSeconds=60, logLevel="CRITICAL"
)


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    from ses_to_connect import handler  # noqa: PLC0415

    with local_aws(s3_faults=True, env_overrides=FAST_FAILURE_ENV) as running:
        handler.pipeline.cache_clear()
        yield running
        handler.pipeline.cache_clear()


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        TABLE.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    columns = [
        "scenario",
        "messages",
        "contacts",
        "ids_known",
        "id_unknown",
        "quarantined",
        "failure_queue",
        "lost",
        "duplicated",
        "invocations",
    ]
    print_table(terminalreporter, TABLE, "reliability scenarios", columns, sort_by="scenario")
