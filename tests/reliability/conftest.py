"""Shared local pipeline for the reliability suites, and the scenario table they print."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ses_to_connect_tools.local_pipeline.aws import LocalAws, local_aws
from tests.e2e import container
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
    with local_aws(s3_faults=True, env_overrides=FAST_FAILURE_ENV) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_container(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each scenario's invocations run in a container of their own (its settings may differ)."""
    container(monkeypatch)


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
