"""``python -m local_pipeline preview PATH... [-o FILE]``: one HTML page of what the agent will see.

The messages run through the same local pipeline as ``simulate`` (SES storage, the real handler,
the Connect emulator over HTTP), configured as the deployment is. The page is drawn from the
``StartEmailContact`` requests the emulator received: subject, sender, To/Cc, the body exactly as
sent, the attachments Connect downloaded, the skipped files, the attributes and the thread root;
for a quarantine, the rule that matched. Nothing here renders the mail again: the body is the one
the function sent.

The body is the customer's, so it is shown as untrusted content: inside an ``<iframe sandbox>``
(no scripts, a unique origin) and under a Content-Security-Policy that allows no network at all,
only inline styles and ``data:`` images. Images the agent cannot load (``cid:`` references, remote
URLs) are replaced, in this page only, by a visible label naming them.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ses_to_connect.attachments import Skip
from ses_to_connect_tools.local_pipeline.configuration import UsageError
from ses_to_connect_tools.local_pipeline.connect_emulator import EmailContact
from ses_to_connect_tools.local_pipeline.simulate import (
    Destination,
    MessageReport,
    failed,
    human_size,
    pipeline_parser,
    run,
)

DEFAULT_OUTPUT = Path("preview.html")
# No network and no script: the page and the body may show inline styles and data: images only.
# (The body's srcdoc frame is no fetch, so the frame-src 'none' this implies leaves it alone.)
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r"""(?<![\w-])src\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
# What each skip reason means for the agent.
SKIP_REASONS: dict[str, str] = {
    Skip.TYPE_NOT_ALLOWED: "Connect does not accept this file type",
    Skip.TOO_LARGE: "larger than Connect accepts",
    Skip.TOO_MANY: "more files than Connect accepts on one contact",
    Skip.EMPTY: "empty file",
    Skip.TNEF_UNREADABLE: "Outlook winmail.dat that could not be unpacked",
    Skip.TNEF_EMPTY: "Outlook winmail.dat holding only the body",
    Skip.REJECTED_BY_CONNECT: "refused by Connect",
    Skip.URL_TOO_LONG: "its download link was too long for Connect",
    Skip.TYPE_MISMATCH: "its content or declared type is not what its name says",
    Skip.NAME_CONFLICT: "its file names disagree about its type",
    Skip.SMALL_INLINE_IMAGE: "a small image in the signature, not sent (inlineImageMinBytes)",
}

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; background: #f3f4f6; color: #111827; }
header, main { max-width: 72rem; margin: 0 auto; padding: 0.75rem 1.5rem; }
h1 { font-size: 1.35rem; margin: 0.5rem 0 0.25rem; }
header p { margin: 0 0 0.75rem; color: #4b5563; }
a { color: inherit; }
article { background: #fff; border: 1px solid #d1d5db; border-radius: 8px; margin: 0 0 1rem;
  padding: 0.9rem 1.2rem; }
h2 { font-size: 1.05rem; margin: 0 0 0.6rem; }
.file { color: #6b7280; font-weight: normal; font-size: 0.85rem; }
.tag { font-size: 0.75rem; padding: 0.05rem 0.5rem; border-radius: 999px; font-weight: 600;
  white-space: nowrap; background: #dcfce7; color: #166534; }
.tag.quarantine, .tag.failed, .tag.lost { background: #fee2e2; color: #991b1b; }
.tag.id_unknown, .tag.skipped { background: #fef3c7; color: #92400e; }
.agent-view { display: grid; grid-template-columns: 27rem minmax(0, 1fr); gap: 0.5rem 1.25rem; }
.agent-view + .agent-view { border-top: 1px solid #e5e7eb; margin-top: 0.9rem; padding-top: 0.9rem; }
@media (max-width: 50rem) { .agent-view { grid-template-columns: 1fr; } }
dl { display: grid; grid-template-columns: 5rem 1fr; gap: 0.15rem 0.6rem; margin: 0; }
dt { color: #6b7280; }
dd { margin: 0; overflow-wrap: anywhere; }
iframe { width: 100%; box-sizing: border-box; border: 1px solid #d1d5db; border-radius: 4px;
  resize: vertical; background: #fff; }
h3 { font-size: 0.85rem; margin: 0.6rem 0 0.15rem; color: #374151; }
ul { margin: 0; padding-left: 1.2rem; }
.why { color: #6b7280; }
.notice { background: #fef2f2; border-left: 4px solid #dc2626; padding: 0.4rem 0.75rem; margin: 0 0 0.6rem; }
details { grid-column: 1 / -1; font-size: 0.85rem; }
table { border-collapse: collapse; width: 100%; }
th { text-align: left; color: #6b7280; font-weight: 600; padding: 0.2rem 0.75rem 0.2rem 0; }
td { border-top: 1px solid #e5e7eb; padding: 0.2rem 0.75rem 0.2rem 0; vertical-align: top;
  overflow-wrap: anywhere; }
.index { background: #fff; border: 1px solid #d1d5db; border-radius: 8px; padding: 0.5rem 1rem; }
.index td { overflow-wrap: normal; }
.index td:first-child, .index td:last-child { white-space: nowrap; }
"""
# Inside the body's frame: only what makes a text body readable and a missing image visible.
BODY_STYLE = (
    "body { font: 14px/1.45 system-ui, sans-serif; margin: 0.75rem; color: #111827; }"
    " pre { white-space: pre-wrap; font: inherit; margin: 0; }"
    " .missing-image { display: inline-block; max-width: 100%; overflow-wrap: anywhere;"
    " color: #4b5563; border: 1px dashed #9ca3af; background: #f9fafb; padding: 0.1rem 0.4rem;"
    " font: 11px system-ui, sans-serif; }"
)
_BLOCKS = re.compile(r"<(?:p|br|div|li|tr|h[1-6]|blockquote|hr)\b", re.IGNORECASE)


def page(reports: Sequence[MessageReport], contacts: Mapping[str, EmailContact], title: str) -> str:
    """The whole self-contained page: an index, then every message, each contact as the agent meets it."""
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.outcome] = counts.get(report.outcome, 0) + 1
    summary = ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
    file_of = {cid: r.file for r in reports for cid in r.contact_ids}
    articles = "\n".join(_message(n, r, contacts, file_of) for n, r in enumerate(reports, 1))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{_e(title)}</h1>
<p>{len(reports)} messages: {_e(summary)}. Each contact as the agent will meet it in Amazon Connect;
bodies are shown sandboxed, with no script and no network.</p>
{_index(reports)}
</header>
<main>
{articles}
</main>
</body>
</html>
"""


def _index(reports: Sequence[MessageReport]) -> str:
    rows = "".join(
        f'<tr><td><a href="#m{n}">{_e(r.file)}</a></td><td>{_tag(r.outcome)}</td>'
        f"<td>{_e(r.subject or '(no subject)')}</td><td>{_e(_who(r))}</td>"
        f"<td>{_e(', '.join(d.address for d in r.destinations) or '-')}</td></tr>"
        for n, r in enumerate(reports, 1)
    )
    head = "<tr><th>message</th><th>outcome</th><th>subject</th><th>from</th><th>to</th></tr>"
    return f'<div class="index"><table>{head}{rows}</table></div>'


def _message(
    number: int, report: MessageReport, contacts: Mapping[str, EmailContact], file_of: Mapping[str, str]
) -> str:
    sections = []
    if report.outcome not in {"contact", "id_unknown"}:
        sections.append(_not_delivered(report))
    for destination in report.destinations:
        contact = contacts.get(destination.contact_id or "")
        if contact is not None:
            sections.append(_contact(contact, destination, file_of))
    heading = report.subject or "(no subject)"
    return (
        f'<article id="m{number}">\n<h2>{_tag(report.outcome)} {_e(heading)}'
        f' <span class="file">{_e(report.file)}</span></h2>\n' + "\n".join(sections) + "\n</article>"
    )


def _who(report: MessageReport) -> str:
    sender = report.sender
    return "-" if sender is None else sender.name or sender.address


def _tag(outcome: str) -> str:
    return f'<span class="tag {_e(outcome)}">{_e(outcome)}</span>'


def _not_delivered(report: MessageReport) -> str:
    if report.rule is not None:
        source = "your verdictPolicy" if report.rule_source == "verdictPolicy" else "the default policy"
        why = f"Quarantined by rule <b>{_e(report.rule)}</b> ({source}): no contact is created."
    else:
        why = f"{_e(report.outcome.capitalize())}: {_e(report.reason or 'no reason recorded')}."
    rows = [
        ("From", str(report.sender) if report.sender else "-"),
        ("Would go to", ", ".join(_destination(d) for d in report.destinations) or "-"),
    ]
    if report.rule is None:
        rows.append(("Reason", report.reason or "-"))
    if report.outcome == "quarantine":
        rows.append(
            ("Kept", "the raw message, in quarantine; an operator can deliver it with replay --deliver")
        )
    return f'<p class="notice">{why}</p>\n{_fields(rows)}'


def _contact(contact: EmailContact, destination: Destination, file_of: Mapping[str, str]) -> str:
    params: dict[str, Any] = contact.params
    raw = params["EmailMessage"]["RawMessage"]
    recipients = params.get("AdditionalRecipients", {})
    related = params.get("RelatedContactId")
    thread = "new thread"
    if related:
        root = f" ({file_of[related]})" if related in file_of else ""
        thread = f"reply in the thread of contact {related}{root}"
    rows = [
        ("From", _party(params["FromEmailAddress"])),
        ("To", ", ".join([destination.address, *map(_party, recipients.get("ToAddresses", []))])),
        ("Cc", ", ".join(map(_party, recipients.get("CcAddresses", []))) or "-"),
        ("Flow", destination.flow_id or "the flow Connect has for this address"),
        ("Contact", contact.contact_id),
        ("Thread", thread),
        ("Body", f"{raw['ContentType']}, {len(raw['Body'])} characters"),
    ]
    attachments = "".join(
        f"<li>{_e(a.file_name)} <span class='why'>{human_size(a.size)}</span></li>"
        for a in contact.attachments
    )
    skipped = "".join(
        f"<li>{_e(s.name)} <span class='why'>{_e(_skip_reason(s.reason))}</span></li>"
        for s in destination.skipped
    )
    attributes = "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in sorted(params.get("Attributes", {}).items())
    )
    files = f"<h3>Attachments ({len(contact.attachments)})</h3><ul>{attachments or '<li>none</li>'}</ul>"
    if skipped:
        files += f"<h3>Not attached ({len(destination.skipped)})</h3><ul>{skipped}</ul>"
    frame = (
        f'<iframe sandbox title="the body" style="height: {_frame_height(raw)}em"'
        f' srcdoc="{_e(body_document(raw))}"></iframe>'
    )
    return (
        f'<section class="agent-view" aria-label="contact {_e(contact.contact_id)}">\n'
        f"<div>{_fields(rows)}{files}</div>\n<div>{frame}</div>\n"
        f"<details><summary>Contact attributes ({len(params.get('Attributes', {}))})</summary>"
        f"<table>{attributes}</table></details>\n</section>"
    )


def _frame_height(raw_message: Mapping[str, Any]) -> int:
    """Room for the body's lines, roughly (a sandboxed frame cannot size itself): 8-30 em."""
    body = str(raw_message["Body"])
    if raw_message.get("ContentType") == "text/html":
        lines = len(_BLOCKS.findall(body)) + len(body) // 400
    else:
        lines = sum(1 + len(line) // 80 for line in body.splitlines())
    return max(8, min(30, round(lines * 1.45) + 2))


def body_document(raw_message: Mapping[str, Any]) -> str:
    """The frame's document: the body as sent (HTML as is, text preformatted), under the same CSP,
    with each image the agent cannot load replaced by a label naming it."""
    body = str(raw_message["Body"])
    if raw_message.get("ContentType") == "text/html":
        content = _IMG.sub(_image_label, body)
    else:
        content = f"<pre>{_e(body)}</pre>"
    return (
        f'<!doctype html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<style>{BODY_STYLE}</style></head><body>{content}</body></html>"
    )


def _image_label(tag: re.Match[str]) -> str:
    found = _SRC.search(tag.group(0))
    source = html.unescape(next((g for g in found.groups() if g is not None), "")) if found else ""
    if source.lower().startswith("data:"):
        return tag.group(0)  # carried in the body itself: the agent sees it
    if source.lower().startswith("cid:"):
        what, why = f"inline image {source}", "a part of the message: among the attachments, if allowed"
    elif source.lower().startswith(("http:", "https:", "//")):
        what, why = f"remote image {source}", "not loaded here: the page reaches no network"
    else:
        what, why = f"image {source or '(no source)'}", "nothing the agent can load"
    return f'<span class="missing-image" title="{_e(why)}">[{_e(what)}]</span>'


def _fields(rows: Sequence[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows) + "</dl>"


def _destination(d: Destination) -> str:
    return f"{d.address} (flow {d.flow_id})" if d.flow_id else d.address


def _party(item: Mapping[str, str]) -> str:
    name = item.get("DisplayName")
    return f"{name} <{item['EmailAddress']}>" if name else item["EmailAddress"]


def _skip_reason(reason: str) -> str:
    kind, _, detail = reason.partition(":")
    meaning = SKIP_REASONS.get(kind)
    if meaning is None:
        return reason
    return f"{kind}: {meaning}" + (f" ({detail})" if detail else "")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = pipeline_parser(
        "python -m local_pipeline preview",
        "Write one HTML page showing each message as the agent will meet it in Connect.",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="FILE",
        help=f"the page to write (default {DEFAULT_OUTPUT})",
    )
    args = parser.parse_args(argv)
    try:
        result = run(args, progress=sys.stderr)
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    title = "What the agent will see: " + ", ".join(str(p) for p in args.paths)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page(result.reports, result.contacts, title), encoding="utf-8")
    print(f"{args.output}: {len(result.reports)} messages")
    return 1 if failed(result.reports) else 0
