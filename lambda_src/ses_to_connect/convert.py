"""The pure core: one stored message + its SES record + settings -> a :class:`Conversion`.

No boto3, no environment, no clock: the same inputs always give byte-identical requests, so
a retried invocation sends Connect exactly what the first one did (same ``ClientToken``,
same parameters) and Connect's idempotency returns the same contact.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from ses_to_connect import budget
from ses_to_connect.addresses import is_valid_address
from ses_to_connect.attachments import Candidate, Skipped, find_candidates, store_attachments, visible_name
from ses_to_connect.delivery import DeliveryRecord, Drop
from ses_to_connect.headers import clean_text, message_ids
from ses_to_connect.limits import (
    MAX_ADDITIONAL_RECIPIENTS,
    MAX_ATTRIBUTES_BYTES,
    MAX_BODY,
    MAX_HEADER_VALUE,
    MAX_SUBJECT,
    attributes_size,
    check_request,
)
from ses_to_connect.mime import Body, ParsedMessage, parse_message
from ses_to_connect.model import Address, Conversion, DefectKind, Defects, Outcome, Smime
from ses_to_connect.notices import NO_INLINE_IMAGES, InlineImages, description, inline_images, present
from ses_to_connect.policy import Decision, decide
from ses_to_connect.policy_rules import PolicyRule, QuarantineReason, Undeliverable
from ses_to_connect.ports import AttachmentSink
from ses_to_connect.sender_flags import SenderFlag, sender_flags
from ses_to_connect.ses_event import VERDICT_NAMES, SesRecord
from ses_to_connect.settings import BodyPreference, ConnectAddress, Settings

if TYPE_CHECKING:  # type stubs only: the function's asset needs nothing of them at run time
    from mypy_boto3_connect.literals import EmailHeaderTypeType
    from mypy_boto3_connect.type_defs import (
        EmailAddressInfoTypeDef,
        EmailAttachmentTypeDef,
        InboundAdditionalRecipientsTypeDef,
        InboundRawMessageTypeDef,
        StartEmailContactRequestTypeDef,
    )

MAX_ENVELOPE_SENDER_ATTRIBUTE = 1024
MAX_DEFECTS_ATTRIBUTE = 2048
MAX_SKIPPED_ATTRIBUTE = 4096
MAX_REPLAY_REASON_ATTRIBUTE = 1024
# The bridge's free-text attributes, cut in this order when the attributes pass Connect's budget;
# the static attributes and the facts (ids, verdicts, flags) are never cut.
CUT_FIRST = ("sesAttachmentsSkipped", "sesDefects", "sesReplayReason", "sesEnvelopeSender")
_CUT_MARK = "…".encode()
NO_SUBJECT_NAME = "(no subject)"


@dataclass(frozen=True)
class Plan:
    """Everything decided about a message before any I/O: the pipeline's first pure step."""

    record: SesRecord
    settings: Settings
    message: ParsedMessage
    decision: Decision
    destinations: tuple[ConnectAddress, ...]
    customer: Address | None
    candidates: tuple[Candidate, ...]
    skipped: tuple[Skipped, ...]
    quarantine_reason: QuarantineReason | None
    defects: tuple[str, ...]  # the message's, then those found while planning
    sender_flags: tuple[SenderFlag, ...]
    inline_images: InlineImages = NO_INLINE_IMAGES  # the images the HTML body shows by cid:

    @property
    def attachment_prefix(self) -> str:
        return f"{self.settings.attachments_prefix}{self.record.message_id}/"

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this message answers, most direct first: In-Reply-To, then References newest first."""
        ids = message_ids(self.message.in_reply_to) + message_ids(self.message.references)[::-1]
        return list(dict.fromkeys(ids))

    def quarantine(self) -> Conversion:
        return Conversion(
            Outcome.QUARANTINE,
            self.quarantine_reason,
            list(self.defects),
            requests=[],
            flags=list(self.decision.matched),
        )


def plan(raw: bytes | Iterable[bytes], record: SesRecord, settings: Settings) -> Plan:
    """Parse the message and decide its fate: destinations, customer, policy, attachment candidates."""
    prefer = "text/html" if settings.body_preference is BodyPreference.HTML else "text/plain"
    with budget.metered() as meter:  # one budget for the message, its files' names and contents
        message = parse_message(raw, prefer=prefer)
        defects = Defects(message.defects)
        destinations = _destinations(record, settings)
        customer = _customer(message, record, settings, defects)
        flags = sender_flags(message.from_, customer)
        for flag in flags:
            defects.add(DefectKind.SUSPICIOUS_SENDER, flag)
        decision = decide(message, record, settings, flags)
        # An operator's replay may deliver what the policy quarantined; nothing else is overridden.
        reason: QuarantineReason | None = (
            None if record.replay and record.replay.deliver else decision.quarantine_reason
        )
        if reason is None and not destinations:
            reason = Undeliverable.NO_CONNECT_RECIPIENT
        if reason is None and customer is None:
            reason = Undeliverable.NO_USABLE_SENDER
        candidates: list[Candidate] = []
        skipped: list[Skipped] = []
        images = NO_INLINE_IMAGES
        if reason is None:
            html = message.body.text if message.body and message.body.content_type == "text/html" else None
            inline_found: dict[str, tuple[str, bool]] = {}
            candidates, skipped = find_candidates(
                message.files, html, defects, settings.attachment_extensions, inline_found
            )
            candidates, skipped, images = inline_images(candidates, skipped, inline_found, settings)
        meter.report(defects)
    return Plan(
        record,
        settings,
        message,
        decision,
        tuple(destinations),
        customer,
        tuple(candidates),
        tuple(skipped),
        reason,
        tuple(defects.as_list()),
        flags,
        images,
    )


class DestinationRequest(NamedTuple):
    """One destination's final request: the steps its delivery records dropped, under that
    variant's token, checked against Connect's limits."""

    destination: ConnectAddress
    base_token: str  # the destination's own ClientToken; its fallbacks' tokens derive from it
    steps: tuple[Drop, ...]
    request: StartEmailContactRequestTypeDef | None  # None: it breaks Connect's limits
    problems: tuple[str, ...]  # the limits it breaks (check_request)


class FinalRequests(NamedTuple):
    """Every destination's final request, and the defects found building them (the plan's first)."""

    destinations: tuple[DestinationRequest, ...]
    defects: list[str]
    flags: list[PolicyRule]  # the policy rules the message matched

    def conversion(self) -> Conversion:
        """Contacts to create, or a quarantine when a request cannot be made valid: a bug, never
        expected, and the mail is kept safe with the evidence in the defects."""
        if any(final.request is None for final in self.destinations):
            return Conversion(Outcome.QUARANTINE, Undeliverable.REQUEST_LIMIT_VIOLATION, self.defects, [], [])
        requests = [final.request for final in self.destinations if final.request is not None]
        return Conversion(Outcome.CONTACT, None, self.defects, requests, self.flags)


def final_requests(plan: Plan, delivery: DeliveryRecord) -> FinalRequests:
    """The ``StartEmailContact`` request of every destination of a delivered plan, as it is sent
    now: built from the delivery (``{FileName, S3Url}`` files, skips, thread root) with the steps
    it records for that destination dropped, under that variant's token.

    Every request lists all defects (``sesDefects``), whichever destination's request found
    them. Skipped files known only by number (the delivery keeps a bounded list of names) are
    counted in the listing's "… and N more". A request that cannot be made valid is returned
    without a request, with the limits it breaks, and those are recorded as defects.
    """
    assert plan.customer is not None and plan.quarantine_reason is None  # noqa: S101 (caller's contract)
    defects = Defects(plan.defects)
    raw_message = _raw_message(plan, defects)  # the same for every destination
    recipients = [
        _additional_recipients(plan.message, destination, defects) for destination in plan.destinations
    ]
    listed = defects.as_list()  # what sesDefects says, whichever variant is sent
    variants: dict[tuple[Drop, ...], _Variant] = {}
    finals: list[DestinationRequest] = []
    for destination, base, destination_recipients in zip(
        plan.destinations, destination_tokens(plan), recipients, strict=True
    ):
        steps = delivery.steps(base)
        if steps not in variants:
            variants[steps] = _variant(
                plan, delivery, steps, raw_message=raw_message, listed=listed, defects=defects
            )
        variant = variants[steps]
        request = build_request(
            plan,
            destination=destination,
            customer=plan.customer,
            raw_message=variant.raw_message,
            recipients=destination_recipients,
            attachments=variant.files,
            attributes=variant.attributes,
            related_contact_id=variant.related_contact_id,
            description=variant.description,
            client_token=variant_token(base, steps),
        )
        problems = check_request(request, plan.settings.attachment_extensions)
        for problem in problems:
            defects.add(DefectKind.REQUEST_LIMIT_VIOLATION, problem[:200])
        finals.append(
            DestinationRequest(destination, base, steps, request if not problems else None, tuple(problems))
        )
    return FinalRequests(tuple(finals), defects.as_list(), list(plan.decision.matched))


class _Variant(NamedTuple):
    """What the requests that dropped the same steps share, whichever their destination."""

    raw_message: InboundRawMessageTypeDef
    description: str
    attributes: dict[str, str]
    files: list[EmailAttachmentTypeDef]
    related_contact_id: str | None


def _variant(
    plan: Plan,
    delivery: DeliveryRecord,
    steps: tuple[Drop, ...],
    *,
    raw_message: InboundRawMessageTypeDef,
    listed: Sequence[str],
    defects: Defects,
) -> _Variant:
    assert plan.customer is not None  # noqa: S101 (caller's contract)
    attachments, skipped = delivery.files(steps)
    unlinked = Drop.related() in steps
    related = None if unlinked else delivery.related_contact_id
    unnamed = sum(delivery.more_skipped.values())
    all_skipped = [*plan.skipped, *skipped]
    shown = present(
        Body(raw_message["Body"], raw_message["ContentType"]),
        images=plan.inline_images,
        attachments=attachments,
        skipped=all_skipped,
        unnamed=unnamed,
        raw_uri=raw_message_uri(plan.record, plan.settings),
    )
    summary = description(
        plan.customer,
        raw_message["Subject"],
        sent=len(attachments),
        skipped=all_skipped,
        unnamed=unnamed,
        flags=plan.decision.matched,
    )
    attributes = _attributes(plan, len(attachments), all_skipped, unnamed, listed=listed, defects=defects)
    # How the thread was (not) joined, when it fits: the flag never costs the contact its limits.
    key, value = (
        ("sesRelatedContactUnknown", delivery.related_contact_id)
        if unlinked
        else ("sesThreadMatch", delivery.thread_match if related else None)
    )
    if value and attributes_size({**attributes, key: value}) <= MAX_ATTRIBUTES_BYTES:
        attributes[key] = value
    return _Variant(
        {**raw_message, "Body": shown.text, "ContentType": shown.content_type},
        summary,
        attributes,
        [{"FileName": visible_name(item["FileName"]), "S3Url": item["S3Url"]} for item in attachments],
        related,
    )


class UnsignedUrlSink:
    """For offline conversion: names where each attachment would be stored, stores nothing."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @contextlib.contextmanager
    def uploads(self) -> Iterator[UnsignedUrlSink]:
        yield self

    def make_room(self, size: int) -> None:
        """Nothing is held: there is always room."""

    def store(self, key: str, candidate: Candidate, data: bytes) -> str:
        return f"https://{self.bucket}.s3.amazonaws.com/{key}"

    def take_url_lengths(self) -> list[int]:
        """Nothing is signed: no lengths to watch."""
        return []


