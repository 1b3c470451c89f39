"""In-memory stand-ins for every port of ``ses_to_connect.ports``, and a scriptable Connect.

Each is at least as strict as the service it stands for where the pipeline's correctness
depends on it:

* :class:`ScriptableConnect` is a Connect *client*: the real
  :class:`~ses_to_connect.adapters.connect.ContactStarter` wraps it, so Connect's answers reach
  the pipeline through the adapter's own error translation. It mirrors the Connect emulator
  (``local_pipeline/connect_emulator.py``): the request is checked against the botocore model and
  Connect's limits, attachment URLs against their dates and their credentials *before* the
  ClientToken, a known token with the same parameters answers the contact it created and with
  other ones ``IdempotencyException``, and whether a refused request uses up its token is
  selectable (``refused_tokens``: "kept" or "forgotten"; AWS does not say).
* :class:`FakeLedger` keeps Powertools' idempotency semantics: a record in progress while the
  guarded call runs (deleted if the call raises, left in place by a process kill until its lock
  ends), then completed with the contact id; the first delivery saved wins.
* :class:`FakeAttachmentSink` signs URLs that carry ``X-Amz-Date``, ``X-Amz-Expires`` and the
  credentials of the "container" that signed them, and reports their lengths as the S3 store does.

A scripted :class:`ProcessKilled` ends the "process" at that point: it is a ``BaseException``,
so no ``except Exception`` of the code under test (nor Powertools' clean-up) sees it, as with an
out-of-memory kill or a timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

import botocore.session
from botocore.exceptions import ClientError

from ses_to_connect.adapters.connect import ContactStarter
from ses_to_connect.attachments import Candidate
from ses_to_connect.delivery import DeliveryRecord
from ses_to_connect.errors import AttachmentsRejected, DeliveryError, StorageError
from ses_to_connect.limits import check_request
from ses_to_connect.pipeline import Adapters, Pipeline
from ses_to_connect.thread_match import AgentReply, ThreadEntry, ThreadMatch
from ses_to_connect_tools.local_pipeline.connect_emulator import (
    ConnectError,
    ErrorCode,
    RefusedTokens,
    check_start_email_contact,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

    from ses_to_connect.settings import Settings

# Answers that refuse the request itself: under refused_tokens="kept" they use up its ClientToken.
REFUSALS = frozenset(
    {"InvalidRequestException", "ServiceQuotaExceededException", "ResourceNotFoundException"}
)
BUCKET = "mail-bucket"
URL_EXPIRY_SECONDS = 3600
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()


class ProcessKilled(BaseException):
    """The Lambda sandbox dies here (out of memory, timeout, SIGKILL)."""


class Clock:
    """Wall-clock seconds that a test moves on."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Faults:
    """Errors scripted for a fake's methods, each raised by one call, in order."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[BaseException]] = {}

    def fail(self, method: str, *errors: BaseException) -> None:
        self._queued.setdefault(method, deque()).extend(errors)

    def raise_next(self, method: str) -> None:
        queued = self._queued.get(method)
        if queued:
            raise queued.popleft()


# --- Connect -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    contact_id: str
    request: dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One StartEmailContact request and how it ended: the error code, or None (answered)."""

    token: str
    error: str | None
    created: bool = False  # this very request created a contact


@dataclass(frozen=True)
class _TokenUse:
    request: dict[str, Any]
    contact_id: str | None  # None: a refused request that used the token up (refused_tokens="kept")


@dataclass(frozen=True)
class _Refuse:
    code: ErrorCode
    reason: str | None


@dataclass(frozen=True)
class _AfterWork:
    """What happens once the contact is created or found: the answer lost (500), or no ContactId."""

    outcome: Literal["lose", "kill", "no_id"]


_Step = _Refuse | _AfterWork | BaseException


