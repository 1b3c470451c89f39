"""One SES record through the adapters: read, convert, then quarantine or create contacts.

Every record ends in exactly one of three places: contacts in Connect, a quarantined copy
with its reason, or an exception that Lambda retries and finally hands to the on-failure
destination (the event itself, replayable). Nothing is deleted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from ses_to_connect.adapters.connect import ContactStarter
from ses_to_connect.adapters.s3 import MailStore
from ses_to_connect.convert import convert
from ses_to_connect.errors import DeliveryError, RetryableDeliveryError
from ses_to_connect.model import Outcome
from ses_to_connect.ses_event import SesRecord
from ses_to_connect.settings import Settings

logger = Logger(child=True)


@dataclass
class RecordResult:
    message_id: str
    outcome: str  # "contact", "quarantine" or "skipped"
    reason: str | None = None
    contact_ids: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "contactIds": self.contact_ids,
        }


class Pipeline:
    def __init__(self, settings: Settings, store: MailStore, contacts: ContactStarter) -> None:
        self.settings = settings
        self.store = store
        self.contacts = contacts

    def process(self, record: SesRecord) -> RecordResult:
        if record.is_setup_notification:
            logger.info("ignoring the SES setup notification object")
            return RecordResult(record.message_id, "skipped", "setup_notification")
        key = f"{self.settings.inbound_prefix}{record.message_id}"
        raw = self.store.read(key)
        conversion = convert(raw, record, self.settings)
        if conversion.outcome is Outcome.QUARANTINE:
            reason = conversion.reason or "unknown"
            self.store.quarantine(
                key, f"{self.settings.quarantine_prefix}{record.message_id}", reason, record.message_id
            )
            logger.info(
                "message quarantined", extra={"reason": reason, "defects": _kinds(conversion.defects)}
            )
            return RecordResult(record.message_id, "quarantine", reason, defects=conversion.defects)

        contact_ids: list[str] = []
        failures: list[DeliveryError] = []
        for request in conversion.requests:
            try:
                contact_ids.append(self.contacts.start(request))
            except DeliveryError as exc:  # try every destination before giving up
                logger.warning(
                    "contact not created",
                    extra={"code": exc.code, "retryable": isinstance(exc, RetryableDeliveryError)},
                )
                failures.append(exc)
        if failures:
            # Retryable first: a retry re-sends identical requests, and the ClientToken makes
            # Connect return the contacts that already exist instead of creating new ones.
            raise next((f for f in failures if isinstance(f, RetryableDeliveryError)), failures[0])
        logger.info(
            "contacts created",
            extra={
                "contact_ids": contact_ids,
                "flags": conversion.flags,
                "defects": _kinds(conversion.defects),
            },
        )
        return RecordResult(record.message_id, "contact", None, contact_ids, conversion.defects)


def _kinds(defects: list[str]) -> list[str]:
    """Defect kinds only: details may quote header text, which stays out of INFO logs."""
    return sorted({defect.split(":", 1)[0] for defect in defects})