def convert_offline(
    raw: bytes | Iterable[bytes],
    record: SesRecord,
    settings: Settings,
    sink: AttachmentSink | None = None,
    related_contact_id: str | None = None,
) -> Conversion:
    """The conversion without the pipeline's ledger or Connect, for the offline ``convert`` command,
    the tests and the benchmarks (the Lambda runs :mod:`ses_to_connect.pipeline`): plan, store
    attachments in ``sink`` (default: nowhere, unsigned URLs) and build the requests."""
    planned = plan(raw, record, settings)
    if planned.quarantine_reason is not None:
        return planned.quarantine()
    sent, skipped = store_attachments(
        planned.candidates,
        sink or UnsignedUrlSink(settings.mail_bucket),
        planned.attachment_prefix,
        settings.attachment_max_bytes,
    )
    return final_requests(
        planned, DeliveryRecord(tuple(sent), tuple(skipped), related_contact_id, None)
    ).conversion()


def raw_message_uri(record: SesRecord, settings: Settings) -> str:
    return f"s3://{settings.mail_bucket}/{settings.inbound_prefix}{record.message_id}"


def client_token(message_id: str, destination: str) -> str:
    """Deterministic per (message, destination): a retry reuses it, so Connect deduplicates."""
    return hashlib.sha256(f"{message_id}\n{destination.lower()}".encode()).hexdigest()


