"""``smoke``: after a deploy, one real email through SES, the function and Connect, with a PDF.

SES rewrites the Message-ID of what it sends, so the test email is found by a header of its
own (``X-Ses-To-Connect-Smoke``) among the objects SES stored under the inbound prefix; the key
is SES's inbound message id, and the stored Message-ID leads to the contact through the
function's thread table. Connect then shows the contact, its attributes (what the function
sent or skipped) and its attachment references (what Connect holds). Every wait is bounded;
every way it can end other than "contact with attachment" raises :class:`SmokeFailed`.

With an agent (``agent_id``) and ``smokeMailbox`` configured, it then proves reply threading
(docs/threading.md): an agent's reply to that contact is sent through Connect's own APIs
(``CreateContact`` EMAIL ``AGENT_REPLY``, ``StartOutboundEmailContact``) to the smoke mailbox,
which the rule stores and Connect does not own; its headers are read from S3; the customer's
answer to it is sent as a mail client writes one (``In-Reply-To`` its Message-ID, ``References``
its References and its Message-ID); the answer's contact must link to the first contact
(``RelatedContactId``) and say how (``sesThreadMatch``). The reply's threading headers are
reported: they are what Connect really sends, which no document states.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import default
from typing import Any, NamedTuple, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ses_to_connect.headers import message_ids
from ses_to_connect_cdk.config import BridgeConfig
from ses_to_connect_tools.operations.deployment import Clients, aws_error, error_code, stack_outputs

__all__ = [
    "MARKER_HEADER",
    "SmokeFailed",
    "SmokeResult",
    "ThreadResult",
    "answer_message",
    "smoke",
    "smoke_message",
]

MARKER_HEADER = "X-Ses-To-Connect-Smoke"
HEADER_BYTES = 64 * 1024
# Objects older than this before the send cannot be the test email (clock skew allowance).
_SKEW = timedelta(minutes=5)
# The smallest well-formed PDF: one empty page.
_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
_ATTACHMENT_DONE = ("APPROVED", "AVAILABLE")
_ATTACHMENT_REFUSED = ("REJECTED", "FAILED", "DELETED")
_T = TypeVar("_T")
# Message ids are written whole on one line (RFC 5322 allows 998 characters): the default policy
# would fold a long one into an RFC 2047 encoded word, which is no message id any more.
IDENTIFIERS = default.clone(max_line_length=998)


class SmokeFailed(Exception):
    """The test email did not end as a contact with its attachment; the message says where it stopped."""


class ThreadResult(NamedTuple):
    """The agent-reply step: the reply as Connect sent it, and the contact of the answer to it."""

    reply_contact_id: str
    reply_message_id: str  # the Message-ID of the email Connect sent for the reply
    reply_in_reply_to: str | None  # its threading headers, as stored by SES (None: absent)
    reply_references: str | None
    answer_contact_id: str
    match: str  # the answer contact's sesThreadMatch


class SmokeResult(NamedTuple):
    contact_id: str
    message_id: str  # SES's inbound message id (the object key under the inbound prefix)
    attachment: str  # the file name as Connect lists it
    attachment_status: str
    thread: ThreadResult | None = None  # None: not checked (no agent given)


def smoke_message(sender: str, recipient: str, token: str) -> tuple[bytes, str]:
    """The test email and its attachment's file name."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = f"ses-to-connect smoke test {token}"
    mail[MARKER_HEADER] = token
    mail.set_content(f"Smoke test of the SES to Connect bridge ({token}). It can be closed.\n")
    file_name = f"smoke-{token[:8]}.pdf"
    mail.add_attachment(_PDF, maintype="application", subtype="pdf", filename=file_name)
    return bytes(mail), file_name


def answer_message(sender: str, recipient: str, token: str, reply: Message) -> bytes:
    """The customer's answer to ``reply``, threaded as a mail client does it (RFC 5322 3.6.4)."""
    mail = EmailMessage(policy=IDENTIFIERS)
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = f"Re: {_header(reply, 'Subject') or ''}"
    mail[MARKER_HEADER] = token
    reply_id = _header(reply, "Message-ID") or ""
    mail["In-Reply-To"] = reply_id
    mail["References"] = " ".join(filter(None, (_header(reply, "References"), reply_id)))
    mail.set_content(f"Smoke test answer to the agent's reply ({token}). It can be closed.\n")
    return bytes(mail)


