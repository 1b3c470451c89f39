"""``python -m local_pipeline simulate PATH...``: the whole pipeline on this machine.

For each ``.eml`` file (or every ``.eml`` in a folder, sorted by name): store it as SES does,
invoke the real handler in-process as Lambda's asynchronous invocation would (retries, then
the failure queue), and then *check* where the message ended up: contacts that exist in
Connect, a quarantined copy in S3, or a record in the failure queue. A message found in none
of them is reported as lost, and the command exits 1.

``id_unknown`` is apart from both: the contact exists but nobody knows its id (a lost answer
retried after its attachment URLs expired). Against the emulator the contact itself is checked;
against any other endpoint, which cannot be asked, the ledger's delivery record is the evidence
that an attempt reached Connect before it answered IdempotencyException. Lost means no contact.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local_pipeline.aws import BUCKET, DEFAULT_ADDRESSES, IDEMPOTENCY_TABLE, LocalAws, local_aws
from local_pipeline.lambda_runtime import AsyncLambda, ReportedError
from local_pipeline.sandbox import SandboxedHandler, SandboxLimits, run_usage
from local_pipeline.ses import Receipt, receive
from ses_to_connect.adapters.ledger import DELIVERY_PREFIX
from ses_to_connect.ses_event import VERDICT_NAMES

STATUSES = ("PASS", "FAIL", "GRAY", "PROCESSING_FAILED")


@dataclass
class MessageReport:
    file: str
    ses_message_id: str
    outcome: str  # contact, id_unknown, quarantine, failed (in the failure queue) or lost
    contact_ids: list[str] = field(default_factory=list)
    contacts_without_id: int = 0  # contacts that exist but whose id is unknown
    reason: str | None = None
    attachments_sent: int = 0
    attachments_skipped: dict[str, int] = field(default_factory=dict)
    attempts: int = 1
    related_contact_id: str | None = None
    usage: dict[str, Any] | None = None  # peak memory, CPU and any kill, when run under limits


def eml_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.eml")) if path.is_dir() else [path])
    return files


def simulate(
    files: Sequence[Path],
    aws: LocalAws,
    *,
    verdict_defaults: dict[str, str] | None = None,
    progress: Any = None,
    between_attempts: Callable[[float], None] = lambda _seconds: None,
    limits: SandboxLimits | None = None,
) -> list[MessageReport]:
    """Run every file through SES storage, the handler and Lambda's retry semantics; verify each.

    ``between_attempts`` runs where Lambda waits before a retry (given the wait in seconds). With
    ``limits`` each attempt runs in a process of its own under them (``local_pipeline.sandbox``):
    a message that would exceed them is killed, retried and reported as Lambda would.
    """
    from ses_to_connect import handler  # noqa: PLC0415 (reads the environment local_aws set)

    handler.pipeline.cache_clear()
    s3, sqs = aws.client("s3"), aws.client("sqs")
    sandbox = None if limits is None else SandboxedHandler(limits)
    runtime = AsyncLambda(
        handler.lambda_handler if sandbox is None else sandbox,
        sqs_client=sqs,
        failure_queue_url=aws.failure_queue_url,
        sleep=between_attempts,
    )
    reports = []
    for number, path in enumerate(files, 1):
        receipt = Receipt.for_file(path, verdict_defaults)
        event = receive(
            path.read_bytes(),
            name=path.name,
            receipt=receipt,
            connect_addresses=aws.addresses,
            s3_client=s3,
            bucket=BUCKET,
        )
        message_id = event["Records"][0]["ses"]["mail"]["messageId"]
        # Powertools keeps disabled metrics and prints them past 100 values: not for this table.
        runs_before = 0 if sandbox is None else len(sandbox.runs)
        with contextlib.redirect_stdout(io.StringIO()):
            invocation = runtime.invoke(event)
        if invocation.result is not None and invocation.result.get("failed"):
            failed = invocation.result["failed"]  # permanent: the handler queued it at once
            report = MessageReport(
                path.name, message_id, "failed", reason=f"{failed['code']}: {failed['error']}"
            )
        elif invocation.result is not None:
            result = invocation.result["messages"][0]
            without_id = int(result.get("contactsWithoutId", 0))
            report = MessageReport(
                path.name,
                message_id,
                "id_unknown" if without_id else result["outcome"],
                contact_ids=result["contactIds"],
                contacts_without_id=without_id,
                reason=result["reason"],
                attachments_sent=result["attachmentsSent"],
                attachments_skipped=result["attachmentsSkipped"],
                attempts=invocation.attempts,
                related_contact_id=result["relatedContactId"],
            )
        else:
            error = invocation.error
            kind = error.error_type if isinstance(error, ReportedError) else type(error).__name__
            reason = f"{kind}: {error}"
            report = MessageReport(
                path.name, message_id, "failed", reason=reason, attempts=invocation.attempts
            )
        if sandbox is not None:
            report.usage = run_usage(sandbox.runs[runs_before:])
        if not _found_where_reported(report, aws, s3):
            report.reason = f"not found where reported ({report.outcome}); {report.reason or ''}".strip("; ")
            report.outcome = "lost"
        elif report.outcome == "id_unknown" and aws.emulator is None:
            # Only the emulator can be asked which contacts exist: say whose word this is.
            report.reason = "unverified: the ledger recorded the attempt; this endpoint cannot list contacts"
        reports.append(report)
        if progress is not None:
            progress.write(f"\r[{number}/{len(files)}] {path.name[:60]:<60}")
            progress.flush()
    if progress is not None:
        progress.write("\n")
    return reports


def _found_where_reported(report: MessageReport, aws: LocalAws, s3: Any) -> bool:
    """Check the report against the services themselves, not against the handler's word."""
    if report.outcome in {"contact", "id_unknown"}:
        if aws.emulator is None:  # another Connect endpoint: it cannot be asked what exists
            return (
                bool(report.contact_ids) if report.outcome == "contact" else _delivery_recorded(aws, report)
            )
        # Every reported id is a contact of this message, and the message has at least one.
        mine = {
            c.contact_id
            for c in aws.emulator.contacts()
            if c.params["Attributes"]["sesMessageId"] == report.ses_message_id
        }
        return bool(mine) and set(report.contact_ids) <= mine
    if report.outcome == "quarantine":
        try:
            head = s3.head_object(Bucket=BUCKET, Key=f"quarantine/{report.ses_message_id}")
        except ClientError:
            return False
        return bool(head["Metadata"].get("quarantine-reason") == report.reason)
    if report.outcome == "failed":
        return report.ses_message_id in _failure_queue_message_ids(aws)
    return report.outcome == "skipped"