def variant_token(token: str, steps: Iterable[Drop]) -> str:
    """The ClientToken of a request that dropped ``steps``: its own, derived from the first.

    A refused request may or may not use up its token in Connect (undocumented); a fallback
    with a token of its own works either way, and stays deterministic, so a retry of the
    fallback reuses it.
    """
    texts = tuple(map(str, steps))
    if not texts:
        return token
    return hashlib.sha256("\n".join((token, *texts)).encode()).hexdigest()


def destination_tokens(plan: Plan) -> list[str]:
    """Each destination's own ClientToken, in the plan's order."""
    return [client_token(plan.record.message_id, destination.address) for destination in plan.destinations]


def build_request(
    plan: Plan,
    *,
    destination: ConnectAddress,
    customer: Address,
    raw_message: InboundRawMessageTypeDef,
    recipients: InboundAdditionalRecipientsTypeDef,
    attachments: Sequence[EmailAttachmentTypeDef],
    attributes: Mapping[str, str],
    related_contact_id: str | None,
    description: str,
    client_token: str,
) -> StartEmailContactRequestTypeDef:
    """The exact ``StartEmailContact`` parameters for one destination."""
    record, settings = plan.record, plan.settings
    request: StartEmailContactRequestTypeDef = {
        "InstanceId": settings.instance_id,
        "FromEmailAddress": customer.as_request(),
        "DestinationEmailAddress": destination.address,
        "Name": raw_message["Subject"] or NO_SUBJECT_NAME,
        "Description": description,  # the SES message id is in References and sesMessageId
        "References": {
            "rawMessage": {"Type": "STRING", "Value": raw_message_uri(record, settings)},
            "sesMessageId": {"Type": "STRING", "Value": record.message_id},
        },
        "EmailMessage": {"MessageSourceType": "RAW", "RawMessage": raw_message},
    }
    if recipients:
        request["AdditionalRecipients"] = recipients
    if attachments:
        request["Attachments"] = attachments
    if destination.contact_flow_id:
        request["ContactFlowId"] = destination.contact_flow_id
    if related_contact_id:
        request["RelatedContactId"] = related_contact_id
    request["Attributes"] = attributes
    if settings.contact_expiry_minutes is not None:
        request["SegmentAttributes"] = {
            "connect:ContactExpiry": {
                "ValueMap": {"ExpiryDuration": {"ValueInteger": settings.contact_expiry_minutes}}
            }
        }
    request["ClientToken"] = client_token
    return request


