"""One set of local services for the module, and the table of measured figures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_pipeline.aws import LocalAws, local_aws

TABLE = Path(__file__).resolve().parents[2] / "reports" / "hostile.jsonl"
QUIET_ENV = {"POWERTOOLS_LOG_LEVEL": "CRITICAL"}


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with local_aws(env_overrides=QUIET_ENV) as running:
        yield running


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        TABLE.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TABLE.exists():
        return
    rows = [json.loads(line) for line in TABLE.read_text().splitlines()]
    columns = ["message", "bytes", "outcome", "peak_rss_mib", "cpu_seconds", "wall_seconds", "killed"]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    terminalreporter.section("hostile mail: one process each, under the deployed limits")
    terminalreporter.write_line(rows[0]["limits"])
    terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in sorted(rows, key=lambda r: str(r["message"])):
        terminalreporter.write_line(
            "  ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True))
        )
