"""The emulator's agent replies: ``CreateContact`` (EMAIL, ``AGENT_REPLY``), ``StartOutboundEmailContact``,
the message Connect keeps of each reply (``ListContactReferences`` ``EMAIL_MESSAGE`` + ``GetAttachedFile``)
and a thread's contacts (``ListAssociatedContacts``).

What Connect puts in the headers of the email an agent's reply sends is not documented
(docs/threading.md), so the emulator implements each reading, selectable:

* ``threading="headers"``: ``In-Reply-To`` names the answered contact's ``MESSAGE_ID`` and
  ``References`` is its ``REFERENCES`` plus that id, as RFC 5322 section 3.6.4 asks of a reply;
  ``"none"``: neither header, the reply names nothing of the customer's.
* ``stored="mime"``: the message kept for the reply contact is the MIME sent, ``Message-ID``
  included; ``"json"``: a JSON summary without it (what an export of the fields would be).

The sent message has a ``Message-ID`` in the form Amazon SES gives the mail it sends,
``<id@email.amazonses.com>``, and goes to the ``outbound`` callable (the local pipeline's SES).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from email.utils import formataddr, formatdate
from typing import Any, Literal, Protocol, get_args

Threading = Literal["headers", "none"]
Stored = Literal["mime", "json"]
# Sends one message: its bytes and its recipients (To and Cc).
Outbound = Callable[[bytes, list[str]], None]
FILES_PATH = "/_emulator/files/"
# Ids are written whole (RFC 5322 allows 998 characters a line); the default policy would encode a long one.
IDENTIFIERS = default.clone(max_line_length=998)


class InboundContact(Protocol):
    """What the helpers read of a contact ``StartEmailContact`` created."""

    @property
    def contact_id(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...


@dataclass
class ReplyContact:
    """An agent reply created with CreateContact; ``sent`` once StartOutboundEmailContact ran."""

    contact_id: str
    params: dict[str, Any]
    root_contact_id: str
    created_at: float
    sent: bytes | None = None
    file_id: str | None = None
    send_token: tuple[str, str] | None = None  # (ClientToken, parameters as JSON) of the send

    @property
    def related_contact_id(self) -> str:
        return str(self.params["RelatedContactId"])


class AgentReplyDesk:
    """The agent replies of one emulator; thread-safe."""

    def __init__(
        self,
        *,
        fault: Callable[[Any, str], Exception],
        inbound: Callable[[str, str], InboundContact | None],
        addresses: Callable[[str], frozenset[str] | None],
        instance_arn: Callable[[str], str],
        wall_clock: Callable[[], float],
    ) -> None:
        self._fault = fault
        self._instance_arn = instance_arn
        self._inbound = inbound
        self._addresses = addresses
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._replies: dict[str, ReplyContact] = {}
        self._files: dict[str, bytes] = {}
        self._tokens: dict[
            str, tuple[str, str]
        ] = {}  # CreateContact ClientToken -> (params JSON, contact id)
        self.threading: Threading = "headers"
        self.stored: Stored = "mime"
        self.outbound: Outbound | None = None

    def configure(self, threading_reading: Threading, stored: Stored) -> None:
        if threading_reading not in get_args(Threading) or stored not in get_args(Stored):
            raise ValueError(
                f"threading must be one of {get_args(Threading)}, stored one of {get_args(Stored)}"
            )
        with self._lock:
            self.threading, self.stored = threading_reading, stored

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self._files.clear()
            self._tokens.clear()
            self.threading, self.stored = "headers", "mime"

    def replies(self) -> list[ReplyContact]:
        with self._lock:
            return list(self._replies.values())

    def reply(self, instance_id: str, contact_id: str) -> ReplyContact | None:
        with self._lock:
            found = self._replies.get(contact_id)
        return found if found is not None and found.params["InstanceId"] == instance_id else None

    def file(self, file_id: str) -> bytes | None:
        with self._lock:
            return self._files.get(file_id)

    # CreateContact

    def create_contact(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if params["Channel"] != "EMAIL" or params["InitiationMethod"] != "AGENT_REPLY":
            # Emulator restriction: only what an agent's reply needs.
            raise self._fault(
                "InvalidRequestException", "The emulator creates EMAIL AGENT_REPLY contacts only"
            )
        if not (params.get("UserInfo") or {}).get("UserId"):
            # "UserInfo is required when creating an EMAIL contact with OUTBOUND and AGENT_REPLY".
            raise self._fault(
                "InvalidRequestException", "UserInfo is required for an AGENT_REPLY email contact"
            )
        related = params.get("RelatedContactId")
        if related is None:
            raise self._fault(
                "InvalidRequestException", "An AGENT_REPLY contact needs the RelatedContactId it answers"
            )
        root = self.root_of(params["InstanceId"], related)
        if root is None:
            raise self._fault("ResourceNotFoundException", f"RelatedContactId {related} was not found")
        token = params.get("ClientToken")
        body = json.dumps(params, sort_keys=True)
        with self._lock:
            if isinstance(token, str) and token in self._tokens:
                earlier, contact_id = self._tokens[token]
                if earlier != body:
                    raise self._fault(
                        "IdempotencyException", "The ClientToken was already used with other parameters"
                    )
                return {
                    "ContactId": contact_id,
                    "ContactArn": self.contact_arn(params["InstanceId"], contact_id),
                }
            contact = ReplyContact(str(uuid.uuid4()), dict(params), root, self._wall_clock())
            self._replies[contact.contact_id] = contact
            if isinstance(token, str):
                self._tokens[token] = (body, contact.contact_id)
        return {
            "ContactId": contact.contact_id,
            "ContactArn": self.contact_arn(params["InstanceId"], contact.contact_id),
        }

    def root_of(self, instance_id: str, contact_id: str) -> str | None:
        """The first contact of the thread ``contact_id`` is in (its association), None if unknown."""
        reply = self.reply(instance_id, contact_id)
        if reply is not None:
            return reply.root_contact_id
        seen: set[str] = set()
        current = self._inbound(instance_id, contact_id)
        while current is not None and current.contact_id not in seen:
            seen.add(current.contact_id)
            parent = current.params.get("RelatedContactId")
            found = None if parent is None else self._inbound(instance_id, parent)
            if found is None:
                return current.contact_id
            current = found
        return None

    # StartOutboundEmailContact

    def start_outbound(self, params: Mapping[str, Any]) -> dict[str, Any]:
        instance_id, contact_id = params["InstanceId"], params["ContactId"]
        reply = self.reply(instance_id, contact_id)
        if reply is None:
            raise self._fault("ResourceNotFoundException", f"Contact {contact_id} was not found")
        message = params["EmailMessage"]
        if message["MessageSourceType"] != "RAW" or "RawMessage" not in message:
            raise self._fault(
                "InvalidRequestException", "The emulator sends RAW messages only (no templates)"
            )
        token = (str(params.get("ClientToken", "")), json.dumps(params, sort_keys=True))
        sender = (params.get("FromEmailAddress") or {}).get("EmailAddress")
        answered = self._inbound(instance_id, reply.related_contact_id)
        if sender is None and answered is not None:
            sender = answered.params["DestinationEmailAddress"]
        known = self._addresses(instance_id)
        if sender is None or (known is not None and sender not in known):
            raise self._fault(
                "ResourceNotFoundException", "FromEmailAddress is not an email address of this instance"
            )
        with self._lock:
            if reply.sent is not None:
                if reply.send_token == token:
                    return {"ContactId": contact_id}
                raise self._fault("InvalidRequestException", f"Contact {contact_id} was already sent")
            raw, recipients = self._mime(params, sender, answered)
            reply.sent, reply.send_token, reply.file_id = raw, token, uuid.uuid4().hex
            self._files[reply.file_id] = raw if self.stored == "mime" else self._summary(params, sender)
            outbound = self.outbound
        if outbound is not None:
            outbound(raw, recipients)
        return {"ContactId": contact_id}

    def _mime(
        self, params: Mapping[str, Any], sender: str, answered: InboundContact | None
    ) -> tuple[bytes, list[str]]:
        """The email Connect sends for the reply (hold the lock)."""
        raw_message = params["EmailMessage"]["RawMessage"]
        source = params.get("FromEmailAddress") or {}
        destination = params["DestinationEmailAddress"]
        cc = [
            item["EmailAddress"]
            for item in (params.get("AdditionalRecipients") or {}).get("CcEmailAddresses", [])
        ]
        mail = EmailMessage(policy=IDENTIFIERS)
        mail["From"] = formataddr((source.get("DisplayName", ""), sender))
        mail["To"] = formataddr((destination.get("DisplayName", ""), destination["EmailAddress"]))
        if cc:
            mail["Cc"] = ", ".join(cc)
        mail["Subject"] = raw_message["Subject"]
        mail["Date"] = formatdate(self._wall_clock(), usegmt=True)
        mail["Message-ID"] = f"<{uuid.uuid4().hex}-000000@email.amazonses.com>"
        headers = (
            ((answered.params.get("EmailMessage") or {}).get("RawMessage") or {}).get("Headers", {})
            if answered
            else {}
        )
        if self.threading == "headers" and headers.get("MESSAGE_ID"):
            mail["In-Reply-To"] = headers["MESSAGE_ID"]
            mail["References"] = " ".join(filter(None, (headers.get("REFERENCES"), headers["MESSAGE_ID"])))
        subtype = "html" if raw_message["ContentType"] == "text/html" else "plain"
        mail.set_content(raw_message["Body"], subtype=subtype)
        return bytes(mail), [destination["EmailAddress"], *cc]

    def _summary(self, params: Mapping[str, Any], sender: str) -> bytes:
        raw_message = params["EmailMessage"]["RawMessage"]
        return json.dumps(
            {"from": sender, "to": params["DestinationEmailAddress"]["EmailAddress"], **raw_message}
        ).encode()

    # Reads

    def associated(self, instance_id: str, root: str) -> list[dict[str, Any]]:
        """Summaries of the agent replies in the thread of ``root``, oldest first."""
        with self._lock:
            replies = [
                r
                for r in self._replies.values()
                if r.params["InstanceId"] == instance_id and r.root_contact_id == root
            ]
        return [
            {
                "ContactId": reply.contact_id,
                "ContactArn": self.contact_arn(instance_id, reply.contact_id),
                "InitiationTimestamp": reply.created_at,
                "RelatedContactId": reply.related_contact_id,
                "InitiationMethod": "AGENT_REPLY",
                "Channel": "EMAIL",
            }
            for reply in sorted(replies, key=lambda r: r.created_at)
        ]

    def email_message_reference(self, reply: ReplyContact) -> dict[str, Any] | None:
        if reply.file_id is None:
            return None
        arn = f"{self._instance_arn(reply.params['InstanceId'])}/file/{reply.file_id}"
        return {"EmailMessage": {"Name": f"{reply.contact_id}.eml", "Arn": arn}}

    def attached_file(self, params: Mapping[str, Any], url: str) -> dict[str, Any]:
        with self._lock:
            owner = next((r for r in self._replies.values() if r.file_id == params["FileId"]), None)
        if owner is None or owner.params["InstanceId"] != params["InstanceId"] or owner.file_id is None:
            raise self._fault("ResourceNotFoundException", f"File {params['FileId']} was not found")
        if params["AssociatedResourceArn"] != self.contact_arn(owner.params["InstanceId"], owner.contact_id):
            raise self._fault("ResourceNotFoundException", "The file is not associated with that resource")
        data = self.file(owner.file_id) or b""
        return {
            "FileArn": f"{self._instance_arn(owner.params['InstanceId'])}/file/{owner.file_id}",
            "FileId": owner.file_id,
            "FileStatus": "APPROVED",
            "FileName": f"{owner.contact_id}.eml",
            "FileSizeInBytes": len(data),
            "FileUseCaseType": "EMAIL_MESSAGE",
            "AssociatedResourceArn": params["AssociatedResourceArn"],
            "DownloadUrlMetadata": {"Url": f"{url}{FILES_PATH}{owner.file_id}"},
        }

    def contact_arn(self, instance_id: str, contact_id: str) -> str:
        return f"{self._instance_arn(instance_id)}/contact/{contact_id}"
