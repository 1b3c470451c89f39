"""``python -m bench [--quick] [--json FILE]``: every performance figure against its floor.

Prints one table (figure, measured, baseline, ratio, target, result) and secondary tables.
Exit 0 whatever the figures, 1 if a benchmark could not run, 2 for unusable arguments.
Runs from the repository's root in ``.venv`` (``make bench``), where the project is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import coldstart, conversion, memory, throughput, uploads
from bench.messages import DEFAULT_CORPUS, corpus, median_sample
from bench.report import Section, figures_table, render

BENCHMARKS = ("coldstart", "conversion", "memory", "uploads", "throughput")


@dataclass(frozen=True)
class Plan:
    """How much repetition each benchmark gets."""

    cold_starts: int
    conversion_repeats: int
    memory_repeats: int
    upload_repeats: int
    throughput_messages: int
    throughput_rounds: int


FULL = Plan(
    cold_starts=25,
    conversion_repeats=5,
    memory_repeats=3,
    upload_repeats=7,
    throughput_messages=200,
    throughput_rounds=3,
)
QUICK = Plan(
    cold_starts=5,
    conversion_repeats=3,
    memory_repeats=1,
    upload_repeats=3,
    throughput_messages=50,
    throughput_rounds=3,
)


def machine() -> dict[str, Any]:
    return {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def run(plan: Plan, selected: Sequence[str], corpus_folder: Path) -> tuple[list[Section], list[str]]:
    samples = corpus(corpus_folder)
    typical = median_sample(samples) if samples else None
    steps: dict[str, Callable[[], Section]] = {
        "coldstart": lambda: coldstart.run(plan.cold_starts),
        "conversion": lambda: conversion.run(plan.conversion_repeats, corpus_folder),
        "memory": lambda: memory.run(plan.memory_repeats, typical),
        "uploads": lambda: uploads.run(plan.upload_repeats),
        "throughput": lambda: throughput.run(plan.throughput_messages, plan.throughput_rounds),
    }
    sections: list[Section] = []
    errors: list[str] = []
    for name in selected:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            section = steps[name]()
        except Exception as exc:  # noqa: BLE001 (one benchmark's failure must not hide the others)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        sections.append(section)
        errors += [f"{name}: {error}" for error in section.errors]
        print(f"[bench] {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return sections, errors


def report(sections: Sequence[Section], errors: Sequence[str], header: dict[str, Any]) -> str:
    figures = [figure for section in sections for figure in section.figures]
    lines = [
        f"machine: {header['machine']['cpus']} CPUs, Python {header['machine']['python']}, "
        f"load average at start {header['machine']['load_average'][0]}; "
        f"{'quick' if header['quick'] else 'full'} run, {header['runtime_seconds']:.0f} s",
        "",
        figures_table(figures) if figures else "(no figures)",
        "",
        "ratio = cost against the baseline (time, memory or time per message): lower is better.",
    ]
    lines += [f"  {figure.name}: {figure.note}" for figure in figures if figure.note]
    for section in sections:
        for title, rows in section.extra_tables:
            lines += ["", title, render(rows, numeric=range(1, len(rows[0])))]
    notes = [note for section in sections for note in section.notes]
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    if errors:
        lines += ["", "ERRORS:", *(f"- {error}" for error in errors)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Performance figures of the bridge, each against its floor."
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a third of the time)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help=f"folder of .eml files (default {DEFAULT_CORPUS})"
    )
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)"
    )
    args = parser.parse_args(argv)
    header: dict[str, Any] = {"quick": args.quick, "machine": machine()}
    started = time.perf_counter()
    sections, errors = run(QUICK if args.quick else FULL, args.only or BENCHMARKS, args.corpus)
    header["runtime_seconds"] = time.perf_counter() - started
    header["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    print(report(sections, errors, header))
    if args.json:
        document = {
            **header,
            "figures": [figure.as_json() for section in sections for figure in section.figures],
            "notes": [note for section in sections for note in section.notes],
            "details": {key: value for section in sections for key, value in section.details.items()},
            "errors": list(errors),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
