"""The SES receipt-rule Lambda event, read leniently.

Powertools' ``SesModel`` requires ``commonHeaders.subject`` and ``to`` and accepts only
``invocationType: Event``, so mail with no Subject or only Bcc recipients would fail
validation and be lost. This reader requires only what the bridge cannot work without
(the message id) and treats everything else as optional.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ses_to_connect.errors import EventError

SETUP_NOTIFICATION_ID = "AMAZON_SES_SETUP_NOTIFICATION"
VERDICT_NAMES = ("spam", "virus", "spf", "dkim", "dmarc")
# Keys the operators' tools add beside a record / an event; SES never sends them.
REPLAY_KEY = "bridgeReplay"
REDRIVE_KEY = "bridgeRedrive"


class Replay(NamedTuple):
    """An operator's request to process a stored message again (``ses-to-connect replay``).

    ``source_key`` is the object to read (a quarantined copy outlives the inbound one);
    ``deliver`` overrides a quarantine decision of the verdict policy; ``reason`` is recorded.
    """

    source_key: str
    deliver: bool
    reason: str


@dataclass(frozen=True)
class SesRecord:
    """One SES receipt record: the stored message's id, its envelope and SES's verdicts."""

    message_id: str
    source: str
    recipients: tuple[str, ...]
    verdicts: Mapping[str, str]  # "spam" -> "PASS", ... ; absent verdicts are missing keys
    dmarc_policy: str | None = None
    replay: Replay | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_setup_notification(self) -> bool:
        return self.message_id == SETUP_NOTIFICATION_ID

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SesRecord:
        ses = _mapping(record.get("ses"))
        mail = _mapping(ses.get("mail"))
        receipt = _mapping(ses.get("receipt"))
        message_id = mail.get("messageId")
        if not isinstance(message_id, str) or not message_id or "/" in message_id:
            raise EventError("record has no usable ses.mail.messageId")
        verdicts = {}
        for name in VERDICT_NAMES:
            status = _mapping(receipt.get(f"{name}Verdict")).get("status")
            if isinstance(status, str) and status:
                verdicts[name] = status.upper()
        recipients = receipt.get("recipients") or []
        policy = receipt.get("dmarcPolicy")
        replay = _mapping(record.get(REPLAY_KEY))
        return cls(
            message_id=message_id,
            source=str(mail.get("source") or ""),
            recipients=tuple(str(r) for r in recipients if isinstance(r, str)),
            verdicts=verdicts,
            dmarc_policy=policy.upper() if isinstance(policy, str) and policy else None,
            replay=Replay(
                str(replay["sourceKey"]), bool(replay.get("deliver")), str(replay.get("reason", ""))
            )
            if isinstance(replay.get("sourceKey"), str)
            else None,
            raw=record,
        )


def records(event: Mapping[str, Any]) -> list[SesRecord]:
    """Each SES record of a Lambda-action event (SES sends one per invocation)."""
    items = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(items, list) or not items:
        raise EventError("event has no Records list; is this an SES receipt-rule event?")
    return [SesRecord.from_record(_mapping(item)) for item in items]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