def _delivery_recorded(aws: LocalAws, report: MessageReport) -> bool:
    """The ledger recorded the message's requests before they were sent: an attempt reached Connect."""
    key = {"id": {"S": DELIVERY_PREFIX + report.ses_message_id}}
    item = aws.client("dynamodb").get_item(TableName=IDEMPOTENCY_TABLE, Key=key, ConsistentRead=True)
    return "Item" in item


def _failure_queue_message_ids(aws: LocalAws) -> set[str]:
    return {
        record["ses"]["mail"]["messageId"]
        for entry in aws.failure_records()
        for record in entry["requestPayload"]["Records"]
    }


def table(reports: Sequence[MessageReport], limits: SandboxLimits | None = None) -> str:
    rows = [("message", "outcome", "contacts", "thread of", "attachments", "reason")]
    for r in reports:
        skipped = sum(r.attachments_skipped.values())
        attachments = f"{r.attachments_sent} sent" + (f", {skipped} skipped" if skipped else "")
        unknown = ["id unknown"] * r.contacts_without_id
        contacts = ", ".join([*(cid[:8] for cid in r.contact_ids), *unknown]) or "-"
        rows.append(
            (
                r.file[:44],
                r.outcome,
                contacts,
                (r.related_contact_id or "-")[:8],
                attachments if r.outcome in {"contact", "id_unknown"} else "-",
                (r.reason or "")[:60],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    counts = Counter(r.outcome for r in reports)
    summary = ", ".join(
        f"{counts[o]} {o}"
        for o in ("contact", "id_unknown", "quarantine", "failed", "lost", "skipped")
        if counts[o]
    )
    return "\n".join([*lines, "", f"{len(reports)} messages: {summary}", *_usage_lines(reports, limits)])


def _usage_lines(reports: Sequence[MessageReport], limits: SandboxLimits | None) -> list[str]:
    if limits is None:
        return []
    measured = [r for r in reports if r.usage is not None]
    lines = [f"limits: {limits.describe()}"]
    if measured:
        peak = max(measured, key=lambda r: r.usage["peak_rss_mib"] if r.usage else 0.0)
        cpu = max(measured, key=lambda r: r.usage["cpu_seconds"] if r.usage else 0.0)
        assert peak.usage is not None and cpu.usage is not None  # noqa: S101 (filtered above)
        lines.append(
            f"highest: {peak.usage['peak_rss_mib']:.0f} MiB resident ({peak.file}), "
            f"{cpu.usage['cpu_seconds']:.2f} CPU-s ({cpu.file})"
        )
    lines.extend(f"killed: {r.file}: {r.usage['killed']}" for r in measured if r.usage and r.usage["killed"])
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_pipeline simulate",
        description="Run .eml files through SES storage, the Lambda and Connect.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help=".eml files or folders of them")
    parser.add_argument("--report", type=Path, help="write a JSON report here")
    parser.add_argument("--connect-endpoint", help="use this Connect endpoint instead of the local emulator")
    parser.add_argument("--connect-tps", type=float, help="emulated StartEmailContact quota, requests/second")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the handler in this process, without the deployed memory and time limits (faster)",
    )
    parser.add_argument(
        "--connect-address",
        action="append",
        dest="addresses",
        help=f"Connect address (repeatable; default {', '.join(DEFAULT_ADDRESSES)})",
    )
    for name in VERDICT_NAMES:
        parser.add_argument(
            f"--{name}",
            type=str.upper,
            choices=STATUSES,
            help=f"default {name} verdict for files without a sidecar value (default PASS)",
        )
    args = parser.parse_args(argv)
    files = eml_files(args.paths)
    missing = [str(f) for f in files if not f.is_file()]
    if missing or not files:
        parser.error(f"no such .eml file: {', '.join(missing)}" if missing else "no .eml files found")
    defaults = {name: getattr(args, name) for name in VERDICT_NAMES if getattr(args, name)}
    limits = None if args.in_process else SandboxLimits.deployed()
    with local_aws(
        connect_endpoint=args.connect_endpoint,
        connect_tps=args.connect_tps,
        addresses=tuple(args.addresses or DEFAULT_ADDRESSES),
    ) as aws:
        reports = simulate(
            files,
            aws,
            verdict_defaults=defaults,
            progress=sys.stderr if len(files) > 1 else None,
            limits=limits,
        )
    print(table(reports, limits))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        report = {"limits": _limits_report(limits), "messages": [asdict(r) for r in reports]}
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(r.outcome == "lost" for r in reports) else 0


def _limits_report(limits: SandboxLimits | None) -> dict[str, Any] | None:
    if limits is None:
        return None
    return {
        **asdict(limits),
        "vcpu_share": round(limits.vcpu_share, 4),
        "cpu_seconds": round(limits.cpu_seconds, 2),
        "processing_cpu_seconds": round(limits.processing_cpu_seconds, 2),
    }
