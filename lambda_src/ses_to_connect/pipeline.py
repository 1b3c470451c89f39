"""One SES record through the adapters: read, plan, then quarantine or create contacts.

Every record ends in exactly one of three places: contacts in Connect, a quarantined copy
with its reason, or an exception that Lambda retries and finally hands to the on-failure
destination (the event itself, replayable). Nothing is deleted here.

Order matters for exactly-once delivery (docs/exactly-once.md): attachments are stored and
signed, and the message's :class:`~ses_to_connect.delivery.DeliveryRecord` is written to the ledger,
before any contact is created; the ledger records each contact as it is created; the thread
index is written last. A crash between any two steps is repaired by the retry, which finds
completed contacts in the ledger, or sends Connect byte-identical requests so that Connect
answers with the contacts it already created.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from aws_lambda_powertools import Logger

from ses_to_connect.attachments import store_attachments
from ses_to_connect.convert import (
    DestinationRequest,
    FinalRequests,
    Plan,
    destination_tokens,
    final_requests,
    plan,
    variant_token,
)
from ses_to_connect.delivery import DeliveryRecord, Drop
from ses_to_connect.errors import (
    AttachmentsRejected,
    BridgeError,
    DeliveryError,
    EventError,
    IdempotencyConflict,
)
from ses_to_connect.headers import message_ids
from ses_to_connect.model import DefectKind, Outcome
from ses_to_connect.policy_rules import QuarantineReason, Undeliverable
from ses_to_connect.ports import (
    AgentReplyFinder,
    AttachmentSink,
    ContactCreator,
    FailureDestination,
    Ledger,
    MailStorage,
    ThreadStore,
)
from ses_to_connect.ses_event import SesRecord
from ses_to_connect.settings import Settings
from ses_to_connect.thread_match import ThreadLink, agent_reply_entries, link_thread

if TYPE_CHECKING:  # type stubs only: the function's asset needs nothing of them at run time
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

logger = Logger(child=True)


class RecordResult(NamedTuple):
    """How one record ended, as the handler returns and counts it."""

    message_id: str
    outcome: Outcome
    reason: str | None = None
    contact_ids: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()
    attachments_sent: int = 0
    attachments_skipped: Mapping[str, int] = MappingProxyType({})  # skip reason -> count
    duplicate: bool = False
    related_contact_id: str | None = None
    # Contacts that exist (the ledger saw an earlier attempt reach Connect, Connect answered
    # IdempotencyException) but whose id nobody knows: reported, counted and alarmed on.
    contacts_without_id: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "outcome": self.outcome.value,
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

    store: MailStorage
    attachments: AttachmentSink
    contacts: ContactCreator
    ledger: Ledger | None = None
    threads: ThreadStore | None = None
    failures: FailureDestination | None = None  # where permanent failures go at once, if configured
    replies: AgentReplyFinder | None = None  # agents' replies in Connect (needs threads)


class Pipeline:
    def __init__(
        self, settings: Settings, adapters: Adapters, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.io = adapters
        self.clock = clock  # wall clock, against which pre-signed URLs expire

    def process(self, record: SesRecord) -> RecordResult:
        if record.is_setup_notification:
            logger.info("ignoring the SES setup notification object")
            return RecordResult(record.message_id, Outcome.SKIPPED, "setup_notification")
        key = self._source_key(record)
        planned = plan(self.io.store.read_chunks(key), record, self.settings)
        if planned.quarantine_reason is not None:
            return self._quarantine(key, record, planned.quarantine_reason, list(planned.defects))

        earlier = None if self.io.ledger is None else self.io.ledger.delivery(record.message_id)
        if earlier is not None and (known := self._known_contacts(planned, earlier)) is not None:
            logger.info("duplicate invocation: every contact already exists", extra={"contact_ids": known})
            unwritten = self._remember_thread(
                planned, known, None if earlier.unlinked else earlier.related_contact_id
            )
            return RecordResult(
                record.message_id,
                Outcome.CONTACT,
                None,
                tuple(known),
                (*planned.defects, *unwritten),
                duplicate=True,
                contacts_without_id=len(planned.destinations) - len(known),
            )

        run = _Run(planned, earlier, *self._delivery(planned, earlier))
        conversion = self._finals(run).conversion()
        if conversion.outcome is Outcome.QUARANTINE:
            # The one quarantine a final request makes: no valid request could be built.
            reason = conversion.reason or Undeliverable.REQUEST_LIMIT_VIOLATION
            return self._quarantine(key, record, reason, conversion.defects)

        started: list[str | None] = []
        failures: list[DeliveryError] = []
        for index in range(len(planned.destinations)):
            try:
                started.append(self._start_destination(run, index))
            except DeliveryError as exc:  # try every destination before giving up
                logger.warning(
                    "contact not created",
                    extra={"code": exc.code, "reason": exc.reason, "retryable": exc.retryable},
                )
                failures.append(exc)
        if failures:
            # Retryable first: the retry re-sends the same requests, and Connect or the
            # ledger returns the contacts that already exist instead of creating more.
            raise next((f for f in failures if f.retryable), failures[0])
        contact_ids = [contact_id for contact_id in started if contact_id]
        delivery = run.delivery
        unlinked = delivery.unlinked
        related = None if unlinked else delivery.related_contact_id
        unwritten = self._remember_thread(planned, contact_ids, related)
        dropped = delivery.refused_files()
        skip_reasons = Counter(item.reason for item in [*planned.skipped, *dropped]) + delivery.skip_counts()
        defects = [
            *run.defects,
            *([DefectKind.RELATED_CONTACT_UNKNOWN.value] if unlinked else []),
            *unwritten,
        ]
        logger.info(
            "contacts created",
            extra={
                "contact_ids": contact_ids,
                "contacts_without_id": len(started) - len(contact_ids),
                "related_contact_id": related,
                "thread_match": related and delivery.thread_match,
                "flags": conversion.flags,
                "attachments_sent": len(delivery.attachments) - len(dropped),
                "attachments_skipped": dict(skip_reasons),
                "defects": _kinds(defects),
            },
        )
        return RecordResult(
            record.message_id,
            Outcome.CONTACT,
            None,
            tuple(contact_ids),
            tuple(defects),
            attachments_sent=len(delivery.attachments) - len(dropped),
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

    def _quarantine(
        self, key: str, record: SesRecord, reason: QuarantineReason, defects: list[str]
    ) -> RecordResult:
        target = f"{self.settings.quarantine_prefix}{record.message_id}"
        self.io.store.quarantine(key, target, reason, record.message_id)
        # The SES record beside the copy: what `operations replay` needs to rebuild the event.
        self.io.store.put_json(
            f"{target}.json", {"reason": reason, "defects": defects, "record": dict(record.raw)}
        )
        logger.info("message quarantined", extra={"reason": reason, "defects": _kinds(defects)})
        return RecordResult(record.message_id, Outcome.QUARANTINE, reason, defects=tuple(defects))

    def _known_contacts(self, planned: Plan, earlier: DeliveryRecord) -> list[str] | None:
        """The contact ids of a message whose every destination is already recorded, else None."""
        if self.io.ledger is None:
            return None
        known = [
            self.io.ledger.known_contact(variant_token(base, earlier.steps(base)))
            for base in destination_tokens(planned)
        ]
        if any(contact is None for contact in known):
            return None
        return [contact_id for contact in known if contact for contact_id in contact]

    def _delivery(self, planned: Plan, earlier: DeliveryRecord | None) -> tuple[DeliveryRecord, bool]:
        """What this run sends, and whether its URLs were signed by this run.

        An earlier delivery is replayed while its URLs are valid; past that, the files are
        signed again (same keys, same names), keeping the thread root and fallbacks it recorded.
        """
        if earlier is not None and earlier.replayable(self.clock()):
            return earlier, False
        if earlier is None:
            link = self._link(planned)
            related, match = (None, None) if link is None else (link.root_contact_id, link.match.value)
        else:
            related, match = earlier.related_contact_id, earlier.thread_match
        delivery = self._signed(planned, related, {} if earlier is None else earlier.dropped, match)
        if self.io.ledger is None:
            return delivery, True
        stored = self.io.ledger.save_delivery(planned.record.message_id, delivery, first=earlier is None)
        return stored, stored is delivery

    def _signed(
        self,
        planned: Plan,
        related: str | None,
        dropped: Mapping[str, tuple[Drop, ...]],
        thread_match: str | None,
    ) -> DeliveryRecord:
        sent, skipped = store_attachments(
            planned.candidates,
            self.io.attachments,
            planned.attachment_prefix,
            planned.settings.attachment_max_bytes,
        )
        return DeliveryRecord.signed(sent, skipped, related, dropped, thread_match)

    def _start_destination(self, run: _Run, index: int) -> str | None:
        """Start one destination's contact, taking the fallbacks Connect's refusals call for.

        * Refused attachments: sent without them, under a token of its own.
        * A request that replays URLs signed earlier and is refused as invalid for another reason
          is sent again with URLs signed now: the old ones may have gone stale (their credentials
          expired). Same token, so an earlier contact is never duplicated; but if Connect keeps
          refused tokens, an ``IdempotencyException`` after that refusal no longer proves an
          earlier contact, and the message goes to the failure queue instead of counting as one.
        * A refused RelatedContactId (a thread root Connect does not know): sent unlinked,
          under a token of its own, and flagged; if that fails the same way, the root was not
          the cause and the first error stands.
        Each fallback is written to the ledger before it is sent, so a retry resumes it. A
        fallback that would break Connect's limits is not: the destination fails for good
        (``RequestLimitViolation``, with the limits it breaks), for the failure queue.
        """
        planned = run.planned
        unlinked_after: str | None = None  # the error that made this run drop the thread root
        while True:
            final = self._finals(run).destinations[index]
            base, steps, request = final.base_token, final.steps, final.request
            if request is None:  # only URLs signed again can change a request process() checked
                raise _over_limits(final)
            # Connect can know this token only from an attempt the ledger recorded beforehand,
            # and an IdempotencyException proves that attempt only if this run's own refused
            # request did not use the token up.
            refused_here = request["ClientToken"] in run.refused_tokens
            reached = run.earlier is not None and run.earlier.steps(base) == steps and not refused_here
            try:
                return self._start(request, reached=reached, refused_here=refused_here)
            except DeliveryError as exc:
                if exc.retryable or isinstance(exc, IdempotencyConflict):
                    raise
                step = _fallback(exc, request)
                stale_urls = (
                    request.get("Attachments") and not run.fresh and exc.code == "InvalidRequestException"
                )
                if stale_urls and (step is None or step == Drop.related()):
                    logger.warning("Connect refused replayed attachment URLs; signing them again")
                    run.refused_tokens.add(request["ClientToken"])
                    delivery = run.delivery
                    self._store(
                        run,
                        self._signed(
                            planned, delivery.related_contact_id, delivery.dropped, delivery.thread_match
                        ),
                    )
                    run.fresh = True
                    continue
                if step is None:
                    if steps and steps[-1] == Drop.related() and exc.code == unlinked_after:
                        # Unlinked, it fails the same way: the thread root was not the cause.
                        self._store(run, run.delivery.with_steps(base, steps[:-1]))
                    raise
                fallback = run.delivery.with_steps(base, (*steps, step))
                if (without := self._finals(run, fallback).destinations[index]).request is None:
                    raise _over_limits(without, exc) from exc
                logger.warning(
                    "Connect refused the request; sending it without what it refused",
                    extra={"code": exc.code, "reason": exc.reason, "dropped": step.kind.value},
                )
                unlinked_after = exc.code if step == Drop.related() else None
                self._store(run, fallback)

    def _store(self, run: _Run, delivery: DeliveryRecord) -> None:
        run.delivery = delivery
        if self.io.ledger is not None:
            self.io.ledger.save_delivery(run.planned.record.message_id, delivery, first=False)

    def _finals(self, run: _Run, delivery: DeliveryRecord | None = None) -> FinalRequests:
        """Every destination's final request from ``delivery`` (default: the run's); the defects
        found building them are the run's."""
        finals = final_requests(run.planned, delivery or run.delivery)
        run.defects.update(dict.fromkeys(finals.defects))
        return finals

    def _start(
        self, request: StartEmailContactRequestTypeDef, *, reached: bool, refused_here: bool = False
    ) -> str | None:
        """Create the contact; None when it exists and Connect will not say its id.

        ``IdempotencyException`` means "created" only when an earlier attempt with this very
        token was recorded before it was sent (and so may have reached Connect); otherwise it
        is an error with its reason, for the failure queue.
        """

        def start(params: StartEmailContactRequestTypeDef) -> str | None:
            try:
                return self.io.contacts.start(params)
            except IdempotencyConflict as exc:
                if not reached:
                    why, reason = (
                        (
                            "this invocation's refused request may have used it up",
                            "token_used_by_refused_request",
                        )
                        if refused_here
                        else (
                            "no earlier attempt with this ClientToken is recorded",
                            "token_used_by_unrecorded_request",
                        )
                    )
                    raise IdempotencyConflict(f"{exc} ({why})", code=exc.code, reason=reason) from exc
                logger.warning("the contact exists but Connect does not say its id (its request changed)")
                return None

        if self.io.ledger is None:
            return start(request)
        return self.io.ledger.start_once(request, start)

    def _link(self, planned: Plan) -> ThreadLink | None:
        """The thread the message joins: by an id the index knows, else by an agent reply's id
        read from Connect in the customer's recent threads (learned ids are kept for next time)."""
        threads, ids = self.io.threads, planned.thread_ids
        if threads is None or not ids:
            return None
        link = link_thread(ids, threads.entries(ids))
        if link is not None or self.io.replies is None or planned.customer is None:
            return link
        roots = threads.customer_threads(planned.customer.email)
        if not roots:
            return None
        replies = self.io.replies.find(roots, set(ids))
        learned = agent_reply_entries(replies)
        for reply in replies:
            if reply.message_id in learned:
                threads.remember_agent_reply(reply.message_id, reply.contact_id, reply.root_contact_id)
        return link_thread(ids, learned)

    def _remember_thread(self, planned: Plan, contact_ids: list[str], related: str | None) -> list[str]:
        """Write the thread entry; a failure is returned as a defect, never raised: the contact
        exists, and a retry or the failure queue could not make it more than a contact."""
        own_id = next(iter(message_ids(planned.message.message_id)[-1:]), None)
        if self.io.threads is None or own_id is None or not contact_ids:
            return []
        root = related or contact_ids[0]
        try:
            self.io.threads.remember(own_id, contact_ids[0], root)
            if planned.customer is not None:
                self.io.threads.remember_customer_thread(planned.customer.email, root)
        except BridgeError as exc:
            logger.warning(
                "the contact exists but its thread entry was not written: replies to it start new contacts",
                extra={"code": exc.code, "retryable": exc.retryable},
            )
            return [f"{DefectKind.THREAD_INDEX_NOT_WRITTEN.value}:{exc.code}"]
        return []