def _raw_message(plan: Plan, defects: Defects) -> InboundRawMessageTypeDef:
    """The subject, body and threading headers Connect shows, each within Connect's limits."""
    message, record, settings = plan.message, plan.record, plan.settings
    subject = message.subject
    if len(subject) > MAX_SUBJECT:
        defects.add(DefectKind.SUBJECT_TRUNCATED)
        subject = subject[:MAX_SUBJECT]
    body = _body(message.body, raw_message_uri(record, settings), defects, Smime.ENCRYPTED in message.smime)
    raw_message: InboundRawMessageTypeDef = {
        "Subject": subject,
        "Body": body.text,
        "ContentType": body.content_type,
    }
    headers = _headers(message, record, defects)
    if headers:
        raw_message["Headers"] = headers
    return raw_message


def _destinations(record: SesRecord, settings: Settings) -> list[ConnectAddress]:
    """Configured Connect addresses among the envelope recipients, each once, in order."""
    found: dict[str, ConnectAddress] = {}
    for recipient in record.recipients:
        address = settings.address_for(recipient)
        if address is not None:
            found.setdefault(address.key, address)
    return list(found.values())


def _customer(
    message: ParsedMessage, record: SesRecord, settings: Settings, defects: Defects
) -> Address | None:
    """Who the contact is with: Reply-To if preferred, else From, else the envelope sender."""
    if settings.prefer_reply_to and message.reply_to:
        return message.reply_to[0]
    if message.from_:
        return message.from_[0]
    defects.add(DefectKind.NO_USABLE_FROM)
    envelope = clean_text(record.source).strip("<>")
    return Address(envelope) if is_valid_address(envelope) else None