class ScriptableConnect:
    """Connect's StartEmailContact, in memory, with the answers a test scripts (see the module)."""

    def __init__(self, clock: Clock, refused_tokens: RefusedTokens = "forgotten") -> None:
        self.refused_tokens = refused_tokens
        self.contacts: list[Contact] = []
        self.calls: list[Call] = []
        self.expired_credentials: set[str] = set()  # access key ids whose role session ended
        self.known_contact_ids: set[str] = set()  # contacts Connect holds besides those created here
        self._clock = clock
        self._tokens: dict[str, _TokenUse] = {}
        self._script: deque[_Step] = deque()
        self._ids = (f"contact-{n}" for n in itertools.count(1))
        operation = (
            botocore.session.get_session().get_service_model("connect").operation_model("StartEmailContact")
        )
        self._status = {
            shape.name: shape.metadata["error"]["httpStatusCode"] for shape in operation.error_shapes
        }
        # Where botocore puts each reason: the member of the error's Reason union that names it.
        self._reason_members = {
            reason: name
            for shape in operation.error_shapes
            if "Reason" in shape.members
            for name, member in shape.members["Reason"].members.items()
            for reason in member.metadata.get("enum", ())
        }

    # What the next requests meet, in order.

    def refuse(self, code: ErrorCode, reason: str | None = None, *, count: int = 1) -> None:
        """Refuse the next requests as Connect refuses an invalid one (``refused_tokens`` applies)."""
        self._script.extend(_Refuse(code, reason) for _ in range(count))

    def fail(self, code: ErrorCode, *, count: int = 1) -> None:
        """Fail the next requests before any work (throttling, 5xx, access denied)."""
        self._script.extend(ConnectError(code, "Scripted fault") for _ in range(count))

    def kill_before(self) -> None:
        """The process dies as the next request is about to be sent."""
        self._script.append(ProcessKilled("killed before StartEmailContact"))

    def lose_answer(self) -> None:
        """The next request's work is done, its answer lost (a 500, a read timeout)."""
        self._script.append(_AfterWork("lose"))

    def kill_after(self) -> None:
        """The next request's work is done, then the process dies before it reads the answer."""
        self._script.append(_AfterWork("kill"))

    def answer_without_id(self) -> None:
        """The next request's work is done, and Connect answers 200 without a ContactId."""
        self._script.append(_AfterWork("no_id"))

    # The client's operation, as the adapter calls it.

    def start_email_contact(self, **request: Any) -> dict[str, Any]:
        step = self._script.popleft() if self._script else None
        token = str(request.get("ClientToken"))
        if isinstance(step, ConnectError):
            self.calls.append(Call(token, step.code))
            raise self._client_error(step)
        if isinstance(step, BaseException):
            raise step
        try:
            if isinstance(step, _Refuse):
                raise ConnectError(step.code, "Scripted refusal", step.reason)
            check_start_email_contact(request)
            self._check_urls(request)
            contact_id, created = self._create_or_replay(token, request)
        except ConnectError as refused:
            if self.refused_tokens == "kept" and refused.code in REFUSALS and token not in self._tokens:
                self._tokens[token] = _TokenUse(request, None)
            self.calls.append(Call(token, refused.code))
            raise self._client_error(refused) from None
        outcome = step.outcome if isinstance(step, _AfterWork) else None
        self.calls.append(Call(token, "InternalServiceException" if outcome == "lose" else None, created))
        if outcome == "lose":
            raise self._client_error(ConnectError("InternalServiceException", "the answer was lost"))
        if outcome == "kill":
            raise ProcessKilled("killed after Connect answered")
        return {} if outcome == "no_id" else {"ContactId": contact_id}

    def _create_or_replay(self, token: str, request: dict[str, Any]) -> tuple[str, bool]:
        used = self._tokens.get(token)
        if used is not None and used.request != request:
            raise ConnectError(
                "IdempotencyException", "The ClientToken was already used with different parameters"
            )
        if used is not None and used.contact_id is not None:
            return used.contact_id, False
        related = request.get("RelatedContactId")
        if related is not None and related not in self.known_contact_ids | {
            c.contact_id for c in self.contacts
        }:
            raise ConnectError("ResourceNotFoundException", f"RelatedContactId {related} was not found")
        contact = Contact(next(self._ids), request)
        self.contacts.append(contact)
        self._tokens[token] = _TokenUse(
            request, contact.contact_id
        )  # a kept refusal of the same request gives way
        return contact.contact_id, True

    def _check_urls(self, request: Mapping[str, Any]) -> None:
        for index, attachment in enumerate(request.get("Attachments", [])):
            query = parse_qs(urlsplit(attachment["S3Url"]).query)
            signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expired = signed.timestamp() + int(query["X-Amz-Expires"][0]) <= self._clock()
            if expired or query["X-Amz-Credential"][0].split("/")[0] in self.expired_credentials:
                raise ConnectError(
                    "InvalidRequestException",
                    f"Attachments[{index}].S3Url cannot be downloaded: access denied",
                )

    def _client_error(self, error: ConnectError) -> ClientError:
        """The error as botocore hands it to the adapter."""
        response: dict[str, Any] = {
            "Error": {"Code": error.code, "Message": error.message},
            "ResponseMetadata": {"HTTPStatusCode": self._status[error.code]},
        }
        if error.reason is not None:
            response["Reason"] = {self._reason_members[error.reason]: error.reason}
        return ClientError(response, "StartEmailContact")

    def created_for(self, message_id: str) -> list[Contact]:
        return [c for c in self.contacts if c.request["Attributes"]["sesMessageId"] == message_id]