@dataclass
class _Run:
    """One invocation's view of a message's delivery."""

    planned: Plan
    earlier: DeliveryRecord | None  # as the ledger held it when this invocation began
    delivery: DeliveryRecord  # what this invocation sends (updated as fallbacks are taken)
    fresh: bool  # the URLs were signed by this invocation
    refused_tokens: set[str] = field(default_factory=set)  # tokens Connect refused in this invocation
    defects: dict[str, None] = field(default_factory=dict)  # found building its requests, in order


def _fallback(error: DeliveryError, request: StartEmailContactRequestTypeDef) -> Drop | None:
    """What to leave out of a refused request so that Connect takes it, if anything."""
    if isinstance(error, AttachmentsRejected) and request.get("Attachments"):
        return Drop.files(str(error.reason))
    if request.get("RelatedContactId") and error.code in {
        "ResourceNotFoundException",
        "InvalidRequestException",
    }:
        return Drop.related()  # whether the root was the cause, the unlinked request tells
    return None


def _over_limits(final: DestinationRequest, refusal: DeliveryError | None = None) -> DeliveryError:
    """The failure of a destination whose request cannot be made valid: permanent, naming the
    limits it breaks (and Connect's refusal that called for it), for the failure queue."""
    dropped = [step.kind.value for step in final.steps]
    logger.warning("the request breaks Connect's limits: not sent", extra={"dropped": dropped})
    refused = f"Connect refused the request ({refusal.code} {refusal.reason}); " if refusal else ""
    without = f" without {', '.join(dropped)}" if dropped else ""
    return DeliveryError(
        f"{refused}the request{without} breaks Connect's limits: {'; '.join(final.problems)}"[:2000],
        code="RequestLimitViolation",
        reason=DefectKind.REQUEST_LIMIT_VIOLATION.value,
    )


def _kinds(defects: list[str]) -> list[str]:
    """Defect kinds only: details may quote header text, which stays out of INFO logs."""
    return sorted({defect.split(":", 1)[0] for defect in defects})
