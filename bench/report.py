"""Figures, the table they print as, and the small statistics every benchmark shares."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured figure against its baseline from the same run.

    ``ratio`` is always *cost relative to the baseline* (time, memory, or time per message), so
    lower is better everywhere and a target is a ceiling. ``target`` None means "for scale only".
    """

    name: str
    measured: float
    baseline: float
    unit: str  # of measured and baseline
    ratio: float
    target: float | None = None
    note: str = ""

    @property
    def passed(self) -> bool | None:
        # Judged at the precision the table shows, so a printed "1.10x" never reads as a miss.
        return None if self.target is None else round(self.ratio, 2) <= self.target

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measured": round(self.measured, 4),
            "baseline": round(self.baseline, 4),
            "unit": self.unit,
            "ratio": round(self.ratio, 4),
            "target": self.target,
            "passed": self.passed,
            "note": self.note,
        }


@dataclass
class Section:
    """What one benchmark found: its figures, any secondary table, and errors that make the run fail."""

    figures: list[Figure] = field(default_factory=list)
    extra_tables: list[tuple[str, list[tuple[str, ...]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def figures_table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "measured", "baseline", "ratio", "target", "result")]
    for figure in figures:
        rows.append(
            (
                figure.name,
                f"{_number(figure.measured)} {figure.unit}",
                f"{_number(figure.baseline)} {figure.unit}",
                f"{figure.ratio:.2f}x",
                "-" if figure.target is None else f"<= {figure.target:.2f}x",
                {True: "pass", False: "FAIL", None: "-"}[figure.passed],
            )
        )
    return render(rows, numeric=(1, 2, 3, 4))


def render(rows: Sequence[tuple[str, ...]], numeric: Sequence[int] = ()) -> str:
    """A plain-text table: header, a rule, then rows; columns in ``numeric`` right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(width) if index in numeric else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = tuple("-" * width for width in widths)
    return "\n".join([line(rows[0]), line(rule), *(line(row) for row in rows[1:])])


def _number(value: float) -> str:
    if math.isnan(value):  # nothing was measured
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
