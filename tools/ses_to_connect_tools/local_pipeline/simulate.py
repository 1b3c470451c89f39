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
import re
import shutil
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ses_to_connect.__main__ import OneLineParser
from ses_to_connect.adapters.ledger import DELIVERY_PREFIX
from ses_to_connect.addresses import is_valid_address
from ses_to_connect.attachments import Skip
from ses_to_connect.convert import plan
from ses_to_connect.ses_event import VERDICT_NAMES, records
from ses_to_connect.settings import DEFAULT_POLICY, Settings
from ses_to_connect_tools.local_pipeline import configuration
from ses_to_connect_tools.local_pipeline.aws import BUCKET, IDEMPOTENCY_TABLE, LocalAws, local_aws
from ses_to_connect_tools.local_pipeline.configuration import UsageError
from ses_to_connect_tools.local_pipeline.connect_emulator import EmailContact
from ses_to_connect_tools.local_pipeline.lambda_runtime import AsyncLambda, ReportedError
from ses_to_connect_tools.local_pipeline.sandbox import SandboxedHandler, SandboxLimits, run_usage
from ses_to_connect_tools.local_pipeline.ses import Receipt, receive

STATUSES = ("PASS", "FAIL", "GRAY", "PROCESSING_FAILED")


@dataclass
class Party:
    address: str
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass
class FileReport:
    name: str
    size: int  # bytes, as Connect downloaded it


@dataclass
class SkippedFile:
    name: str
    reason: str  # attachments.Skip, or "" for the listing's "… and N more"


@dataclass
class Destination:
    """A Connect address the message was for, and the contact Connect created there (if any)."""

    address: str
    flow_id: str | None  # None: the flow Connect has for the address
    contact_id: str | None = None
    attachments: list[FileReport] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


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
    related_contact_id: str | None = None  # the thread root
    # What the agent meets: from the requests Connect received; without a contact, from the
    # function's own plan of the stored message (subject, sender, where it would have gone).
    subject: str | None = None
    sender: Party | None = None
    recipients: list[str] = field(default_factory=list)  # the envelope's
    rule: str | None = None  # the verdict-policy rule that quarantined it
    rule_source: str | None = None  # "verdictPolicy" (the configuration's) or "default"
    destinations: list[Destination] = field(default_factory=list)
    usage: dict[str, Any] | None = None  # peak memory, CPU and any kill, when run under limits


def eml_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, and every ``*.eml`` (any case) of the folders named, each folder's in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml" and p.is_file())
            if not found:
                raise UsageError(f"no .eml files in {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {path}")
    return files


