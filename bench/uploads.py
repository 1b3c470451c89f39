"""Attachment stores over a slow link: ``ATTACHMENT_UPLOADS`` of 4 against one at a time.

On 127.0.0.1 an S3 PutObject takes a few milliseconds, so overlapping stores would show
nothing. Here each attachment PUT passes a
:class:`~ses_to_connect_tools.local_pipeline.fault_proxy.FaultProxy` that holds it ``LATENCY_SECONDS``
before moto stores it: a stand-in for the round trip and transfer of a PutObject of a few MB inside a
region (an assumption, stated in the table).

measured: ``attachments.store_attachments`` of a 10 MB message's three files (about 2.5 MB each) through
the Lambda's own ``AttachmentStore(uploads=4)`` (boto3 S3 client, pre-signed URLs).
baseline: the same with ``uploads=1``, one upload at a time. Each run plans the
message afresh (decoding releases the parsed text) and only ``store_attachments()`` is timed; runs alternate.
"""

from __future__ import annotations

import time

import boto3

from bench.messages import MB, Sample, bench_settings, large_message
from bench.report import Figure, Section, median
from ses_to_connect.adapters.s3 import AttachmentStore
from ses_to_connect.attachments import store_attachments
from ses_to_connect.convert import plan
from ses_to_connect_tools.local_pipeline.aws import BUCKET, local_aws

LATENCY_SECONDS = 0.1
UPLOADS = 4
MESSAGE_MB = 10


def _timed_send(sample: Sample, stores: dict[int, AttachmentStore], uploads: int) -> tuple[float, int]:
    planned = plan(sample.raw, sample.record(), bench_settings())
    started = time.perf_counter()
    sent, _ = store_attachments(planned.candidates, stores[uploads], planned.attachment_prefix)
    return time.perf_counter() - started, len(sent)


def run(repeats: int) -> Section:
    section = Section()
    sample = Sample(f"{MESSAGE_MB} MB", large_message(MESSAGE_MB * MB))
    with local_aws(s3_faults=True) as aws:
        assert aws.s3_proxy is not None  # noqa: S101 (asked for above)
        aws.s3_proxy.delay("PUT", r"/attachments/", count=1_000_000, seconds=LATENCY_SECONDS)
        # Inside local_aws() the function's environment is set: S3 is the proxy, as for the handler.
        client = boto3.client("s3")
        stores = {uploads: AttachmentStore(client, BUCKET, 3600, uploads=uploads) for uploads in (1, UPLOADS)}
        times: dict[int, list[float]] = {1: [], UPLOADS: []}
        files = 0
        _timed_send(sample, stores, UPLOADS)  # warm-up: connections, botocore's lazy models
        for index in range(repeats):
            for uploads in (1, UPLOADS) if index % 2 == 0 else (UPLOADS, 1):
                elapsed, files = _timed_send(sample, stores, uploads)
                times[uploads].append(elapsed)
    concurrent, one_at_a_time = median(times[UPLOADS]) * 1000, median(times[1]) * 1000
    section.figures.append(
        Figure(
            f"attachment stores: {files} files, {MESSAGE_MB} MB message",
            concurrent,
            one_at_a_time,
            "ms",
            concurrent / one_at_a_time,
            None,
            f"median of {repeats}; measured: ATTACHMENT_UPLOADS={UPLOADS}; baseline: 1 (one at a "
            f"time); each PUT held {LATENCY_SECONDS * 1000:.0f} ms by a proxy, standing in for S3",
        )
    )
    section.details["uploads"] = {
        "latency_seconds": LATENCY_SECONDS,
        "files": files,
        "concurrent_ms": [round(value * 1000, 2) for value in times[UPLOADS]],
        "one_at_a_time_ms": [round(value * 1000, 2) for value in times[1]],
    }
    return section