# --- S3 ----------------------------------------------------------------------------------------------------


class FakeMailStorage:
    """The bucket's stored mail (:class:`~ses_to_connect.ports.MailStorage`)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self.faults = Faults()

    def read_chunks(self, key: str) -> Iterator[bytes]:
        self.faults.raise_next("read_chunks")
        if key not in self.objects:
            # What the S3 adapter makes of NoSuchKey (or AccessDenied without s3:ListBucket).
            raise StorageError(
                f"cannot read s3://{BUCKET}/{key}: NoSuchKey", code="NoSuchKey", retryable=False
            )
        data = self.objects[key]
        yield from (data[start : start + 256 * 1024] for start in range(0, max(len(data), 1), 256 * 1024))

    def quarantine(self, source_key: str, target_key: str, reason: str, message_id: str) -> None:
        self.faults.raise_next("quarantine")
        self.objects[target_key] = self.objects[source_key]
        self.metadata[target_key] = {"quarantine-reason": reason, "ses-message-id": message_id}

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        self.faults.raise_next("put_json")
        self.objects[key] = json.dumps(document, sort_keys=True).encode()

    @property
    def quarantine_reasons(self) -> list[str]:
        return [metadata["quarantine-reason"] for metadata in self.metadata.values()]


class FakeAttachmentSink:
    """Attachment objects and their pre-signed URLs (:class:`~ses_to_connect.ports.AttachmentSink`).

    ``credentials`` is the access key id the "container" signs with: a new container, a new one.
    Every store is kept as a version, as in the stack's versioned bucket.
    """

    def __init__(self, clock: Clock, credentials: str = "container-1") -> None:
        self.credentials = credentials
        self.versions: dict[str, list[bytes]] = {}
        self.faults = Faults()
        self._clock = clock
        self._url_lengths: list[int] = []

    @contextlib.contextmanager
    def uploads(self) -> Iterator[FakeAttachmentSink]:
        yield self

    def make_room(self, size: int) -> None:
        """Stores finish at once: there is always room."""

    def store(self, key: str, candidate: Candidate, data: bytes) -> str:
        self.faults.raise_next("store")
        self.versions.setdefault(key, []).append(data)
        url = self.sign(key)
        self._url_lengths.append(len(url))
        return url

    def sign(self, key: str) -> str:
        signed = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y%m%dT%H%M%SZ")
        credential = f"{self.credentials}/{signed[:8]}/us-east-1/s3/aws4_request"
        signature = hashlib.sha256(f"{key}\n{signed}\n{credential}".encode()).hexdigest()
        return (
            f"https://{BUCKET}.s3.amazonaws.com/{quote(key)}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={quote(credential, safe='')}&X-Amz-Date={signed}"
            f"&X-Amz-Expires={URL_EXPIRY_SECONDS}&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
        )

    def take_url_lengths(self) -> list[int]:
        lengths, self._url_lengths = self._url_lengths, []
        return lengths


# --- DynamoDB ----------------------------------------------------------------------------------------------


@dataclass
class _Record:
    status: Literal["INPROGRESS", "COMPLETED"]
    contact_id: str | None = None
    in_progress_until: float = 0.0


class FakeLedger:
    """The idempotency table (:class:`~ses_to_connect.ports.Ledger`) with Powertools' record semantics.

    ``in_progress_seconds`` is the lock a record in progress holds (the ledger's cap: the longest
    the guarded Connect call can take). Deliveries are kept as the JSON the table stores.
    """

    def __init__(self, clock: Clock, in_progress_seconds: float = 137.0) -> None:
        self.deliveries: dict[str, str] = {}
        self.records: dict[str, _Record] = {}
        self.faults = Faults()
        self._clock = clock
        self._in_progress_seconds = in_progress_seconds

    def register_context(self, context: LambdaContext) -> None:
        """The lock does not depend on the invocation's time left here."""

    def known_contact(self, token: str) -> list[str] | None:
        record = self.records.get(token)
        if record is None or record.status != "COMPLETED":
            return None
        return [] if record.contact_id is None else [record.contact_id]

    def delivery(self, message_id: str) -> DeliveryRecord | None:
        stored = self.deliveries.get(message_id)
        return None if stored is None else DeliveryRecord.from_json(stored)

    def save_delivery(self, message_id: str, delivery: DeliveryRecord, *, first: bool) -> DeliveryRecord:
        self.faults.raise_next("save_delivery")
        if first and message_id in self.deliveries:
            return DeliveryRecord.from_json(self.deliveries[message_id])
        self.deliveries[message_id] = delivery.to_json()
        return delivery

    def start_once(
        self,
        request: StartEmailContactRequestTypeDef,
        start: Callable[[StartEmailContactRequestTypeDef], str | None],
    ) -> str | None:
        token = request["ClientToken"]
        record = self.records.get(token)
        if record is not None and record.status == "COMPLETED":
            return record.contact_id
        if record is not None and self._clock() < record.in_progress_until:
            raise DeliveryError(
                "another invocation is creating this contact", code="InProgress", retryable=True
            )
        self.records[token] = _Record(
            "INPROGRESS", in_progress_until=self._clock() + self._in_progress_seconds
        )
        try:
            contact_id = start(request)
        except Exception:  # Powertools deletes the record of a call that raised; a kill leaves it
            del self.records[token]
            raise
        self.faults.raise_next("save_success")  # the record then stays in progress until its lock ends
        self.records[token] = _Record("COMPLETED", contact_id)
        return contact_id


