"""The JSON-lines tables some suites write while they run and print at the end of the session."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest


def print_table(
    terminalreporter: pytest.TerminalReporter, path: Path, title: str, columns: Sequence[str], sort_by: str
) -> None:
    """One row per line of ``path`` (if it exists), under ``title``, sorted by the ``sort_by`` column."""
    if not path.exists():
        return
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    terminalreporter.section(title)
    terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in sorted(rows, key=lambda r: str(r[sort_by])):
        terminalreporter.write_line(
            "  ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True))
        )