def smoke(
    config: BridgeConfig,
    clients: Clients,
    *,
    sender: str,
    recipient: str | None = None,
    agent_id: str | None = None,
    timeout_seconds: float = 300,
    poll_seconds: float = 5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> SmokeResult:
    addresses = [a.address for a in config.function.connect_addresses]
    recipient = recipient or addresses[0]
    if recipient.lower() not in {a.lower() for a in addresses}:
        raise SmokeFailed(
            f"{recipient} is not one of the configured connectAddresses ({', '.join(addresses)})"
        )
    if agent_id is not None and config.smoke_mailbox is None:
        raise SmokeFailed(
            "the agent-reply step needs smokeMailbox: an address on the receiving domain that the rule "
            "stores and Connect does not own (-c smokeMailbox=..., then cdk deploy)"
        )
    outputs = stack_outputs(clients.cloudformation, config.stack_name)
    if outputs is None or not {"MailBucketName", "ThreadsTableName"} <= set(outputs):
        raise SmokeFailed(
            f"stack {config.stack_name} is not deployed (or lacks its outputs): run cdk deploy first"
        )
    token = uuid.uuid4().hex
    raw, file_name = smoke_message(sender, recipient, token)
    sent_at = datetime.now(UTC)
    try:
        clients.ses.send_raw_email(Source=sender, Destinations=[recipient], RawMessage={"Data": raw})
    except (ClientError, BotoCoreError) as exc:
        raise SmokeFailed(
            f"SES did not send the test email: {aws_error(exc)} (the sender must be a verified SES identity "
            "in this region; in the SES sandbox the recipient's domain must be verified too)"
        ) from exc
    deadline = clock() + timeout_seconds
    waiter = _Waiter(clock, sleep, deadline, poll_seconds)
    checked: set[str] = set()  # objects already read: each poll reads only the new ones
    bucket, inbound = outputs["MailBucketName"], config.function.inbound_prefix
    found = waiter.until(
        lambda: _stored(clients.s3, bucket, inbound, _marked(token), sent_at, checked=checked)
    )
    if found is None:
        raise SmokeFailed(
            f"SES did not store the test email under {inbound} in {bucket} "
            f"within {timeout_seconds:.0f} s: check the MX record, that the rule set is active and that the "
            f"rule's recipients include {recipient} (ses-to-connect preflight --deployed)"
        )
    message_id, own_id = found[0], str(found[1].get("Message-ID", ""))
    contact_id = waiter.until(lambda: _contact(clients, outputs, config, message_id, own_id))
    if contact_id is None:
        raise SmokeFailed(
            f"stored as {inbound}{message_id} but no contact within {timeout_seconds:.0f} s: "
            "see the function's log (correlation id: that message id) and the failure queue (FailureQueueUrl)"
        )
    clients.connect.describe_contact(InstanceId=config.connect_instance_id, ContactId=contact_id)
    attributes = clients.connect.get_contact_attributes(
        InstanceId=config.connect_instance_id, InitialContactId=contact_id
    ).get("Attributes", {})
    if attributes.get("sesAttachmentsSent") != "1":
        raise SmokeFailed(
            f"contact {contact_id} was created without the attachment: "
            f"{attributes.get('sesAttachmentsSkipped') or 'no attachment recorded'}"
        )
    status = waiter.until(lambda: _attachment_status(clients, config, contact_id, file_name))
    if status is None or status in _ATTACHMENT_REFUSED:
        raise SmokeFailed(
            f"contact {contact_id}: the function sent {file_name}, but Connect "
            + ("does not list it" if status is None else f"lists it as {status}")
            + " (check the instance's attachment storage and the URL's lifetime)"
        )
    thread = None
    if agent_id is not None and config.smoke_mailbox is not None:
        thread = _thread(
            config,
            clients,
            outputs,
            waiter,
            checked,
            contact_id=contact_id,
            agent_id=agent_id,
            token=token,
            sender=sender,
            recipient=recipient,
            mailbox=config.smoke_mailbox,
            timeout_seconds=timeout_seconds,
        )
    return SmokeResult(contact_id, message_id, file_name, status, thread)


def _thread(
    config: BridgeConfig,
    clients: Clients,
    outputs: Mapping[str, str],
    waiter: _Waiter,
    checked: set[str],
    *,
    contact_id: str,
    agent_id: str,
    token: str,
    sender: str,
    recipient: str,
    mailbox: str,
    timeout_seconds: float,
) -> ThreadResult:
    """An agent's reply to ``contact_id``, sent to the smoke mailbox; the answer must join the thread."""
    instance = config.connect_instance_id
    sent_at = datetime.now(UTC)
    try:
        reply_contact = clients.connect.create_contact(
            InstanceId=instance,
            Channel="EMAIL",
            InitiationMethod="AGENT_REPLY",
            RelatedContactId=contact_id,
            UserInfo={"UserId": agent_id},
            Name=f"ses-to-connect smoke reply {token}",
        )["ContactId"]
        clients.connect.start_outbound_email_contact(
            InstanceId=instance,
            ContactId=reply_contact,
            FromEmailAddress={"EmailAddress": recipient},
            DestinationEmailAddress={"EmailAddress": mailbox},
            EmailMessage={
                "MessageSourceType": "RAW",
                "RawMessage": {
                    "Subject": f"Re: ses-to-connect smoke test {token}",
                    "Body": f"Agent reply of the smoke test ({token}).",
                    "ContentType": "text/plain",
                },
            },
        )
    except (ClientError, BotoCoreError) as exc:
        raise SmokeFailed(
            f"Connect refused the agent's reply to contact {contact_id}: {aws_error(exc)} (the agent id "
            "must be a user of the instance; the operator needs connect:CreateContact and "
            "connect:StartOutboundEmailContact)"
        ) from exc
    bucket, prefix = outputs["MailBucketName"], config.function.inbound_prefix
    found = waiter.until(
        lambda: _stored(clients.s3, bucket, prefix, _reply_to(token, mailbox), sent_at, checked=checked)
    )
    if found is None:
        raise SmokeFailed(
            f"Connect accepted the agent's reply (contact {reply_contact}), but it never reached "
            f"{mailbox} under {prefix} within {timeout_seconds:.0f} s: check that the rule covers "
            "smokeMailbox and the instance's outbound email (the address's domain verified in SES)"
        )
    reply = found[1]
    answer_token = f"{token}-answer"
    raw = answer_message(sender, recipient, answer_token, reply)
    try:
        clients.ses.send_raw_email(Source=sender, Destinations=[recipient], RawMessage={"Data": raw})
    except (ClientError, BotoCoreError) as exc:
        raise SmokeFailed(f"SES did not send the answer to the agent's reply: {aws_error(exc)}") from exc
    answered = waiter.until(
        lambda: _stored(clients.s3, bucket, prefix, _marked(answer_token), sent_at, checked=checked)
    )
    if answered is None:
        raise SmokeFailed(f"SES did not store the answer to the agent's reply within {timeout_seconds:.0f} s")
    answer_id, answer_own_id = answered[0], str(answered[1].get("Message-ID", ""))
    answer_contact = waiter.until(lambda: _contact(clients, outputs, config, answer_id, answer_own_id))
    if answer_contact is None:
        raise SmokeFailed(
            f"the answer to the agent's reply was stored as {prefix}{answer_id} but no contact followed "
            f"within {timeout_seconds:.0f} s: see the function's log and the failure queue"
        )
    related = clients.connect.describe_contact(InstanceId=instance, ContactId=answer_contact)["Contact"].get(
        "RelatedContactId"
    )
    match = (
        clients.connect.get_contact_attributes(InstanceId=instance, InitialContactId=answer_contact)
        .get("Attributes", {})
        .get("sesThreadMatch")
    )
    headers = _header(reply, "Message-ID"), _header(reply, "In-Reply-To"), _header(reply, "References")
    if related != contact_id or match is None:
        raise SmokeFailed(
            f"the answer to the agent's reply became contact {answer_contact}, not linked to {contact_id} "
            f"(RelatedContactId {related or 'absent'}, sesThreadMatch {match or 'absent'}). Connect's "
            f"reply carried Message-ID {headers[0]}, In-Reply-To {headers[1] or 'none'}, References "
            f"{headers[2] or 'none'}: see docs/threading.md"
        )
    return ThreadResult(reply_contact, headers[0] or "", headers[1], headers[2], answer_contact, match)


def _header(message: Message, name: str) -> str | None:
    """The header's value unfolded (stored headers keep their line breaks), None when absent."""
    value = message.get(name)
    return None if value is None else " ".join(str(value).split())


def _marked(token: str) -> Callable[[Message], bool]:
    """The stored message that carries ``token`` in the smoke test's own header."""
    return lambda headers: headers.get(MARKER_HEADER, "").strip() == token


def _reply_to(token: str, mailbox: str) -> Callable[[Message], bool]:
    """The agent's reply as stored: to the smoke mailbox, about this test, without the test's header."""
    return lambda headers: (
        MARKER_HEADER not in headers
        and token in str(headers.get("Subject", ""))
        and mailbox.lower() in str(headers.get("To", "")).lower()
    )


class _Waiter:
    """Polls until a step answers something other than None, or the one deadline passes."""

    def __init__(
        self, clock: Callable[[], float], sleep: Callable[[float], None], deadline: float, poll: float
    ) -> None:
        self._clock, self._sleep, self._deadline, self._poll = clock, sleep, deadline, poll

    def until(self, step: Callable[[], _T | None]) -> _T | None:
        while True:
            answer = step()
            if answer is not None or self._clock() >= self._deadline:
                return answer
            self._sleep(self._poll)


def _stored(
    s3: Any,
    bucket: str,
    prefix: str,
    matches: Callable[[Message], bool],
    sent_at: datetime,
    *,
    checked: set[str],
) -> tuple[str, Message] | None:
    """(SES message id, the stored headers) of the object ``matches`` picks, once SES stored it.

    Objects in ``checked`` are not read again; the ones read here are added to it.
    """
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            if item["LastModified"] < sent_at - _SKEW or item["Key"] in checked:
                continue
            checked.add(item["Key"])
            head = s3.get_object(Bucket=bucket, Key=item["Key"], Range=f"bytes=0-{HEADER_BYTES - 1}")[
                "Body"
            ].read()
            headers = BytesHeaderParser().parsebytes(head)
            if matches(headers):
                return item["Key"][len(prefix) :], headers
    return None


def _contact(
    clients: Clients, outputs: Mapping[str, str], config: BridgeConfig, message_id: str, own_id: str
) -> str | None:
    """The contact the function created for the message; a quarantine ends the wait with its reason."""
    try:
        record = clients.s3.get_object(
            Bucket=outputs["MailBucketName"], Key=f"{config.function.quarantine_prefix}{message_id}.json"
        )
    except ClientError as exc:
        if error_code(exc) not in ("NoSuchKey", "404", "AccessDenied", "403"):
            raise
    else:
        reason = json.loads(record["Body"].read()).get("reason")
        raise SmokeFailed(f"the function quarantined the test email ({reason}): see the verdict policy")
    key = next(iter(message_ids(own_id)[-1:]), None)
    if key is None:
        return None
    item = clients.dynamodb.get_item(
        TableName=outputs["ThreadsTableName"], Key={"messageId": {"S": key}}
    ).get("Item")
    return None if item is None else str(item["contactId"]["S"])


def _attachment_status(clients: Clients, config: BridgeConfig, contact_id: str, file_name: str) -> str | None:
    """Connect's status of the attachment reference, once it is final (None while absent or pending)."""
    references = clients.connect.list_contact_references(
        InstanceId=config.connect_instance_id, ContactId=contact_id, ReferenceTypes=["ATTACHMENT"]
    ).get("ReferenceSummaryList", [])
    for reference in references:
        attachment = reference.get("Attachment") or {}
        status = attachment.get("Status")
        if attachment.get("Name") == file_name and status in (*_ATTACHMENT_DONE, *_ATTACHMENT_REFUSED):
            return str(status)
    return None