class FakeThreadStore:
    """The thread index (:class:`~ses_to_connect.ports.ThreadStore`)."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[str, str, ThreadMatch]] = {}  # message id -> contact, root, how
        self.customers: dict[str, list[str]] = {}
        self.faults = Faults()

    def entries(self, message_ids: list[str]) -> dict[str, ThreadEntry]:
        self.faults.raise_next("entries")
        return {m: ThreadEntry(self.items[m][1], self.items[m][2]) for m in message_ids if m in self.items}

    def remember(self, message_id: str, contact_id: str, root_contact_id: str) -> None:
        self.faults.raise_next("remember")
        self.items[message_id] = (contact_id, root_contact_id, ThreadMatch.REFERENCES)

    def remember_agent_reply(self, message_id: str, contact_id: str, root_contact_id: str) -> None:
        self.items[message_id] = (contact_id, root_contact_id, ThreadMatch.AGENT_REPLY)

    def customer_threads(self, address: str) -> list[str]:
        return list(self.customers.get(address.lower(), []))

    def remember_customer_thread(self, address: str, root_contact_id: str) -> None:
        roots = [root_contact_id, *(r for r in self.customer_threads(address) if r != root_contact_id)]
        self.customers[address.lower()] = roots[:3]


# --- Connect's agent replies, SQS --------------------------------------------------------------------------


@dataclass
class FakeAgentReplies:
    """Agents' replies Connect holds (:class:`~ses_to_connect.ports.AgentReplyFinder`)."""

    replies: list[AgentReply] = field(default_factory=list)

    def find(self, roots: list[str], wanted: Collection[str]) -> list[AgentReply]:
        found: list[AgentReply] = []
        for root in roots:
            for reply in (r for r in self.replies if r.root_contact_id == root):
                found.append(reply)
                if reply.message_id in wanted:
                    return found
        return found


