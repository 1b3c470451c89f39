"""One SES record through the adapters: read, plan, then quarantine or create contacts.

Every record ends in exactly one of three places: contacts in Connect, a quarantined copy
with its reason, or an exception that Lambda retries and finally hands to the on-failure
destination (the event itself, replayable). Nothing is deleted here.

Order matters for exactly-once delivery: attachments are stored before any contact is
created, the ledger records each contact as it is created, and the thread index is written
last; a crash between any two steps is repaired by the retry, which finds completed
contacts in the ledger (or Connect answers the same ClientToken) instead of creating more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from aws_lambda_powertools import Logger

from ses_to_connect.adapters.connect import ATTACHMENT_REJECTIONS, ContactStarter
from ses_to_connect.adapters.s3 import MailStore
from ses_to_connect.attachments import AttachmentSink, Skip, Skipped, send
from ses_to_connect.convert import Plan, build_requests, client_token, plan
from ses_to_connect.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from ses_to_connect.headers import message_ids
from ses_to_connect.model import Outcome
from ses_to_connect.ses_event import EventError, SesRecord
from ses_to_connect.settings import Settings

if TYPE_CHECKING:  # imported by the handler only when their tables are configured (cold start)
    from ses_to_connect.adapters.failures import FailureQueue
    from ses_to_connect.adapters.ledger import ContactLedger
    from ses_to_connect.adapters.threads import ThreadIndex

logger = Logger(child=True)


class RecordResult(NamedTuple):
    """How one record ended, as the handler returns and counts it."""

    message_id: str
    outcome: str  # "contact", "quarantine" or "skipped"
    reason: str | None = None
    contact_ids: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()
    attachments_sent: int = 0
    attachments_skipped: Mapping[str, int] = MappingProxyType({})  # skip reason -> count
    duplicate: bool = False
    related_contact_id: str | None = None
    contacts_without_id: int = 0  # created earlier; Connect answered IdempotencyException without the id

    def as_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "contactIds": list(self.contact_ids),
            "attachmentsSent": self.attachments_sent,
            "attachmentsSkipped": dict(sorted(self.attachments_skipped.items())),
            "relatedContactId": self.related_contact_id,
            "contactsWithoutId": self.contacts_without_id,
            "duplicate": self.duplicate,
        }


@dataclass
class Adapters:
    """The I/O the pipeline needs; the ledger and thread index are optional features."""

    store: MailStore
    attachments: AttachmentSink
    contacts: ContactStarter
    ledger: ContactLedger | None = None
    threads: ThreadIndex | None = None
    failures: FailureQueue | None = None  # where permanent failures go at once, if configured


class Pipeline:
    def __init__(self, settings: Settings, adapters: Adapters) -> None:
        self.settings = settings
        self.io = adapters

    def process(self, record: SesRecord) -> RecordResult:
        if record.is_setup_notification:
            logger.info("ignoring the SES setup notification object")
            return RecordResult(record.message_id, "skipped", "setup_notification")
        key = self._source_key(record)
        planned = plan(self.io.store.read_chunks(key), record, self.settings)
        if planned.quarantine_reason is not None:
            return self._quarantine(key, record, planned.quarantine_reason, planned.defects.as_list())

        known = self._known_contacts(planned)
        if known is not None:
            logger.info("duplicate invocation: every contact already exists", extra={"contact_ids": known})
            self._remember_thread(planned, known, self._related(planned))
            return RecordResult(
                record.message_id,
                "contact",
                None,
                tuple(known),
                tuple(planned.defects.as_list()),
                duplicate=True,
                contacts_without_id=len(planned.destinations) - len(known),
            )

        related = self._related(planned)
        sent, skipped = send(
            planned.candidates,
            self.io.attachments,
            planned.attachment_prefix,
            uploads=self.settings.attachment_uploads,
        )
        conversion = build_requests(planned, sent, skipped, related)
        if conversion.outcome is Outcome.QUARANTINE:
            return self._quarantine(key, record, conversion.reason or "unknown", conversion.defects)

        started: list[str | None] = []
        failures: list[DeliveryError] = []
        for index, request in enumerate(conversion.requests):
            try:
                started.append(
                    self._start_or_drop_attachments(
                        planned, index, request, sent=sent, skipped=skipped, related=related
                    )
                )
            except DeliveryError as exc:  # try every destination before giving up
                retryable = isinstance(exc, RetryableDeliveryError)
                logger.warning("contact not created", extra={"code": exc.code, "retryable": retryable})
                failures.append(exc)
        if failures:
            # Retryable first: the retry re-sends the same ClientTokens, and Connect or the
            # ledger returns the contacts that already exist instead of creating new ones.
            raise next((f for f in failures if isinstance(f, RetryableDeliveryError)), failures[0])
        contact_ids = [contact_id for contact_id in started if contact_id]
        self._remember_thread(planned, contact_ids, related)
        skip_reasons = Counter(item.reason for item in [*planned.skipped, *skipped])
        logger.info(
            "contacts created",
            extra={
                "contact_ids": contact_ids,
                "related_contact_id": related,
                "flags": conversion.flags,
                "attachments_sent": len(sent),
                "attachments_skipped": dict(skip_reasons),
                "defects": _kinds(conversion.defects),
            },
        )
        return RecordResult(
            record.message_id,
            "contact",
            None,
            tuple(contact_ids),
            tuple(conversion.defects),
            attachments_sent=len(sent),
            attachments_skipped=skip_reasons,
            related_contact_id=related,
            contacts_without_id=len(started) - len(contact_ids),
        )

    def _source_key(self, record: SesRecord) -> str:
        """Where the raw message is: the inbound object, or the one an operator's replay names."""
        if record.replay is None:
            return f"{self.settings.inbound_prefix}{record.message_id}"
        key = record.replay.source_key
        allowed = (self.settings.inbound_prefix, self.settings.quarantine_prefix)
        if not key.startswith(allowed) or ".." in key or key.endswith(".json"):
            raise EventError(f"replay may read only stored or quarantined mail, not {key!r}")
        return key

    def _quarantine(self, key: str, record: SesRecord, reason: str, defects: list[str]) -> RecordResult:
        target = f"{self.settings.quarantine_prefix}{record.message_id}"
        self.io.store.quarantine(key, target, reason, record.message_id)
        # The SES record beside the copy: what `operations replay` needs to rebuild the event.
        self.io.store.put_json(
            f"{target}.json", {"reason": reason, "defects": defects, "record": dict(record.raw)}
        )
        logger.info("message quarantined", extra={"reason": reason, "defects": _kinds(defects)})
        return RecordResult(record.message_id, "quarantine", reason, defects=tuple(defects))

    def _known_contacts(self, planned: Plan) -> list[str] | None:
        """The contact ids of a message whose every destination is already recorded, else None."""
        if self.io.ledger is None:
            return None
        known = [
            self.io.ledger.known_contact(client_token(planned.record.message_id, destination.address))
            for destination in planned.destinations
        ]
        if any(contact is None for contact in known):
            return None
        return [contact_id for contact in known if contact for contact_id in contact]

    def _start(self, request: dict[str, Any]) -> str | None:
        if self.io.ledger is None:
            return self.io.contacts.start(request)
        return self.io.ledger.start_once(request, self.io.contacts.start)

    def _start_or_drop_attachments(
        self,
        planned: Plan,
        index: int,
        request: dict[str, Any],
        *,
        sent: list[dict[str, str]],
        skipped: list[Skipped],
        related: str | None,
    ) -> str | None:
        """Start the contact; if Connect refuses its attachments, start it without them.

        One attachment Connect will not take (a size or type the limits here did not foresee)
        must not cost the customer's email: the contact is created with the attachments listed
        as skipped, and the raw message, which has them all, stays referenced.
        """
        try:
            return self._start(request)
        except PermanentDeliveryError as exc:
            if exc.reason not in ATTACHMENT_REJECTIONS or not request.get("Attachments"):
                raise
            logger.warning(
                "Connect refused the attachments; creating the contact without them",
                extra={"code": exc.code, "reason": exc.reason},
            )
            dropped = [Skipped(item["FileName"], f"{Skip.REJECTED_BY_CONNECT}:{exc.reason}") for item in sent]
            retry = build_requests(planned, [], [*skipped, *dropped], related)
            return self._start(retry.requests[index])

    def _related(self, planned: Plan) -> str | None:
        if self.io.threads is None:
            return None
        return self.io.threads.find_root(planned.thread_ids)

    def _remember_thread(self, planned: Plan, contact_ids: list[str], related: str | None) -> None:
        own_id = next(iter(message_ids(planned.message.message_id)[-1:]), None)
        if self.io.threads is None or own_id is None or not contact_ids:
            return
        self.io.threads.remember(own_id, contact_ids[0], related or contact_ids[0])


def _kinds(defects: list[str]) -> list[str]:
    """Defect kinds only: details may quote header text, which stays out of INFO logs."""
    return sorted({defect.split(":", 1)[0] for defect in defects})