def _body(body: Body | None, raw_uri: str, defects: Defects, encrypted: bool = False) -> Body:
    """Never empty (Connect rejects it) and never over Connect's limit (cut with a marker)."""
    if body is None or not body.text:
        defects.add(DefectKind.NO_TEXT_BODY)
        why = (
            "is encrypted (S/MIME): only the recipient's private key can open it, and the bridge has none"
            if encrypted
            else "has no readable text body"
        )
        return Body(f"[This email {why}. The original message is stored at {raw_uri}]", "text/plain")
    if len(body.text) <= MAX_BODY:
        return body
    defects.add(DefectKind.BODY_TRUNCATED)
    # The text is read only a little past the limit (budget.MAX_TEXT_CHARS): its whole length is
    # not known, and what the note can say is how much is shown.
    note = (
        f"[Message truncated: the first {MAX_BODY:,} characters are shown. "
        f"The original message is stored at {raw_uri}]"
    )
    note = f"<hr><p>{note}</p>" if body.content_type == "text/html" else f"\n\n{note}"
    shown = MAX_BODY - len(note)
    note = note.replace(f"{MAX_BODY:,}", f"{shown:,}", 1)  # as many digits: the length holds
    return Body(body.text[:shown] + note, body.content_type)


def _headers(message: ParsedMessage, record: SesRecord, defects: Defects) -> dict[EmailHeaderTypeType, str]:
    headers: dict[EmailHeaderTypeType, str] = {
        "MESSAGE_ID": _newest_ids(message_ids(message.message_id)[-1:], defects, "message_id"),
        "IN_REPLY_TO": _newest_ids(message_ids(message.in_reply_to), defects, "in_reply_to"),
        "REFERENCES": _newest_ids(message_ids(message.references), defects, "references"),
        "X_SES_SPAM_VERDICT": _verdict_header(message, record, "spam", defects),
        "X_SES_VIRUS_VERDICT": _verdict_header(message, record, "virus", defects),
    }
    return {key: value for key, value in headers.items() if value}


def _newest_ids(ids: list[str], defects: Defects, field: str) -> str:
    """The newest ids (the list is oldest first) that fit in one header value."""
    kept: list[str] = []
    size = -1
    for item in reversed(ids):
        if size + 1 + len(item) > MAX_HEADER_VALUE:
            defects.add(DefectKind.HEADER_TRUNCATED, field)
            break
        kept.append(item)
        size += 1 + len(item)
    return " ".join(reversed(kept))


def _verdict_header(message: ParsedMessage, record: SesRecord, name: str, defects: Defects) -> str:
    """SES's own header in the stored message; the event's verdict when absent or contradicted."""
    stored = message.headers.get(f"x-ses-{name}-verdict", "")[:100]
    event = record.verdicts.get(name, "")
    if stored and event and stored.upper() != event:
        defects.add(DefectKind.VERDICT_HEADER_MISMATCH, name)
        return event
    return stored or event


def _additional_recipients(
    message: ParsedMessage, destination: ConnectAddress, defects: Defects
) -> InboundAdditionalRecipientsTypeDef:
    seen = {destination.key}
    to: list[EmailAddressInfoTypeDef] = []
    cc: list[EmailAddressInfoTypeDef] = []
    count = 0
    for entries, addresses in ((to, message.to), (cc, message.cc)):
        for address in addresses:
            if address.email.lower() in seen:
                continue
            if count == MAX_ADDITIONAL_RECIPIENTS:
                defects.add(DefectKind.RECIPIENTS_CAPPED)
                break
            seen.add(address.email.lower())
            entries.append(address.as_request())
            count += 1
    recipients: InboundAdditionalRecipientsTypeDef = {}
    if to:
        recipients["ToAddresses"] = to
    if cc:
        recipients["CcAddresses"] = cc
    return recipients


