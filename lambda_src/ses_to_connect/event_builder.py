"""Build the SES receipt-rule Lambda event for a raw message, as SES itself would.

Used by the offline ``convert`` command and the local simulation, so that both exercise the
exact event shape the deployed function receives.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from ses_to_connect.addresses import split_addresses
from ses_to_connect.headers import decode_8bit
from ses_to_connect.model import Defects
from ses_to_connect.ses_event import VERDICT_NAMES

FIXED_TIMESTAMP = "1970-01-01T00:00:00.000Z"
# SMTP always carries an envelope sender; a stored file may not say what it was.
UNKNOWN_ENVELOPE_SENDER = "unknown-sender@envelope.invalid"


def message_id_for(raw: bytes | Iterable[bytes]) -> str:
    """A stable SES-style message id (lower-case base32) derived from the message bytes (or chunks)."""
    digest = hashlib.sha256()
    for chunk in [raw] if isinstance(raw, bytes) else raw:
        digest.update(chunk)
    return base64.b32encode(digest.digest()).decode().lower().rstrip("=")[:40]


def build_ses_event(
    raw: bytes,
    *,
    message_id: str,
    recipients: Sequence[str],
    verdicts: Mapping[str, str] | None = None,
    dmarc_policy: str | None = None,
    source: str | None = None,
    timestamp: str = FIXED_TIMESTAMP,
    function_arn: str = "arn:aws:lambda:us-east-1:111122223333:function:ses-to-connect",
) -> dict[str, Any]:
    """The ``{"Records": [...]}`` event of an SES Lambda action for ``raw``.

    ``source`` is the envelope sender; by default it is taken from Return-Path (where ``<>``
    gives the null sender of a bounce), else From or Sender, else UNKNOWN_ENVELOPE_SENDER.
    """
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    scratch = Defects()

    def values(name: str) -> list[str]:
        return [decode_8bit(str(v), scratch, name) for v in headers.get_all(name, [])]

    def addresses(name: str) -> list[str]:
        mailboxes = [mailbox for value in values(name) for mailbox in split_addresses(value)]
        return [mailbox.address for mailbox in mailboxes if mailbox.address]

    if source is None:
        if values("Return-Path"):
            source = (addresses("Return-Path") or [""])[0]
        else:
            source = (addresses("From") or addresses("Sender") or [UNKNOWN_ENVELOPE_SENDER])[0]
    common: dict[str, Any] = {
        "returnPath": source,
        "from": values("From"),
        "date": (values("Date") or [""])[0],
        "messageId": (values("Message-ID") or [""])[0],
    }
    for name, key in (("To", "to"), ("Cc", "cc"), ("Subject", "subject")):
        if values(name):
            common[key] = values(name) if key != "subject" else values(name)[0]
    statuses = {name: (verdicts or {}).get(name, "PASS").upper() for name in VERDICT_NAMES}
    receipt: dict[str, Any] = {
        "timestamp": timestamp,
        "processingTimeMillis": 1,
        "recipients": list(recipients),
        **{f"{name}Verdict": {"status": status} for name, status in statuses.items()},
        "action": {"type": "Lambda", "functionArn": function_arn, "invocationType": "Event"},
    }
    if statuses["dmarc"] == "FAIL" and dmarc_policy:
        receipt["dmarcPolicy"] = dmarc_policy.lower()
    mail = {
        "timestamp": timestamp,
        "source": source,
        "messageId": message_id,
        "destination": addresses("To") + addresses("Cc"),
        "headersTruncated": False,
        "headers": [
            {"name": name, "value": decode_8bit(str(value), scratch, name)} for name, value in headers.items()
        ],
        "commonHeaders": common,
    }
    return {
        "Records": [
            {"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {"mail": mail, "receipt": receipt}}
        ]
    }