@dataclass
class FakeFailureQueue:
    """The failure queue (:class:`~ses_to_connect.ports.FailureDestination`)."""

    records: list[dict[str, Any]] = field(default_factory=list)

    def send(self, record: dict[str, Any]) -> None:
        self.records.append(json.loads(json.dumps(record)))  # what SQS keeps is its JSON


# --- All of them -------------------------------------------------------------------------------------------


class FilesRefusingConnect:
    """The Connect port (where ``ContactStarter`` stands) refusing every request that carries files,
    for ``reason``, as Connect refuses a file type or size; the others create contacts once checked
    against Connect's limits. For property tests that need every destination's fallback, not a
    script of calls."""

    def __init__(self, reason: str | None = "INVALID_FILE_TYPE") -> None:
        self.reason = reason  # None: files are taken
        self.created: list[StartEmailContactRequestTypeDef] = []

    def start(self, request: StartEmailContactRequestTypeDef) -> str:
        if self.reason and request.get("Attachments"):
            raise AttachmentsRejected("refused", code="InvalidRequestException", reason=self.reason)
        problems = check_request(request)
        if problems:
            raise AssertionError(f"Connect would refuse it: {problems}")
        self.created.append(request)
        return f"contact-{len(self.created)}"


@dataclass
class FakeWorld:
    """The services one message meets, shared by every invocation (container) that handles it."""

    refused_tokens: RefusedTokens = "forgotten"
    with_ledger: bool = True
    clock: Clock = field(default_factory=Clock)
    store: FakeMailStorage = field(default_factory=FakeMailStorage)
    threads: FakeThreadStore = field(default_factory=FakeThreadStore)
    replies: FakeAgentReplies = field(default_factory=FakeAgentReplies)
    failures: FakeFailureQueue = field(default_factory=FakeFailureQueue)
    connect: ScriptableConnect = field(init=False)
    attachments: FakeAttachmentSink = field(init=False)
    ledger: FakeLedger | None = field(init=False)
    _containers: Iterator[int] = field(init=False, default_factory=lambda: itertools.count(2))

    def __post_init__(self) -> None:
        self.connect = ScriptableConnect(self.clock, self.refused_tokens)
        self.attachments = FakeAttachmentSink(self.clock)
        self.ledger = FakeLedger(self.clock) if self.with_ledger else None

    def new_container(self) -> None:
        """A retry in a new container: a new role session signs with other credentials."""
        self.attachments.credentials = f"container-{next(self._containers)}"

    def pipeline(self, settings: Settings) -> Pipeline:
        adapters = Adapters(
            store=self.store,
            attachments=self.attachments,
            contacts=ContactStarter(self.connect),
            ledger=self.ledger,
            threads=self.threads,
            failures=self.failures,
            replies=self.replies,
        )
        return Pipeline(settings, adapters, clock=self.clock)
