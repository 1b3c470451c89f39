"""SES inbound, simulated: store the message as the S3 action does and build the Lambda event.

SES prepends its own headers to the stored message (Return-Path, Received, the verdict
headers when scanning is on, Authentication-Results, Received-SPF, X-SES-RECEIPT) and
stores it at ``ObjectKeyPrefix + messageId`` before the Lambda action runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any

from ses_to_connect.addresses import parse_addresses
from ses_to_connect.event_builder import build_ses_event, message_id_for
from ses_to_connect.model import Defects
from ses_to_connect.ses_event import VERDICT_NAMES

FIXED_DATE = "Mon, 01 Jan 2024 00:00:00 +0000"


@dataclass(frozen=True)
class Receipt:
    """How SES received one message: envelope and verdicts (from a sidecar ``NAME.eml.json``)."""

    verdicts: Mapping[str, str] = field(default_factory=dict)
    dmarc_policy: str | None = None
    recipients: Sequence[str] | None = None  # default: envelope_recipients()
    source: str | None = None  # envelope sender; default: Return-Path, From, Sender

    @classmethod
    def for_file(cls, path: Path, defaults: Mapping[str, str] | None = None) -> Receipt:
        sidecar = path.with_name(path.name + ".json")
        data: dict[str, Any] = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        verdicts = {
            **(defaults or {}),
            **{name: str(data[name]).upper() for name in VERDICT_NAMES if name in data},
        }
        return cls(verdicts, data.get("dmarcPolicy"), data.get("recipients"), data.get("source"))


def ses_headers(
    raw: bytes, message_id: str, receipt: Receipt, source: str, recipients: Sequence[str]
) -> bytes:
    """The header block SES prepends to a stored message."""
    status = {name: receipt.verdicts.get(name, "PASS").upper() for name in VERDICT_NAMES}
    blob = base64.b64encode(hashlib.sha256(raw).digest() * 4).decode()
    lines = [
        f"Return-Path: <{source}>",
        "Received: from mail.example.net (mail.example.net [192.0.2.10])"
        f" by inbound-smtp.us-east-1.amazonaws.com with SMTP id {message_id}"
        f" for {', '.join(recipients)}; {FIXED_DATE}",
        f"X-SES-Spam-Verdict: {status['spam']}",
        f"X-SES-Virus-Verdict: {status['virus']}",
        f"Received-SPF: {status['spf'].lower()} (spfCheck: simulated)"
        " client-ip=192.0.2.10;"
        f" envelope-from={source};",
        f"Authentication-Results: amazonses.com; spf={status['spf'].lower()} smtp.mailfrom={source};"
        f" dkim={status['dkim'].lower()}; dmarc={status['dmarc'].lower()}",
        f"X-SES-RECEIPT: {blob}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def envelope_recipients(raw: bytes, connect_addresses: Sequence[str]) -> list[str]:
    """Who SES would receive ``raw`` for: its To and Cc addresses that are Connect addresses, each
    once, in order; when none is (it came by Bcc), the first Connect address. One email to support@
    is then one contact, as in production, not one per configured address."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    written = [str(value) for name in ("To", "Cc") for value in headers.get_all(name, [])]
    configured = {address.lower() for address in connect_addresses}
    found: dict[str, str] = {}
    for address in parse_addresses(written, Defects(), "to"):
        if address.email.lower() in configured:
            found.setdefault(address.email.lower(), address.email)
    return list(found.values()) or list(connect_addresses[:1])


def receive(
    raw: bytes,
    *,
    name: str,
    receipt: Receipt,
    connect_addresses: Sequence[str],
    s3_client: Any,
    bucket: str,
    prefix: str = "inbound/",
) -> dict[str, Any]:
    """Store ``raw`` as SES would and return the Lambda event SES would send for it."""
    if raw.startswith(b"From "):  # an mbox separator is not part of the message SMTP carries
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    message_id = message_id_for(name.encode() + b"\0" + raw)
    recipients = list(receipt.recipients or envelope_recipients(raw, connect_addresses))
    event = build_ses_event(
        raw,
        message_id=message_id,
        recipients=recipients,
        verdicts=receipt.verdicts,
        dmarc_policy=receipt.dmarc_policy,
        source=receipt.source,
    )
    source = event["Records"][0]["ses"]["mail"]["source"]
    stored = ses_headers(raw, message_id, receipt, source, recipients) + raw
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}{message_id}", Body=stored)
    return event
