"""Agents' replies in Connect: the Message-ID of each reply sent in a customer's recent threads.

Connect documents no API that names the Message-ID of the email an agent's reply sent. It does
keep each email contact's message (``ListContactReferences`` type ``EMAIL_MESSAGE``, downloaded
with ``GetAttachedFile``), and ``ListAssociatedContacts`` lists a thread's contacts with their
``InitiationMethod`` (``AGENT_REPLY`` for an agent's reply). This adapter reads the header block
of that stored message and takes its ``Message-ID``. Whether the stored copy carries the id the
customer receives is unverified (docs/threading.md): if it carries none, nothing is learned and
nothing links. A lookup never fails the email: a refused or broken read ends the search with what
was found so far, and is logged.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from email.parser import BytesHeaderParser
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from ses_to_connect.headers import message_ids
from ses_to_connect.thread_match import AgentReply

logger = Logger(child=True)

MAX_REPLIES_PER_THREAD = 5  # the newest agent replies of each thread are read, no more
HEADER_BYTES = 64 * 1024
MAX_MESSAGE_ID = 998
_DOWNLOAD_TIMEOUT_SECONDS = 5.0
_URL_EXPIRY_SECONDS = 60


def download_head(url: str) -> bytes:
    """The first ``HEADER_BYTES`` of the file at a pre-signed URL (Connect's, so https in AWS)."""
    import urllib.request  # noqa: PLC0415 - only a reply to an unknown message needs it

    request = urllib.request.Request(url, headers={"Range": f"bytes=0-{HEADER_BYTES - 1}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_SECONDS) as response:  # noqa: S310
        return bytes(response.read(HEADER_BYTES))


class AgentReplies:
    def __init__(
        self, client: Any, instance_id: str, download: Callable[[str], bytes] = download_head
    ) -> None:
        self._client = client
        self._instance_id = instance_id
        self._download = download

    def find(self, roots: list[str], wanted: Collection[str]) -> list[AgentReply]:
        """Agent replies in the threads of ``roots`` (in order), until one has an id in ``wanted``."""
        found: list[AgentReply] = []
        try:
            for root in roots:
                for contact_id, contact_arn in self._replies(root):
                    message_id = self._sent_message_id(contact_id, contact_arn)
                    if message_id is None:
                        continue
                    found.append(AgentReply(message_id, contact_id, root))
                    if message_id in wanted:
                        return found
        except (ClientError, BotoCoreError, OSError, KeyError, ValueError) as exc:
            logger.warning("cannot read agent replies from Connect", extra={"error": type(exc).__name__})
        return found

    def _replies(self, root: str) -> list[tuple[str, str]]:
        """(contact id, ARN) of the thread's agent replies, newest first."""
        summaries = self._client.list_associated_contacts(
            InstanceId=self._instance_id, ContactId=root, MaxResults=100
        ).get("ContactSummaryList", [])
        replies = [
            s
            for s in summaries
            if s.get("InitiationMethod") == "AGENT_REPLY"
            and s.get("Channel") == "EMAIL"
            and s.get("ContactArn")
        ]
        replies.sort(key=lambda s: str(s.get("InitiationTimestamp", "")), reverse=True)
        return [(str(s["ContactId"]), str(s["ContactArn"])) for s in replies[:MAX_REPLIES_PER_THREAD]]

    def _sent_message_id(self, contact_id: str, contact_arn: str) -> str | None:
        """The Message-ID of the message Connect stored for the reply; None if there is not exactly one."""
        references = self._client.list_contact_references(
            InstanceId=self._instance_id, ContactId=contact_id, ReferenceTypes=["EMAIL_MESSAGE"]
        ).get("ReferenceSummaryList", [])
        arns = [r["EmailMessage"]["Arn"] for r in references if r.get("EmailMessage", {}).get("Arn")]
        if len(arns) != 1:
            return None
        answer = self._client.get_attached_file(
            InstanceId=self._instance_id,
            FileId=arns[0].rsplit("/", 1)[-1],
            AssociatedResourceArn=contact_arn,
            UrlExpiryInSeconds=_URL_EXPIRY_SECONDS,
        )
        url = answer.get("DownloadUrlMetadata", {}).get("Url")
        if answer.get("FileStatus") != "APPROVED" or not url:
            return None
        headers = BytesHeaderParser().parsebytes(self._download(url))
        ids = message_ids(str(headers.get("Message-ID", "")))
        # One id, within a header line's 998 characters: it becomes a thread-index key.
        return ids[0] if len(ids) == 1 and len(ids[0]) <= MAX_MESSAGE_ID else None
