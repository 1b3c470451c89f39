"""Peak memory of the Lambda processing large messages end to end, per byte of message.

moto's server and the Connect emulator run in processes of their own (:mod:`bench.services`),
so the stored objects and the emulator's attachment downloads are not counted. Each figure is
measured in a fresh process (:mod:`bench.probe`): warm the handler with one small message,
take the idle resident set, process the large message (S3 read, parse, attachment uploads,
StartEmailContact), and report the high-water mark above idle, divided by the message size.

Every probe run gets a message of its own (same bytes, another SES message id), so the
idempotency ledger never turns a repeat into a duplicate that skips the uploads.
A third message of 40 MB carries a single 29 MB file: the worst case, since the decoding
copies scale with the largest part. For scale, the stdlib parsers are probed on the same
bytes: ``parsebytes`` on the whole message, and ``BytesFeedParser`` fed 1 MiB chunks (the
floor of what the handler does).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import probe
from bench.messages import ATTACHMENT_TYPES, MB, Sample, large_message, small_messages
from bench.report import Figure, Section, median
from bench.services import REPO, Services, external_services, python_env
from ses_to_connect.limits import MAX_ATTACHMENT_BYTES
from ses_to_connect_tools.local_pipeline.aws import BUCKET
from ses_to_connect_tools.local_pipeline.ses import Receipt, receive

TARGET = 2.0
# (size in MB, attachments): the two messages TARGET is set for, and the worst case for memory, one
# attachment of 29 MB (over Connect's 20 MB, so skipped, but only after it was decoded).
MEASURED = ((10, 3), (40, 3), (40, 1))


@dataclass(frozen=True)
class Probed:
    """Medians over the probe runs of one message."""

    size: int
    idle_mib: float
    peak_mib: float  # above idle
    traced_mib: float  # tracemalloc's peak, one run
    seconds: float  # the measured invocation's wall time (untraced runs)
    cpu_seconds: float  # ... and its CPU time
    method: str  # how the untraced runs measured (see bench.probe)


class _Prober:
    def __init__(self, services: Services, workdir: Path) -> None:
        self._services = services
        self.workdir = workdir
        self._s3 = services.aws.client("s3")
        self._runs = 0
        self._warmup = next(small_messages(1))[1]

    def handler(
        self, name: str, raw: bytes, *, traced: bool, expect_attachments: int | None
    ) -> probe.ProbeResult:
        self._runs += 1
        events = {
            "warmup": self._store(f"warmup-{self._runs}", self._warmup),
            "measured": self._store(f"{name}-{self._runs}", raw),
        }
        events_file = self.workdir / "events.json"
        events_file.write_text(json.dumps(events))
        result = self._probe(["handler", "--events", str(events_file)], traced, self._services.env)
        answer = result.detail
        if answer.get("duplicate") or answer.get("outcome") not in {"contact", "quarantine"}:
            raise RuntimeError(f"{name}: the handler answered {answer}, not a new contact or quarantine")
        if expect_attachments is not None and (
            answer.get("outcome") != "contact" or answer.get("attachmentsSent") != expect_attachments
        ):
            raise RuntimeError(f"{name}: the handler answered {answer}; expected {expect_attachments} sent")
        return result

    def parser(self, message_file: Path, mode: str) -> probe.ProbeResult:
        return self._probe(["parse", "--message", str(message_file), "--mode", mode], False, {})

    def _store(self, name: str, raw: bytes) -> dict[str, Any]:
        return receive(
            raw,
            name=name,
            receipt=Receipt(),
            connect_addresses=self._services.aws.addresses,
            s3_client=self._s3,
            bucket=BUCKET,
        )

    def _probe(self, arguments: list[str], traced: bool, env: dict[str, str]) -> probe.ProbeResult:
        out = self.workdir / "probe.json"
        out.unlink(missing_ok=True)
        command = [sys.executable, "-m", "bench.probe", "--out", str(out)]
        command += ["--tracemalloc"] if traced else []
        done = subprocess.run(  # noqa: S603 (our own interpreter and module)
            [*command, *arguments], env=python_env(env), cwd=REPO, capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"probe {' '.join(arguments[:1])} failed: {done.stderr.strip()[-800:]}")
        return probe.ProbeResult(**json.loads(out.read_text()))


def _mib(kib: float) -> float:
    return kib / 1024


def _probe_handler(prober: _Prober, sample: Sample, repeats: int, attachments: int | None) -> Probed:
    runs = [
        prober.handler(sample.name, sample.raw, traced=False, expect_attachments=attachments)
        for _ in range(repeats)
    ]
    traced = prober.handler(sample.name, sample.raw, traced=True, expect_attachments=attachments)
    return Probed(
        sample.size,
        _mib(median([r.idle_kib for r in runs])),
        _mib(median([r.peak_kib for r in runs])),
        _mib(traced.peak_kib),
        median([r.seconds for r in runs]),
        median([r.cpu_seconds for r in runs]),
        runs[0].method,
    )


def run(repeats: int, typical: Sample | None) -> Section:
    section = Section()
    if not probe.supported():
        section.notes.append("memory: skipped, this platform has no /proc/self/status (Linux only)")
        return section
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder, external_services() as services:
        prober = _Prober(services, Path(folder))
        for size_mb, attachments in MEASURED:
            _large_message(section, prober, size_mb, attachments, repeats)
        if typical is not None:
            measured = _probe_handler(prober, typical, repeats, None)
            section.details["memory_typical"] = {"name": typical.name, **_as_json(measured)}
            section.notes.append(
                f"typical mail ({typical.name}, {typical.size / 1000:.1f} kB, the corpus median): "
                f"invocation {measured.seconds * 1000:.0f} ms ({measured.cpu_seconds * 1000:.0f} ms CPU), "
                f"{measured.peak_mib:.1f} MiB above an idle {measured.idle_mib:.0f} MiB"
            )
    return section


def _large_message(section: Section, prober: _Prober, size_mb: int, attachments: int, repeats: int) -> None:
    sample = Sample(f"generated-{size_mb}mb-{attachments}", large_message(size_mb * MB, attachments))
    # Base64 carries 57 bytes in each 78-byte line; files over Connect's limit are skipped.
    each = size_mb * MB * 57 // 78 // attachments
    measured = _probe_handler(prober, sample, repeats, attachments if each <= MAX_ATTACHMENT_BYTES else 0)
    size_mib = _mib(sample.size / 1024)
    method = "" if measured.method == "VmHWM" else f" ({measured.method})"
    target_case = attachments == len(ATTACHMENT_TYPES)  # TARGET is set for these
    label = f"{size_mb} MB" if target_case else f"{size_mb} MB, 1 file"
    section.figures.append(
        Figure(
            f"peak memory: {label}, handler",
            measured.peak_mib,
            size_mib,
            "MiB",
            measured.peak_mib / size_mib,
            TARGET if target_case else None,
            ("" if target_case else "worst case, for sizing: one 29 MB file, decoded then skipped; ")
            + f"RSS high-water mark{method} above an idle {measured.idle_mib:.0f} MiB, median of {repeats}; "
            f"tracemalloc peak {measured.traced_mib:.0f} MiB ({measured.traced_mib / size_mib:.2f}x); "
            f"invocation {measured.seconds:.2f} s ({measured.cpu_seconds:.2f} s CPU)",
        )
    )
    section.details[f"memory_{size_mb}mb_{attachments}"] = _as_json(measured)
    section.notes.append(
        f"{label} end to end: resident {measured.idle_mib:.0f} MiB idle + "
        f"{measured.peak_mib:.0f} MiB peak = {measured.idle_mib + measured.peak_mib:.0f} MiB; "
        f"invocation {measured.seconds:.2f} s wall, {measured.cpu_seconds:.2f} s CPU"
    )
    message_file = prober.workdir / f"{size_mb}mb-{attachments}.eml"
    message_file.write_bytes(sample.raw)
    floors = (
        ("parsebytes", "stdlib parsebytes", "BytesParser(policy=default).parsebytes, raw bytes already held"),
        ("feed", "stdlib feed 1 MiB", "BytesFeedParser(compat32) fed 1 MiB chunks, as the handler parses"),
    )
    for mode, parser, note in floors if target_case else floors[1:]:
        peak = _mib(median([prober.parser(message_file, mode).peak_kib for _ in range(repeats)]))
        section.figures.append(
            Figure(
                f"peak memory: {label}, {parser}",
                peak,
                size_mib,
                "MiB",
                peak / size_mib,
                None,
                f"for scale: {note}",
            )
        )
    message_file.unlink()


def _as_json(probed: Probed) -> dict[str, Any]:
    return {
        "bytes": probed.size,
        "idle_mib": round(probed.idle_mib, 1),
        "peak_above_idle_mib": round(probed.peak_mib, 1),
        "tracemalloc_peak_mib": round(probed.traced_mib, 1),
        "invocation_seconds": round(probed.seconds, 3),
        "invocation_cpu_seconds": round(probed.cpu_seconds, 3),
    }
