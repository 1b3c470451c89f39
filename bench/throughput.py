"""Local end-to-end throughput: messages per second through ``simulate()``, without throttling.

measured: ``ses_to_connect_tools.local_pipeline.simulate.simulate`` over generated everyday messages
(every fourth with a PDF): SES storage, the real handler under Lambda's retry semantics (S3 read, parse,
idempotency ledger, thread index, attachment uploads, StartEmailContact over HTTP to the
emulator, which downloads each attachment) and the simulation's own check of every outcome.

baseline: the I/O any bridge must do for the same messages, through boto3 to the same moto and
emulator: store the raw message (SES's S3 action), read it back (the function's read) and one
minimal ``StartEmailContact`` (subject and text body, no attachments). The ratio is baseline
messages/second over measured messages/second: the time per message relative to that floor.

Each round starts its own moto and emulator and uses messages of its own (another seed).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from bench.messages import INSTANCE_ID, SEED, SUPPORT, small_messages
from bench.report import Figure, Section, median
from ses_to_connect_tools.local_pipeline.aws import BUCKET, LocalAws, local_aws
from ses_to_connect_tools.local_pipeline.simulate import simulate

WARM_UP_MESSAGES = 4


def _simulate_round(aws: LocalAws, folder: Path, count: int, seed: int) -> float:
    """Messages per second through the simulation of ``count`` fresh messages."""
    files = []
    for name, raw in small_messages(count, seed):
        path = folder / f"{seed}-{name}"
        path.write_bytes(raw)
        files.append(path)
    # What the function prints (Powertools' EMF lines, which it prints when 100 values pile up even
    # with POWERTOOLS_METRICS_DISABLED) would go to CloudWatch, not into the benchmark's table.
    with open(os.devnull, "w") as sink, redirect_stdout(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        started = time.perf_counter()
        reports = simulate(files, aws)
        elapsed = time.perf_counter() - started
    wrong = [report for report in reports if report.outcome != "contact"]
    if wrong:
        raise RuntimeError(f"{len(wrong)} of {count} messages were not delivered, e.g. {wrong[0]}")
    return count / elapsed


def _bare_round(aws: LocalAws, count: int, seed: int) -> float:
    """Messages per second of the bare I/O: S3 put, S3 get, one minimal StartEmailContact."""
    s3, connect = aws.client("s3"), aws.client("connect")
    messages = list(small_messages(count, seed))
    started = time.perf_counter()
    for name, raw in messages:
        key = f"inbound/bare-{seed}-{name}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=raw)
        s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        connect.start_email_contact(**_minimal_request(name))
    return count / (time.perf_counter() - started)


def _minimal_request(name: str) -> dict[str, Any]:
    return {
        "InstanceId": INSTANCE_ID,
        "FromEmailAddress": {"EmailAddress": "pat.customer@bench.example.net"},
        "DestinationEmailAddress": SUPPORT,
        "EmailMessage": {
            "MessageSourceType": "RAW",
            "RawMessage": {"Subject": name, "Body": "Hello.", "ContentType": "text/plain"},
        },
        "ClientToken": str(uuid.uuid4()),
    }


def run(count: int, rounds: int) -> Section:
    section = Section()
    measured: list[float] = []
    bare: list[float] = []
    for round_number in range(rounds):
        seed = SEED + 1 + round_number
        # Fresh services for every round: no round pays for the contacts and objects of another.
        with tempfile.TemporaryDirectory(prefix="bench-throughput-") as folder, local_aws() as aws:
            _simulate_round(aws, Path(folder), WARM_UP_MESSAGES, -seed)  # imports, clients, first requests
            measured.append(_simulate_round(aws, Path(folder), count, seed))
        with local_aws() as aws:
            _bare_round(aws, WARM_UP_MESSAGES, -seed)
            bare.append(_bare_round(aws, count, seed))
    rate, floor = median(measured), median(bare)
    section.figures.append(
        Figure(
            f"throughput: simulate() over {count} small messages",
            rate,
            floor,
            "msg/s",
            floor / rate,
            None,
            f"median of {rounds} rounds; baseline: S3 put + get + 1 bare StartEmailContact per message; "
            "ratio = time per message relative to the baseline",
        )
    )
    section.details["throughput"] = {
        "messages": count,
        "simulate_msg_per_s": [round(value, 2) for value in measured],
        "bare_io_msg_per_s": [round(value, 2) for value in bare],
    }
    return section
