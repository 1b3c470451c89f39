"""One set of local services for the module, and the table of measured figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ses_to_connect_tools.local_pipeline.aws import LocalAws, local_aws
from ses_to_connect_tools.local_pipeline.sandbox import SandboxLimits
from tests.support.environment import variables
from tests.tables import print_table

TABLE = Path(__file__).resolve().parents[2] / "reports" / "hostile.jsonl"
QUIET_ENV = variables(logLevel="CRITICAL")
COLUMNS = (
    "message",
    "bytes",
    "outcome",
    "peak_rss_mib",
    "cpu_seconds",
    "lambda_seconds",
    "wall_seconds",
    "killed",
)


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with local_aws(env_overrides=QUIET_ENV) as running:
        yield running


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        TABLE.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    title = f"hostile mail: one process each, under {SandboxLimits.deployed().describe()}"
    print_table(terminalreporter, TABLE, title, COLUMNS, sort_by="message")
