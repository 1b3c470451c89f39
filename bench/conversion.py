"""Conversion time per message: the project's full conversion against the stdlib floor.

* measured: ``convert.convert_offline(raw, record, settings)`` with its default offline sink, which
  decodes every attachment it would send (nothing is stored; URLs are unsigned).
* floor: ``BytesParser(policy=email.policy.default).parsebytes(raw)`` and ``get_content()`` on
  every leaf part, which also decodes every part once. Exceptions are caught per part and
  counted: the floor is allowed to fail where the project must not.

Both run in this process, alternately, ``repeats`` times per message; a message's time is its
median. The corpus row adds up the medians of every corpus message (so large messages weigh
more, as they do in a Lambda bill); the generated rows are one message each.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

from bench.messages import ATTACHMENT_TYPES, LARGE_SIZES_MB, MB, Sample, bench_settings, corpus, large_message
from bench.report import Figure, Section, median
from ses_to_connect.convert import convert_offline
from ses_to_connect.model import Conversion
from ses_to_connect.settings import Settings

TARGET = 1.5
SLOWEST_SHOWN = 5


@dataclass
class Timing:
    name: str
    size: int
    project: float  # median seconds
    floor: float
    floor_errors: int  # parts (or whole messages) the floor could not read


def floor(raw: bytes) -> int:
    """Parse with the stdlib's modern policy and read every leaf part; return the failures."""
    errors = 0
    try:
        message = BytesParser(policy=default).parsebytes(raw)
    except Exception:  # noqa: BLE001 (the floor's failures are counted, not fatal)
        return 1
    for part in message.walk():
        if isinstance(part, EmailMessage) and not part.is_multipart():
            try:
                part.get_content()
            except Exception:  # noqa: BLE001 (counted: damaged parts are the floor's problem)
                errors += 1
    return errors


def time_sample(sample: Sample, settings: Settings, repeats: int) -> tuple[Timing, Conversion]:
    """Median times of both, after one untimed warm-up run of each (which also gives the results)."""
    record = sample.record()
    conversion = convert_offline(sample.raw, record, settings)
    errors = floor(sample.raw)
    project_runs: list[float] = []
    floor_runs: list[float] = []
    steps: list[tuple[Callable[[], object], list[float]]] = [
        (lambda: convert_offline(sample.raw, record, settings), project_runs),
        (lambda: floor(sample.raw), floor_runs),
    ]
    gc.collect()
    for index in range(repeats):
        for step, into in steps if index % 2 == 0 else steps[::-1]:
            if sample.size >= MB:  # the previous run's garbage is large: not this run's cost
                gc.collect()
            started = time.perf_counter()
            step()
            into.append(time.perf_counter() - started)
    timing = Timing(sample.name, sample.size, median(project_runs), median(floor_runs), errors)
    return timing, conversion


def run(repeats: int, corpus_folder: Path) -> Section:
    section = Section()
    settings = bench_settings()
    samples = corpus(corpus_folder)
    if samples:
        _corpus(section, samples, settings, repeats)
    else:
        section.notes.append(f"corpus: skipped, no .eml files in {corpus_folder}")
    for size_mb in LARGE_SIZES_MB:
        _generated(section, size_mb, settings, repeats)
    return section


def _corpus(section: Section, samples: list[Sample], settings: Settings, repeats: int) -> None:
    timings: list[Timing] = []
    for sample in samples:
        try:
            timings.append(time_sample(sample, settings, repeats)[0])
        except Exception as exc:  # noqa: BLE001 (a conversion that raises is reported as an error)
            section.errors.append(f"convert_offline() raised on corpus message {sample.name}: {exc!r}")
    if not timings:
        return
    ratios = sorted(t.project / t.floor for t in timings if t.floor > 0)
    typical_project = median([t.project for t in timings]) * 1000
    typical_floor = median([t.floor for t in timings]) * 1000
    section.figures.append(
        Figure(
            f"conversion: corpus, median of {len(timings)} messages",
            typical_project,
            typical_floor,
            "ms",
            typical_project / typical_floor,
            TARGET,
            f"each message the median of {repeats}; per-message ratios: median {median(ratios):.2f}x, "
            f"90th percentile {ratios[int(0.9 * (len(ratios) - 1))]:.2f}x, worst {ratios[-1]:.2f}x; "
            f"the floor failed on {sum(t.floor_errors for t in timings)} parts",
        )
    )
    project = sum(t.project for t in timings) * 1000
    stdlib = sum(t.floor for t in timings) * 1000
    section.figures.append(
        Figure(
            "conversion: corpus, all messages",
            project,
            stdlib,
            "ms",
            project / stdlib,
            TARGET,
            "sum of the per-message medians: large and pathological messages weigh most",
        )
    )
    costly = sorted(timings, key=lambda t: -(t.project - t.floor))[:SLOWEST_SHOWN]
    section.notes.append(
        "corpus messages costing most above the floor: "
        + "; ".join(
            f"{t.name} ({t.size / 1000:.0f} kB: {t.project * 1000:.1f} vs {t.floor * 1000:.1f} ms)"
            for t in costly
        )
    )
    section.details["conversion_corpus"] = [
        {
            "name": t.name,
            "bytes": t.size,
            "project_ms": round(t.project * 1000, 3),
            "floor_ms": round(t.floor * 1000, 3),
            "floor_errors": t.floor_errors,
        }
        for t in timings
    ]


def _generated(section: Section, size_mb: int, settings: Settings, repeats: int) -> None:
    sample = Sample(f"generated-{size_mb}mb", large_message(size_mb * MB))
    try:
        timing, conversion = time_sample(sample, settings, repeats)
    except Exception as exc:  # noqa: BLE001 (reported as an error of the run)
        section.errors.append(f"convert_offline() raised on the generated {size_mb} MB message: {exc!r}")
        return
    sent = len(conversion.requests[0].get("Attachments", [])) if conversion.requests else 0
    if sent != len(ATTACHMENT_TYPES):
        section.errors.append(
            f"the generated {size_mb} MB message converted to {conversion.outcome.value} with "
            f"{sent} attachments, not a contact with {len(ATTACHMENT_TYPES)}"
        )
    section.figures.append(
        Figure(
            f"conversion: {size_mb} MB message",
            timing.project * 1000,
            timing.floor * 1000,
            "ms",
            timing.project / timing.floor,
            TARGET,
            f"median of {repeats}; 3 base64 attachments; the floor failed on {timing.floor_errors} parts",
        )
    )
    section.details[f"conversion_{size_mb}mb"] = {
        "bytes": sample.size,
        "project_ms": round(timing.project * 1000, 2),
        "floor_ms": round(timing.floor * 1000, 2),
    }