def _skipped_listing(skipped: Sequence[Skipped], unnamed: int = 0, max_bytes: int | None = None) -> str:
    """``name (reason); ...`` within ``MAX_SKIPPED_ATTRIBUTE`` characters (and ``max_bytes`` UTF-8
    bytes): whole entries, then "… and N more" for those that do not fit and the ``unnamed`` ones."""
    entries = [f"{item.file_name} ({item.reason})" for item in skipped]

    def fits(chars: int, size: int) -> bool:
        return chars <= MAX_SKIPPED_ATTRIBUTE and (max_bytes is None or size <= max_bytes)

    listing = "; ".join(entries)
    if not unnamed and fits(len(listing), len(listing.encode())):
        return listing
    total = len(entries) + unnamed
    kept, chars, size = 0, 0, 0
    for entry in entries:
        tail = f"; … and {total - kept - 1} more"
        separator = 2 if kept else 0
        if not fits(
            chars + separator + len(entry) + len(tail),
            size + separator + len(entry.encode()) + len(tail.encode()),
        ):
            break
        chars += separator + len(entry)
        size += separator + len(entry.encode())
        kept += 1
    rest = f"… and {total - kept} more"
    return "; ".join([*entries[:kept], rest])


def _attributes(
    plan: Plan,
    sent: int,
    skipped: Sequence[Skipped],
    unnamed_skips: int,
    *,
    listed: Sequence[str],
    defects: Defects,
) -> dict[str, str]:
    """Static attributes first; the bridge's own keys are added last so they cannot be overridden.
    ``listed`` are the defects ``sesDefects`` names; ``defects`` records the attributes cut."""
    record, settings = plan.record, plan.settings
    attributes = dict(settings.static_attributes)
    attributes["sesMessageId"] = record.message_id
    attributes["sesEnvelopeSender"] = clean_text(record.source)[:MAX_ENVELOPE_SENDER_ATTRIBUTE]
    attributes["sesRawMessage"] = raw_message_uri(record, settings)
    for name in VERDICT_NAMES:
        attributes[f"ses{name.capitalize()}Verdict"] = record.verdicts.get(name, "NONE")
    if record.dmarc_policy:
        attributes["sesDmarcPolicy"] = record.dmarc_policy
    if plan.decision.matched:
        attributes["sesPolicyFlags"] = ",".join(plan.decision.matched)
    if plan.decision.suppress_auto_reply:
        attributes["sesSuppressAutoReply"] = "true"
    if plan.message.smime:
        attributes["sesSmime"] = ",".join(plan.message.smime)
    if plan.sender_flags:
        attributes["sesSenderWarning"] = ",".join(plan.sender_flags)
    if sent or skipped or unnamed_skips:
        attributes["sesAttachmentsSent"] = str(sent)
    if skipped or unnamed_skips:
        attributes["sesAttachmentsSkipped"] = _skipped_listing(skipped, unnamed_skips)
    if record.replay is not None:
        attributes["sesReplayReason"] = (
            clean_text(record.replay.reason)[:MAX_REPLAY_REASON_ATTRIBUTE] or "replay"
        )
    if listed:
        attributes["sesDefects"] = ",".join(listed)[:MAX_DEFECTS_ATTRIBUTE]
    _fit(attributes, skipped, unnamed_skips, defects)
    return attributes


def _fit(attributes: dict[str, str], skipped: Sequence[Skipped], unnamed: int, defects: Defects) -> None:
    """Cut the bridge's free texts, in ``CUT_FIRST`` order, until the attributes fit Connect's
    budget: each is at most a few kilobytes, but long non-ASCII names, reasons and senders
    together (and the static attributes) can pass it. What is cut is recorded as a defect."""
    for key in CUT_FIRST:
        excess = attributes_size(attributes) - MAX_ATTRIBUTES_BYTES
        if excess <= 0:
            return
        if key not in attributes:
            continue
        room = len(attributes[key].encode()) - excess
        # The listing keeps whole entries and always says how many files it leaves out.
        listing = key == "sesAttachmentsSkipped"
        shorter = _skipped_listing(skipped, unnamed, room) if listing else _cut(attributes[key], room)
        if len(shorter.encode()) < len(attributes[key].encode()):
            attributes[key] = shorter
            defects.add(DefectKind.ATTRIBUTE_CUT, key)


def _cut(value: str, room: int) -> str:
    """The start of ``value`` within ``room`` UTF-8 bytes, ending in "…" (just "…" when ``room``
    is less than the mark)."""
    data = value.encode()
    return data[: max(room - len(_CUT_MARK), 0)].decode(errors="ignore") + "…"