def simulate(
    files: Sequence[Path],
    aws: LocalAws,
    *,
    verdict_defaults: dict[str, str] | None = None,
    recipients: Sequence[str] | None = None,
    progress: Any = None,
    between_attempts: Callable[[float], None] = lambda _seconds: None,
    limits: SandboxLimits | None = None,
) -> list[MessageReport]:
    """Run every file through SES storage, the handler and Lambda's retry semantics; verify each.

    ``recipients`` are the envelope recipients of files whose sidecar names none (default: the
    message's own Connect addresses, see :func:`ses_to_connect_tools.local_pipeline.ses.envelope_recipients`).
    ``between_attempts`` runs where Lambda waits before a retry (given the wait in seconds). With
    ``limits`` each attempt runs in a process of its own under them (the ``sandbox`` module): a
    message that would exceed them is killed, retried and reported as Lambda would.
    """
    from ses_to_connect import handler  # noqa: PLC0415 (reads the environment local_aws set)

    handler.pipeline.cache_clear()
    settings = Settings.from_env(aws.env)
    s3, sqs = aws.client("s3"), aws.client("sqs")
    sandbox = None if limits is None else SandboxedHandler(limits)
    runtime = AsyncLambda(
        handler.lambda_handler if sandbox is None else sandbox,
        sqs_client=sqs,
        failure_queue_url=aws.failure_queue_url,
        max_retry_attempts=aws.async_retry_attempts,
        sleep=between_attempts,
    )
    reports = []
    for number, path in enumerate(files, 1):
        receipt = Receipt.for_file(path, verdict_defaults)
        if receipt.recipients is None and recipients:
            receipt = replace(receipt, recipients=list(recipients))
        event = receive(
            path.read_bytes(),
            name=path.name,
            receipt=receipt,
            connect_addresses=aws.addresses,
            s3_client=s3,
            bucket=BUCKET,
            prefix=settings.inbound_prefix,
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
            report = MessageReport(
                path.name, message_id, "failed", reason=f"{kind}: {error}", attempts=invocation.attempts
            )
        if sandbox is not None:
            report.usage = run_usage(sandbox.runs[runs_before:])
        contacts = None if aws.emulator is None else _contacts_of(aws.emulator.contacts(), message_id)
        if not _found_where_reported(report, aws, s3, settings, contacts):
            report.reason = f"not found where reported ({report.outcome}); {report.reason or ''}".strip("; ")
            report.outcome = "lost"
        elif report.outcome == "id_unknown" and aws.emulator is None:
            # Only the emulator can be asked which contacts exist: say whose word this is.
            report.reason = "unverified: the ledger recorded the attempt; this endpoint cannot list contacts"
        _describe(report, event, contacts or [], settings, s3)
        reports.append(report)
        if progress is not None:
            progress.write(f"\r[{number}/{len(files)}] {path.name[:60]:<60}")
            progress.flush()
    if progress is not None:
        progress.write("\n")
    return reports


def _contacts_of(contacts: Iterable[EmailContact], message_id: str) -> list[EmailContact]:
    return [c for c in contacts if c.params["Attributes"]["sesMessageId"] == message_id]


def _found_where_reported(
    report: MessageReport, aws: LocalAws, s3: Any, settings: Settings, contacts: list[EmailContact] | None
) -> bool:
    """Check the report against the services themselves, not against the handler's word.

    ``contacts`` are the message's contacts in the emulator (None: another endpoint, which cannot
    be asked what exists).
    """
    if report.outcome in {"contact", "id_unknown"}:
        if contacts is None:
            return (
                bool(report.contact_ids) if report.outcome == "contact" else _delivery_recorded(aws, report)
            )
        # Every reported id is a contact of this message, and the message has at least one.
        mine = {c.contact_id for c in contacts}
        return bool(mine) and set(report.contact_ids) <= mine
    if report.outcome == "quarantine":
        try:
            head = s3.head_object(Bucket=BUCKET, Key=f"{settings.quarantine_prefix}{report.ses_message_id}")
        except ClientError:
            return False
        return bool(head["Metadata"].get("quarantine-reason") == report.reason)
    if report.outcome == "failed":
        return report.ses_message_id in _failure_queue_message_ids(aws)
    return report.outcome == "skipped"


def _describe(
    report: MessageReport, event: dict[str, Any], contacts: list[EmailContact], settings: Settings, s3: Any
) -> None:
    """Fill in what the agent meets: from the requests Connect received, else from the function's plan."""
    record = records(event)[0]
    report.recipients = list(record.recipients)
    if report.reason is not None and report.reason in settings.policy:
        report.rule = report.reason
        configured = settings.policy[report.reason] != DEFAULT_POLICY[report.reason]
        report.rule_source = "verdictPolicy" if configured else "default"
    if contacts:
        params = contacts[0].params
        sender = params["FromEmailAddress"]
        report.subject = params["EmailMessage"]["RawMessage"]["Subject"]
        report.sender = Party(sender["EmailAddress"], sender.get("DisplayName"))
        report.destinations = [
            Destination(
                c.params["DestinationEmailAddress"],
                c.params.get("ContactFlowId"),
                c.contact_id,
                [FileReport(a.file_name, a.size) for a in c.attachments],
                skipped_files(c.params["Attributes"].get("sesAttachmentsSkipped", "")),
            )
            for c in contacts
        ]
        return
    key = f"{settings.inbound_prefix}{record.message_id}"
    stored = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    planned = plan(stored, record, settings)
    report.subject = planned.message.subject
    if planned.customer is not None:
        report.sender = Party(planned.customer.email, planned.customer.display_name)
    report.destinations = [Destination(d.address, d.contact_flow_id) for d in planned.destinations]
    if report.contacts_without_id == 0 and len(report.contact_ids) == len(report.destinations):
        # Another endpoint, which cannot be asked: the function's ids, one per destination in order.
        for destination, contact_id in zip(report.destinations, report.contact_ids, strict=True):
            destination.contact_id = contact_id


# One entry of the sesAttachmentsSkipped listing: "name (reason)", reason one of Skip's (Connect's
# own reason after "rejected_by_connect:"), entries joined by "; ".
_SKIPPED_ENTRY = re.compile(
    r"(?P<name>.+?) \((?P<reason>(?:"
    + "|".join(re.escape(s.value) for s in Skip)
    + r")(?::[^)]*)?)\)(?:; |$)"
)


def skipped_files(listing: str) -> list[SkippedFile]:
    """The ``sesAttachmentsSkipped`` attribute read back into files and reasons (its "… and N more"
    tail, if any, is one entry without a reason)."""
    files: list[SkippedFile] = []
    position = 0
    while position < len(listing):
        match = _SKIPPED_ENTRY.match(listing, position)
        if match is None:
            files.append(SkippedFile(listing[position:], ""))
            break
        files.append(SkippedFile(match["name"], match["reason"]))
        position = match.end()
    return files


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


# --- The terminal table -------------------------------------------------------------------------------

LABEL_WIDTH = 10


def table(reports: Sequence[MessageReport], width: int = 100, limits: SandboxLimits | None = None) -> str:
    """Each message, then what the agent meets, one labelled line each; long values wrap, never cut."""
    file_of = {cid: r.file for r in reports for cid in r.contact_ids}
    lines: list[str] = []
    for r in reports:
        lines.extend(_wrapped(f"{r.file}  {_headline(r)}", width, "", " " * 4))
        for label, value in _details(r, file_of):
            lines.extend(_wrapped(value, width, f"  {label:<{LABEL_WIDTH}}", " " * (LABEL_WIDTH + 2)))
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


def _headline(r: MessageReport) -> str:
    if r.rule is not None:
        source = "your verdictPolicy" if r.rule_source == "verdictPolicy" else "default policy"
        return f"{r.outcome}: rule {r.rule} ({source})"
    return f"{r.outcome}: {r.reason}" if r.reason else r.outcome


def _details(r: MessageReport, file_of: dict[str, str]) -> list[tuple[str, str]]:
    details = [("from", str(r.sender) if r.sender else "-"), ("subject", r.subject or "(no subject)")]
    for d in r.destinations:
        flow = f"flow {d.flow_id}" if d.flow_id else "address's flow"
        details.append(("to", f"{d.address} ({flow}): {_contact(r, d)}"))
    if r.related_contact_id:
        root = file_of.get(r.related_contact_id)
        details.append(("thread", f"reply to {r.related_contact_id}" + (f" ({root})" if root else "")))
    delivered = [d for d in r.destinations if d.contact_id]
    alike = len({(_sent(d), _skipped(d)) for d in delivered}) == 1
    for d in delivered[:1] if alike else delivered:
        where = "" if alike else f"{d.address}: "
        if d.attachments:
            details.append(("sent", where + _sent(d)))
        if d.skipped:
            details.append(("skipped", where + _skipped(d)))
    return details


def _contact(r: MessageReport, d: Destination) -> str:
    if d.contact_id is None:
        return "contact, id unknown" if r.outcome in {"contact", "id_unknown"} else "no contact"
    if d.contact_id in r.contact_ids:
        return f"contact {d.contact_id}"
    return f"contact {d.contact_id} (Connect's; id unknown to the function)"


def _sent(d: Destination) -> str:
    return ", ".join(f"{a.name} ({human_size(a.size)})" for a in d.attachments)


def _skipped(d: Destination) -> str:
    return "; ".join(f"{s.name} ({s.reason})" if s.reason else s.name for s in d.skipped)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def _wrapped(text: str, width: int, first: str, rest: str) -> list[str]:
    return textwrap.wrap(
        text,
        max(width, 60),
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


# --- The command --------------------------------------------------------------------------------------


@dataclass
class Run:
    """One run of the local pipeline: where each message ended, and the contacts Connect received."""

    reports: list[MessageReport]
    contacts: dict[str, EmailContact]  # by contact id, as the emulator received them
    limits: SandboxLimits | None = None  # the deployed limits each attempt ran under, if any


def pipeline_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The arguments of every command that runs mail through the local pipeline."""
    parser = OneLineParser(prog=prog, description=description)
    parser.add_argument("paths", nargs="+", type=Path, help=".eml files or folders of them")
    configuration.add_arguments(parser)
    parser.add_argument(
        "--recipient",
        action="append",
        dest="recipients",
        type=_address,
        metavar="ADDR",
        help="envelope recipient of files whose sidecar names none (repeatable; default: the message's "
        "To/Cc addresses that are Connect addresses, else the first Connect address)",
    )
    for name in VERDICT_NAMES:
        parser.add_argument(
            f"--{name}",
            type=str.upper,
            choices=STATUSES,
            help=f"default {name} verdict for files without a sidecar value (default PASS)",
        )
    return parser


def _address(text: str) -> str:
    if not is_valid_address(text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not an email address")
    return text.strip()


def run(
    args: argparse.Namespace,
    *,
    connect_endpoint: str | None = None,
    connect_tps: float | None = None,
    progress: Any = None,
    in_process: bool = False,
) -> Run:
    """The files of ``args`` through the pipeline, configured as ``args`` say; raises UsageError."""
    files = eml_files(args.paths)
    config = configuration.deployment_config(args.config, args.context, args.connect_addresses)
    defaults = {name: getattr(args, name) for name in VERDICT_NAMES if getattr(args, name)}
    limits = None if in_process else SandboxLimits.of(config)
    with local_aws(connect_endpoint=connect_endpoint, connect_tps=connect_tps, config=config) as aws:
        reports = simulate(
            files,
            aws,
            verdict_defaults=defaults,
            recipients=args.recipients,
            progress=progress if len(files) > 1 else None,
            limits=limits,
        )
        contacts = {} if aws.emulator is None else {c.contact_id: c for c in aws.emulator.contacts()}
    return Run(reports, contacts, limits)


def failed(reports: Iterable[MessageReport]) -> bool:
    """Whether any message failed or was lost: the commands then exit 1."""
    return any(r.outcome in {"failed", "lost"} for r in reports)


def main(argv: Sequence[str] | None = None) -> int:
    parser = pipeline_parser(
        "python -m local_pipeline simulate",
        "Run .eml files through SES storage, the Lambda and Connect, configured as your deployment.",
    )
    parser.add_argument("--report", type=Path, help="write a JSON report here")
    parser.add_argument("--connect-endpoint", help="use this Connect endpoint instead of the local emulator")
    parser.add_argument("--connect-tps", type=float, help="emulated StartEmailContact quota, requests/second")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the handler in this process, without the deployed memory and time limits (faster)",
    )
    args = parser.parse_args(argv)
    try:
        result = run(
            args,
            connect_endpoint=args.connect_endpoint,
            connect_tps=args.connect_tps,
            progress=sys.stderr,
            in_process=args.in_process,
        )
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    print(table(result.reports, shutil.get_terminal_size((100, 24)).columns, result.limits))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        records_json = [asdict(r) for r in result.reports]
        args.report.write_text(
            json.dumps(
                {"limits": _limits_report(result.limits), "messages": records_json},
                indent=2,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
    return 1 if failed(result.reports) else 0


def _limits_report(limits: SandboxLimits | None) -> dict[str, Any] | None:
    if limits is None:
        return None
    return {
        **asdict(limits),
        "vcpu_share": round(limits.vcpu_share, 4),
        "cpu_seconds": round(limits.cpu_seconds, 2),
        "processing_cpu_seconds": round(limits.processing_cpu_seconds, 2),
    }
