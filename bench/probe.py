"""One memory measurement in a fresh process: ``python -m bench.probe {handler,parse} ... --out FILE``.

The process measures its own resident set: the idle footprint just before the work, then the
high-water mark (``VmHWM``) reached during it, after resetting the mark to the idle level
(``/proc/self/clear_refs``). ``--tracemalloc`` reports the peak of Python allocations made
during the work instead; tracing slows everything down and adds its own memory, so it is
always a separate run. The result goes to ``--out`` as JSON: the handler logs to stdout.

* ``handler --events FILE``: the Lambda as it runs in a warm container. Import, create clients,
  process a small warm-up event (so that lazily loaded botocore models, endpoint rules and
  Powertools state are in place, as they would be after the first invocation), then process
  the measured event end to end: S3 read, parse, attachment uploads, StartEmailContact.
* ``parse --message FILE --mode parsebytes``: stdlib ``BytesParser(policy=default).parsebytes``
  on the whole message, which is read into memory *before* the idle measurement.
* ``parse --message FILE --mode feed``: stdlib ``BytesFeedParser`` (compat32) fed 1 MiB
  chunks read from the file, the way the handler feeds S3's stream; the raw message is never
  held whole.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from email.feedparser import BytesFeedParser
from email.parser import BytesParser
from email.policy import compat32, default
from pathlib import Path
from typing import Any

CHUNK_BYTES = 1024 * 1024
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class ProbeResult:
    idle_kib: int  # resident set just before the work (with --tracemalloc: 0)
    peak_kib: int  # high-water mark during the work, minus idle_kib (or tracemalloc's peak)
    seconds: float  # wall time of the work
    cpu_seconds: float  # CPU time of the work (this process, every thread)
    method: str  # "VmHWM", "VmHWM, not reset" (an upper bound) or "tracemalloc"
    detail: dict[str, Any]


def supported() -> bool:
    """Whether this platform exposes the resident set the way the probe reads it (Linux)."""
    return _STATUS.is_file()


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure (VmRSS, VmHWM) in KiB."""
    found = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"{_STATUS} has no {field}")
    return int(found.group(1))


def measure(work: Callable[[], dict[str, Any]], *, traced: bool) -> ProbeResult:
    """Run ``work`` and return how much memory it needed above the idle footprint."""
    gc.collect()
    if traced:
        tracemalloc.start()
        started, cpu = time.perf_counter(), time.process_time()
        detail = work()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return ProbeResult(0, peak // 1024, seconds, cpu, "tracemalloc", detail)
    idle = status_kib("VmRSS")
    try:
        _CLEAR_REFS.write_text("5")  # resets VmHWM to the current resident set (Linux >= 4.0)
        method = "VmHWM"
    except OSError:
        method = "VmHWM, not reset"  # the mark includes whatever happened before: an upper bound
    started, cpu = time.perf_counter(), time.process_time()
    detail = work()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return ProbeResult(idle, status_kib("VmHWM") - idle, seconds, cpu, method, detail)


def _handler_work(events_file: Path) -> Callable[[], dict[str, Any]]:
    from ses_to_connect import handler  # noqa: PLC0415 (reads the environment the parent set)
    from ses_to_connect_tools.local_pipeline.lambda_runtime import LambdaContext  # noqa: PLC0415 (after argument parsing)

    events = json.loads(events_file.read_text())
    warm = handler.lambda_handler(events["warmup"], LambdaContext())
    if warm["messages"][0]["outcome"] != "contact":
        raise RuntimeError(f"the warm-up message was not delivered: {warm['messages'][0]}")
    measured = events["measured"]

    def work() -> dict[str, Any]:
        result = handler.lambda_handler(measured, LambdaContext())
        message: dict[str, Any] = result["messages"][0]
        return message

    return work


def _parse_work(message_file: Path, mode: str) -> Callable[[], dict[str, Any]]:
    if mode == "parsebytes":
        raw = message_file.read_bytes()

        def parse_whole() -> dict[str, Any]:
            message = BytesParser(policy=default).parsebytes(raw)
            return {"parts": sum(1 for _ in message.walk())}

        return parse_whole

    def parse_chunks() -> dict[str, Any]:
        parser = BytesFeedParser(policy=compat32)
        with message_file.open("rb") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                parser.feed(chunk)
        return {"parts": sum(1 for _ in parser.close().walk())}

    return parse_chunks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probe", description="One memory measurement.")
    parser.add_argument("--out", type=Path, required=True, help="write the result here as JSON")
    parser.add_argument("--tracemalloc", action="store_true", help="report tracemalloc's peak instead")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("handler").add_argument("--events", type=Path, required=True)
    parse = commands.add_parser("parse")
    parse.add_argument("--message", type=Path, required=True)
    parse.add_argument("--mode", choices=("parsebytes", "feed"), required=True)
    args = parser.parse_args(argv)
    work = _handler_work(args.events) if args.command == "handler" else _parse_work(args.message, args.mode)
    result = measure(work, traced=args.tracemalloc)
    args.out.write_text(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
