"""Local stand-in for Amazon Connect ``StartEmailContact`` (``PUT /contact/email``, rest-json).

Design
------
* The emulator is Connect as the documentation and the botocore model describe it, never the
  function's view of it: it states Connect's limits itself (``connect_validation``) and imports
  nothing of ``ses_to_connect``, so that a limit the function gets wrong fails against it.
* Its parts, one idea each, beside this module: ``connect_http`` (the server on 127.0.0.1 and the
  routes: callers use an unmodified ``boto3.client("connect", endpoint_url=emulator.url, ...)``),
  ``connect_validation`` (every documented limit, then the botocore model; the modeled errors),
  ``connect_attachments`` (pre-signed URLs checked and downloaded), ``connect_instance_config``
  (flows, each address's flow, the attached-files configuration) and ``agent_replies``. This
  module holds the contacts: creation, idempotency, throttling, injected faults, and the
  read-only operations that answer from them.
* Errors go out the rest-json way: the model's HTTP status, an ``x-amzn-ErrorType`` header (what
  ``RestJSONParser`` reads for the code) and a JSON body with ``message`` (what botocore copies into
  ``Error.Message``), ``Message`` (the modeled member) and, where modeled, the ``Reason`` union, which
  botocore parses into ``response["Reason"]``.
* Read-only operations the operators' preflight and smoke test need (``DescribeInstance``,
  ``ListInstanceStorageConfigs``, ``SearchEmailAddresses``, ``DescribeContact``,
  ``GetContactAttributes``, ``ListContactReferences``) answer from the same state: the known
  instances, their addresses and storage, and the contacts created. Agents' replies
  (``CreateContact``, ``StartOutboundEmailContact``, ``ListAssociatedContacts``, the reply's stored
  message) and the instance configuration's reads (``DescribeContactFlow``, ``GetFlowAssociation``,
  ``DescribeAttachedFilesConfiguration``) are answered the same way. Their input is checked against
  the botocore model like StartEmailContact's; they never throttle and take no injected faults.
* Order of work per request: injected fault, access key, token bucket, validation, instance and address,
  pre-signed attachment URLs (signature, X-Amz-Date + X-Amz-Expires, the signing key's expiry), idempotency,
  RelatedContactId (must be a contact of this emulator), attachment downloads (loopback hosts only), contact
  recorded, lost answer (or an answer without ``ContactId``) or delay, response. The delay comes after the
  contact is recorded on purpose: it reproduces what a read timeout means in production (the contact
  exists but the caller never learns its id), which only a stable ClientToken makes safe to retry.
* At least as strict as Connect where Connect's behaviour is undocumented (docs/exactly-once.md):
  the URLs are checked *before* the idempotency check, so a retry that replays stale URLs is refused
  even when its token is known; whether a refused request uses up its ClientToken is selectable
  (``refused_tokens="kept"``: a later request with the token and other parameters gets
  IdempotencyException; ``"forgotten"``: the token stays free); tokens are remembered for
  ``idempotency_window`` seconds (default 24 hours: Lambda retries an event for up to 6 hours; Connect
  documents 7 days for other Start* calls and nothing for StartEmailContact).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, get_args

from ses_to_connect_tools.local_pipeline.agent_replies import (
    FILES_PATH,
    AgentReplyDesk,
    Outbound,
    ReplyContact,
    Stored,
    Threading,
)
from ses_to_connect_tools.local_pipeline.connect_attachments import (
    AttachmentDigest,
    SigningKey,
    check_presigned,
    download_all,
)
from ses_to_connect_tools.local_pipeline.connect_http import Answer, Server, handler_class
from ses_to_connect_tools.local_pipeline.connect_instance_config import (
    AttachedFiles,
    Flow,
    InstanceConfiguration,
    email_address_id,
)
from ses_to_connect_tools.local_pipeline.connect_validation import (
    ERROR_CODES,
    HEADER_KEYS,
    MAX_TOTAL_ATTACHMENT_BYTES,
    ConnectError,
    ErrorCode,
    ReadErrorCode,
    check_model,
    check_start_email_contact,
    operation_model,
    server_side_limits,
)

__all__ = [
    "DEFAULT_TOKEN_WINDOW_SECONDS",
    "ERROR_CODES",
    "HEADER_KEYS",
    "Attempt",
    "ConnectEmulator",
    "ConnectError",
    "EmailContact",
    "ErrorCode",
    "RefusedTokens",
    "SigningKey",
    "check_start_email_contact",
    "main",
    "server_side_limits",
]

_LOG = logging.getLogger(__name__)

DEFAULT_TOKEN_WINDOW_SECONDS = 24 * 3600.0
# Answers that refuse the request itself; with refused_tokens="kept" they use up its ClientToken.
_REFUSALS = frozenset(
    {"InvalidRequestException", "ServiceQuotaExceededException", "ResourceNotFoundException"}
)
RefusedTokens = Literal["kept", "forgotten"]
# What an instance needs for the email channel (Connect admin guide): storage for both.
EMAIL_STORAGE_TYPES = ("EMAIL_MESSAGES", "ATTACHMENTS")


@dataclass(frozen=True)
class EmailContact:
    """One contact the emulator created."""

    contact_id: str
    sequence: int  # 1-based creation order since the last reset
    params: dict[str, Any]  # the request body as received, ClientToken included
    attachments: tuple[AttachmentDigest, ...]


@dataclass(frozen=True)
class Attempt:
    """One StartEmailContact request and how it was answered (for retry assertions)."""

    status: int
    error: ErrorCode | ReadErrorCode | None


@dataclass(frozen=True)
class _TokenUse:
    params: dict[str, Any]
    contact_id: str | None  # None: the request was refused (refused_tokens="kept")
    at: float


class TokenBucket:
    """``rate`` requests a second on average, ``burst`` at once; thread-safe."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def try_take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


# --- The emulator ----------------------------------------------------------------------------------------


class ConnectEmulator:
    """Amazon Connect ``StartEmailContact`` on 127.0.0.1; use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        port: int = 0,
        instances: Mapping[str, Collection[str]] | None = None,
        rate: float | None = None,
        burst: int = 5,
        max_attachments: int = 10,
        max_attachment_bytes: int | None = None,
        max_total_attachment_bytes: int = MAX_TOTAL_ATTACHMENT_BYTES,
        allowed_access_key_ids: Collection[str] | None = None,
        idempotency_window: float | None = DEFAULT_TOKEN_WINDOW_SECONDS,
        refused_tokens: RefusedTokens = "forgotten",
        signing_keys: Mapping[str, SigningKey] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        storage: Mapping[str, Collection[str]] | None = None,
        account: str = "111122223333",
        region: str = "us-east-1",
        outbound: Outbound | None = None,
        flows: Mapping[str, Collection[Flow]] | None = None,
        address_flows: Mapping[str, Mapping[str, str]] | None = None,
        attached_files: AttachedFiles | None = None,
    ) -> None:
        """Configure; nothing listens before start().

        ``instances`` maps each known instance id to its email addresses (None: accept any).
        ``rate``/``burst`` turn on throttling (None: never throttle). ``allowed_access_key_ids`` answers
        AccessDeniedException to requests signed with another key (None: accept any signature).
        ``idempotency_window`` is how long, in seconds, a ClientToken is remembered (None: until reset).
        ``refused_tokens`` says whether a refused request uses up its ClientToken ("kept") or not.
        ``signing_keys`` (access key id -> :class:`SigningKey`) are the credentials attachment URLs must be
        signed with (None: any signature; the dates are checked regardless). ``clock`` measures the
        throttle and the token window; ``wall_clock`` is what pre-signed URLs and keys expire against.
        ``storage`` maps an instance id to the storage resource types configured for it (None: every
        instance has ``EMAIL_STORAGE_TYPES``); ``account`` and ``region`` go into the ARNs it answers.
        ``outbound`` receives each email an agent's reply sends: its bytes and its recipients.
        ``flows`` (instance id -> its :class:`Flow` s; None: no flow is known or checked), ``address_flows``
        (instance id -> address -> the flow it starts) and ``attached_files`` (the email attached-files
        configuration, default the documented one; ``max_attachment_bytes`` is a shorthand for its size)
        are the instance's configuration (``connect_instance_config``).
        """
        self._requested_port = port
        self._instances = (
            None
            if instances is None
            # A bare string is a Collection[str] too: take it as one address, not as its characters.
            else {key: frozenset([v] if isinstance(v, str) else v) for key, v in instances.items()}
        )
        self._bucket = None if rate is None else TokenBucket(rate, burst, clock)
        self._max_attachments = max_attachments
        self._configured_files = attached_files or (
            AttachedFiles() if max_attachment_bytes is None else AttachedFiles(max_bytes=max_attachment_bytes)
        )
        self._configuration = InstanceConfiguration(
            flows,
            address_flows,
            self._configured_files,
            instance_arn=self._instance_arn,
            known_instance=self._known_instance,
            addresses=lambda instance_id: (self._instances or {}).get(instance_id, ()),
            error=ConnectError,
        )
        self._use_attached_files(self._configured_files)
        self._max_total_attachment_bytes = max_total_attachment_bytes
        self._allowed_keys = None if allowed_access_key_ids is None else frozenset(allowed_access_key_ids)
        self._idempotency_window = idempotency_window
        self._refused_tokens: RefusedTokens = "forgotten"
        self._signing_keys = None if signing_keys is None else dict(signing_keys)
        # What reset() returns to: a test's switched reading or added key must not leak into the next.
        self._configured = (refused_tokens, self._signing_keys)
        self._clock = clock
        self._wall_clock = wall_clock
        self._storage = None if storage is None else {key: frozenset(v) for key, v in storage.items()}
        self._account = account
        self._region = region
        operation = operation_model()
        self._status = {
            shape.name: shape.metadata["error"]["httpStatusCode"] for shape in operation.error_shapes
        }
        self._reason_members: dict[str, dict[str, str]] = {
            shape.name: {
                reason: member_name
                for member_name, member in shape.members["Reason"].members.items()
                for reason in member.metadata.get("enum", ())
            }
            for shape in operation.error_shapes
            if "Reason" in shape.members
        }
        self._lock = threading.Lock()
        self.set_refused_tokens(refused_tokens)
        self._contacts: list[EmailContact] = []
        self._tokens: dict[str, _TokenUse] = {}
        self._faults: deque[ConnectError] = deque()
        self._lost_answers = 0
        self._answers_without_id = 0
        self._answer_hooks: deque[tuple[Callable[[], None], Callable[[], None]]] = deque()
        self._older_contact_ids: set[str] = set()
        self._attempts: list[Attempt] = []
        self._delay = 0.0
        self._stopping = threading.Event()
        self.agent_replies = AgentReplyDesk(
            fault=ConnectError,
            inbound=self._inbound_contact,
            addresses=lambda instance_id: (
                None if self._instances is None else self._instances.get(instance_id)
            ),
            instance_arn=self._instance_arn,
            wall_clock=wall_clock,
        )
        self.agent_replies.outbound = outbound
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        server = Server(("127.0.0.1", self._requested_port), handler_class(self))
        self._stopping.clear()
        # A short poll interval keeps stop() fast; the default half second adds up over a test suite.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="connect-emulator", daemon=True
        )
        self._server = server
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    # Inspection and control for tests

    def contacts(self) -> list[EmailContact]:
        with self._lock:
            return list(self._contacts)

    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    def set_attached_files(self, files: AttachedFiles) -> None:
        """Change the instance's email attached-files configuration, as UpdateAttachedFilesConfiguration
        would (``reset()`` restores the configured one)."""
        with self._lock:
            self._use_attached_files(files)

    def _use_attached_files(self, files: AttachedFiles) -> None:
        self._configuration.attached_files = files
        self._limits = server_side_limits(self._max_attachments, files.dotted)
        self._max_attachment_bytes = files.max_bytes

    def reset(self) -> None:
        """Forget contacts, ClientTokens, attempts, queued faults and the delay; restore the
        configured reading of refused tokens and signing keys."""
        with self._lock:
            self._refused_tokens, keys = self._configured
            self._signing_keys = None if keys is None else dict(keys)
            self._contacts.clear()
            self._tokens.clear()
            self._attempts.clear()
            self._faults.clear()
            self._lost_answers = 0
            self._answers_without_id = 0
            self._answer_hooks.clear()
            self._older_contact_ids.clear()
            self._delay = 0.0
            self._use_attached_files(self._configured_files)
        self.agent_replies.reset()

    def inject_errors(
        self, code: ErrorCode, count: int = 1, *, reason: str | None = None, message: str = "Injected fault"
    ) -> None:
        """Answer the next ``count`` StartEmailContact requests with ``code``.

        Server-side faults (429, 500) and AccessDeniedException come before any other check;
        refusals (InvalidRequestException, ServiceQuotaExceededException, ResourceNotFoundException)
        take the place of validation, so that ``refused_tokens`` applies to them as to real ones.
        """
        if code not in self._status:
            raise ValueError(f"{code} is not an error StartEmailContact can return")
        if count < 0:
            raise ValueError("count must be >= 0")
        if reason is not None and reason not in self._reason_members.get(code, {}):
            raise ValueError(f"{code} has no reason {reason}")
        with self._lock:
            self._faults.extend(ConnectError(code, message, reason) for _ in range(count))

    def lose_answers(self, count: int = 1) -> None:
        """Do the next ``count`` requests' work (a contact is created or found), then answer 500.

        The caller never learns the contact's id: a lost answer, as after a crash or a network fault.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._lost_answers += count

    def answer_without_contact_ids(self, count: int = 1) -> None:
        """Do the next ``count`` requests' work (a contact is created or found), then answer 200
        with an empty body: an answer the model allows (``ContactId`` is not required) that names
        no contact."""
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._answers_without_id += count

    def around_next_answer(self, before_sent: Callable[[], None], after_sent: Callable[[], None]) -> None:
        """Call ``before_sent`` once the next StartEmailContact is answered (its work done, its
        answer ready) and ``after_sent`` once that answer is written to the caller: a test stops and
        kills the caller's process there, as Lambda kills a sandbox that ran out of memory or time."""
        with self._lock:
            self._answer_hooks.append((before_sent, after_sent))

    def add_older_contact(self, contact_id: str) -> None:
        """A contact of the instance created before this emulator started: a valid RelatedContactId."""
        with self._lock:
            self._older_contact_ids.add(contact_id)

    def set_refused_tokens(self, reading: RefusedTokens) -> None:
        """Switch the reading of refused requests' tokens (see the constructor)."""
        if reading not in get_args(RefusedTokens):
            raise ValueError(f"refused_tokens must be one of {get_args(RefusedTokens)}")
        with self._lock:
            self._refused_tokens = reading

    def add_signing_key(self, access_key_id: str, key: SigningKey) -> None:
        """Accept attachment URLs signed with another set of credentials (say, a new container's)."""
        with self._lock:
            self._signing_keys = {**(self._signing_keys or {}), access_key_id: key}

    def set_agent_replies(self, threading_reading: Threading = "headers", stored: Stored = "mime") -> None:
        """Choose the reading of agents' replies (``agent_replies.py``); reset() restores it."""
        self.agent_replies.configure(threading_reading, stored)

    def set_delay(self, seconds: float) -> None:
        """Hold every StartEmailContact response this long after the work is done (0 turns it off)."""
        with self._lock:
            self._delay = seconds

    # Request handling

    def _start_email_contact(self, body: bytes, authorization: str | None) -> str:
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.code not in _REFUSALS:
            raise fault
        if self._allowed_keys is not None:
            signed_by = re.search(r"Credential=([^/,\s]+)/", authorization or "")
            if signed_by is None or signed_by[1] not in self._allowed_keys:
                raise ConnectError(
                    "AccessDeniedException", "The caller is not allowed to perform connect:StartEmailContact"
                )
        if self._bucket is not None and not self._bucket.try_take():
            raise ConnectError("ThrottlingException", "Rate exceeded")
        try:
            params = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise ConnectError(
                "InvalidRequestException", f"The request body is not valid JSON: {error}"
            ) from error
        if not isinstance(params, dict):
            raise ConnectError("InvalidRequestException", "The request body must be a JSON object")
        token = params.get("ClientToken")
        try:
            if fault is not None:  # a refusal of this very request: refused_tokens applies to it
                raise fault
            check_start_email_contact(params, self._limits)
            return self._create_or_replay(params, token)
        except ConnectError as refused:
            if self._refused_tokens == "kept" and refused.code in _REFUSALS and isinstance(token, str):
                with self._lock:
                    if token not in self._tokens:
                        self._remember(token, _TokenUse(params, None, self._clock()))
            raise

    def _create_or_replay(self, params: dict[str, Any], token: object) -> str:
        self._check_instance(params)
        self._configuration.check_flow(params["InstanceId"], params.get("ContactFlowId"))
        attachments = params.get("Attachments", [])
        with self._lock:
            keys = self._signing_keys
        for index, attachment in enumerate(attachments):
            check_presigned(attachment["S3Url"], f"Attachments[{index}].S3Url", self._wall_clock(), keys)
        with self._lock:
            replayed = self._replay(token, params)
        if replayed is not None:
            return replayed
        self._check_related(params)
        digests = download_all(attachments, self._max_attachment_bytes, self._max_total_attachment_bytes)
        with self._lock:
            # Another request with this token may have finished while the attachments downloaded.
            replayed = self._replay(token, params)
            if replayed is not None:
                return replayed
            contact = EmailContact(str(uuid.uuid4()), len(self._contacts) + 1, params, digests)
            self._contacts.append(contact)
            if isinstance(token, str):
                self._tokens.pop(token, None)  # a kept refusal of the same request gives way
                self._remember(token, _TokenUse(params, contact.contact_id, self._clock()))
            return contact.contact_id

    def _remember(self, token: str, use: _TokenUse) -> None:
        """Record a token (hold the lock), forgetting those past the window: memory stays bounded."""
        self._tokens[token] = use
        if self._idempotency_window is None:
            return
        while self._tokens:
            oldest = next(iter(self._tokens))
            if use.at - self._tokens[oldest].at <= self._idempotency_window:
                break
            del self._tokens[oldest]

    def _check_related(self, params: Mapping[str, Any]) -> None:
        related = params.get("RelatedContactId")
        if related is None:
            return
        with self._lock:
            known = related in self._older_contact_ids or any(
                c.contact_id == related and c.params["InstanceId"] == params["InstanceId"]
                for c in self._contacts
            )
        if not known:
            raise ConnectError("ResourceNotFoundException", f"RelatedContactId {related} was not found")

    def _check_instance(self, params: Mapping[str, Any]) -> None:
        instance_id = params["InstanceId"]
        self._known_instance(instance_id)
        if (
            self._instances is not None
            and params["DestinationEmailAddress"] not in self._instances[instance_id]
        ):
            # ResourceNotFoundException, not InvalidRequestException: an instance's email address is a
            # resource of its own (CreateEmailAddress gives it an ARN under the instance), the API reference
            # defines ResourceNotFoundException as "The specified resource was not found", and
            # InvalidRequestException ("The request is not valid") is for requests malformed in themselves.
            # Exact comparison on purpose (whether Connect folds case is UNVERIFIED): the caller should pass
            # the configured address, not whatever casing a sender used.
            raise ConnectError(
                "ResourceNotFoundException",
                f"DestinationEmailAddress is not an email address of instance {instance_id}",
            )

    def _replay(self, token: object, params: dict[str, Any]) -> str | None:
        """The contact id an earlier request with this ClientToken created, if any (hold the lock).

        Other parameters under a known token: IdempotencyException, whether the earlier request
        created a contact or (refused_tokens="kept") was refused. The same parameters as a refused
        request are evaluated again.
        """
        if not isinstance(token, str):
            return None
        used = self._tokens.get(token)
        if used is None:
            return None
        if self._idempotency_window is not None and self._clock() - used.at > self._idempotency_window:
            del self._tokens[token]
            return None
        if used.params != params:
            raise ConnectError(
                "IdempotencyException", "The ClientToken was already used with different parameters"
            )
        return used.contact_id

    def answer_start_email_contact(self, body: bytes, authorization: str | None) -> Answer:
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
        error: ConnectError | None = None
        payload: dict[str, Any]
        try:
            status, payload = 200, {"ContactId": self._start_email_contact(body, authorization)}
            with self._lock:
                lose, self._lost_answers = self._lost_answers > 0, max(0, self._lost_answers - 1)
                if not lose and self._answers_without_id > 0:
                    self._answers_without_id -= 1
                    payload = {}
            if lose:
                error = ConnectError(
                    "InternalServiceException", "Injected: the answer was lost after the work"
                )
        except ConnectError as raised:
            error = raised
        except Exception as unexpected:  # noqa: BLE001 - an emulator bug must still reach the client as a 500
            _LOG.exception("emulator failure")
            error = ConnectError("InternalServiceException", f"Emulator failure: {unexpected!r}")
        if error is not None:
            status = self._status[error.code]
            headers["x-amzn-ErrorType"] = error.code
            payload = {"message": error.message, "Message": error.message}
            if error.reason is not None:
                payload["Reason"] = {self._reason_members[error.code][error.reason]: error.reason}
        with self._lock:
            self._attempts.append(Attempt(status, None if error is None else error.code))
            delay = self._delay
        if delay > 0:
            self._stopping.wait(delay)
        return status, headers, json.dumps(payload).encode()

    # Read-only operations

    def _instance_arn(self, instance_id: str) -> str:
        return f"arn:aws:connect:{self._region}:{self._account}:instance/{instance_id}"

    def _known_instance(self, instance_id: str) -> None:
        if self._instances is not None and instance_id not in self._instances:
            raise ConnectError("ResourceNotFoundException", f"Instance {instance_id} not found")

    def _inbound_contact(self, instance_id: str, contact_id: str) -> EmailContact | None:
        return next(
            (
                c
                for c in self.contacts()
                if c.contact_id == contact_id and c.params["InstanceId"] == instance_id
            ),
            None,
        )

    def _contact(self, instance_id: str, contact_id: str) -> EmailContact | ReplyContact:
        self._known_instance(instance_id)
        found = self._inbound_contact(instance_id, contact_id) or self.agent_replies.reply(
            instance_id, contact_id
        )
        if found is None:
            raise ConnectError("ResourceNotFoundException", f"Contact {contact_id} not found")
        return found

    def _describe_instance(self, params: Mapping[str, Any]) -> dict[str, Any]:
        instance_id = params["InstanceId"]
        self._known_instance(instance_id)
        return {
            "Instance": {
                "Id": instance_id,
                "Arn": self._instance_arn(instance_id),
                "IdentityManagementType": "CONNECT_MANAGED",
                "InstanceStatus": "ACTIVE",
                "InboundCallsEnabled": True,
                "OutboundCallsEnabled": True,
            }
        }

    def _list_instance_storage_configs(self, params: Mapping[str, Any]) -> dict[str, Any]:
        instance_id, resource_type = params["InstanceId"], params["ResourceType"]
        self._known_instance(instance_id)
        configured = EMAIL_STORAGE_TYPES if self._storage is None else self._storage.get(instance_id, ())
        if resource_type not in configured:
            return {"StorageConfigs": []}
        association = hashlib.sha256(f"{instance_id}/{resource_type}".encode()).hexdigest()[:32]
        return {
            "StorageConfigs": [
                {
                    "AssociationId": association,
                    "StorageType": "S3",
                    "S3Config": {"BucketName": "connect-storage", "BucketPrefix": resource_type.lower()},
                }
            ]
        }

    def _search_email_addresses(self, params: Mapping[str, Any]) -> dict[str, Any]:
        instance_id = params["InstanceId"]
        self._known_instance(instance_id)
        if self._instances is None:
            raise ConnectError(
                "InvalidRequestException", "The emulator knows addresses only when it is given instances"
            )
        if params.get("SearchCriteria") or params.get("SearchFilter"):
            # Emulator restriction: callers here list every address and compare themselves.
            raise ConnectError("InvalidRequestException", "The emulator does not filter: omit SearchCriteria")
        everything = sorted(self._instances[instance_id])
        start = int(params["NextToken"]) if str(params.get("NextToken", "")).isdigit() else 0
        end = start + int(params.get("MaxResults", 100))
        addresses = everything[start:end]
        found = [
            {
                "EmailAddressId": email_address_id(address),
                "EmailAddressArn": f"{self._instance_arn(instance_id)}/email-address/"
                + email_address_id(address),
                "EmailAddress": address,
            }
            for address in addresses
        ]
        page: dict[str, Any] = {"EmailAddresses": found, "ApproximateTotalCount": len(everything)}
        if end < len(everything):
            page["NextToken"] = str(end)
        return page

    def _describe_contact(self, params: Mapping[str, Any]) -> dict[str, Any]:
        contact = self._contact(params["InstanceId"], params["ContactId"])
        described = {
            "Arn": f"{self._instance_arn(params['InstanceId'])}/contact/{contact.contact_id}",
            "Id": contact.contact_id,
            "InitialContactId": contact.contact_id,
            "InitiationMethod": "AGENT_REPLY" if isinstance(contact, ReplyContact) else "API",
            "Channel": "EMAIL",
        }
        if contact.params.get("RelatedContactId"):
            described["RelatedContactId"] = contact.params["RelatedContactId"]
        return {"Contact": described}

    def _list_associated_contacts(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The thread's contacts: those created by StartEmailContact, then its agent replies."""
        instance_id = params["InstanceId"]
        self._contact(instance_id, params["ContactId"])
        root = self.agent_replies.root_of(instance_id, params["ContactId"])
        inbound = [
            {
                "ContactId": c.contact_id,
                "ContactArn": f"{self._instance_arn(instance_id)}/contact/{c.contact_id}",
                "InitiationMethod": "API",
                "Channel": "EMAIL",
                **(
                    {"RelatedContactId": c.params["RelatedContactId"]}
                    if c.params.get("RelatedContactId")
                    else {}
                ),
            }
            for c in self.contacts()
            if c.params["InstanceId"] == instance_id
            and self.agent_replies.root_of(instance_id, c.contact_id) == root
        ]
        everything = [*inbound, *self.agent_replies.associated(instance_id, str(root))]
        start = int(params["NextToken"]) if str(params.get("NextToken", "")).isdigit() else 0
        end = start + int(params.get("MaxResults", 100))
        page: dict[str, Any] = {"ContactSummaryList": everything[start:end]}
        if end < len(everything):
            page["NextToken"] = str(end)
        return page

    def _get_attached_file(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self._known_instance(params["InstanceId"])
        return self.agent_replies.attached_file(params, self.url)

    def _create_contact(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self._known_instance(params["InstanceId"])
        return self.agent_replies.create_contact(params)

    def _start_outbound_email_contact(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self._known_instance(params["InstanceId"])
        return self.agent_replies.start_outbound(params)

    def _get_contact_attributes(self, params: Mapping[str, Any]) -> dict[str, Any]:
        contact = self._contact(params["InstanceId"], params["InitialContactId"])
        return {"Attributes": dict(contact.params.get("Attributes") or {})}

    def _list_contact_references(self, params: Mapping[str, Any]) -> dict[str, Any]:
        contact = self._contact(params["InstanceId"], params["ContactId"])
        references: list[dict[str, Any]] = []
        if "ATTACHMENT" in params["ReferenceTypes"] and isinstance(contact, EmailContact):
            # What the emulator downloaded is what Connect would hold: approved once stored.
            references += [
                {"Attachment": {"Name": digest.file_name, "Value": digest.sha256, "Status": "APPROVED"}}
                for digest in contact.attachments
            ]
        if "EMAIL_MESSAGE" in params["ReferenceTypes"] and isinstance(contact, ReplyContact):
            stored = self.agent_replies.email_message_reference(contact)
            references += [stored] if stored else []
        for name, reference in (contact.params.get("References") or {}).items():
            kind = reference.get("Type")
            if kind in params["ReferenceTypes"] and kind in _REFERENCE_MEMBERS:
                references.append(
                    {_REFERENCE_MEMBERS[kind]: {"Name": name, "Value": reference.get("Value", "")}}
                )
        return {"ReferenceSummaryList": references}

    def answer_read(self, name: str, params: dict[str, Any]) -> Answer:
        """One read-only operation: its input checked against the model, then answered from state."""
        operation = operation_model(name)
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
        handlers: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "DescribeInstance": self._describe_instance,
            "ListInstanceStorageConfigs": self._list_instance_storage_configs,
            "SearchEmailAddresses": self._search_email_addresses,
            "DescribeContact": self._describe_contact,
            "GetContactAttributes": self._get_contact_attributes,
            "ListContactReferences": self._list_contact_references,
            "ListAssociatedContacts": self._list_associated_contacts,
            "GetAttachedFile": self._get_attached_file,
            "CreateContact": self._create_contact,
            "StartOutboundEmailContact": self._start_outbound_email_contact,
            **self._configuration.handlers(),
        }
        try:
            check_model(operation.input_shape, params, "")
            return 200, headers, json.dumps(handlers[name](params)).encode()
        except ConnectError as raised:
            error = raised
        except Exception as unexpected:  # noqa: BLE001 - as for StartEmailContact: a bug still reaches the client as a 500
            _LOG.exception("emulator failure")
            error = ConnectError("InternalServiceException", f"Emulator failure: {unexpected!r}")
        modeled = {e.name: e.metadata["error"]["httpStatusCode"] for e in operation.error_shapes}
        # A request the model refuses: the operation's own validation error (some have no InvalidRequest).
        fallback = (
            "InvalidRequestException" if "InvalidRequestException" in modeled else "InvalidParameterException"
        )
        code = error.code if error.code in modeled else fallback
        headers["x-amzn-ErrorType"] = code
        return (
            modeled.get(code, 400),
            headers,
            json.dumps({"message": error.message, "Message": error.message}).encode(),
        )

    def next_answer_hooks(self) -> tuple[Callable[[], None], Callable[[], None]] | None:
        """What ``around_next_answer`` asked to call around the StartEmailContact answer now sent."""
        with self._lock:
            return self._answer_hooks.popleft() if self._answer_hooks else None

    def stored_file(self, path: str) -> bytes | None:
        """The file an agent's reply stored at ``path`` (``GetAttachedFile``'s URL); None if none is."""
        return self.agent_replies.file(path[len(FILES_PATH) :]) if path.startswith(FILES_PATH) else None

    def contacts_json(self) -> bytes:
        return json.dumps({"contacts": [dataclasses.asdict(contact) for contact in self.contacts()]}).encode()


_REFERENCE_MEMBERS = {"URL": "Url", "STRING": "String", "NUMBER": "Number", "DATE": "Date", "EMAIL": "Email"}


# --- Command line ----------------------------------------------------------------------------------------


def _instance_arg(text: str) -> tuple[str, list[str]]:
    instance_id, separator, addresses = text.partition("=")
    if not separator or not instance_id or not addresses:
        raise argparse.ArgumentTypeError("expected INSTANCE_ID=ADDRESS[,ADDRESS...]")
    return instance_id, addresses.split(",")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ses_to_connect_tools.local_pipeline.connect_emulator",
        description="Serve a local Amazon Connect StartEmailContact on 127.0.0.1 until interrupted.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument(
        "--rate", type=float, help="requests per second before ThrottlingException (default: off)"
    )
    parser.add_argument("--burst", type=int, default=5, help="requests allowed at once when --rate is set")
    parser.add_argument(
        "--instance",
        type=_instance_arg,
        action="append",
        metavar="ID=ADDRESS[,ADDRESS...]",
        help="a known instance and its email addresses; repeat for more (default: accept any)",
    )
    parser.add_argument("--max-attachments", type=int, default=10)
    parser.add_argument(
        "--refused-tokens",
        choices=get_args(RefusedTokens),
        default="forgotten",
        help="whether a refused request uses up its ClientToken (default: forgotten)",
    )
    parser.add_argument(
        "--token-window",
        type=float,
        default=DEFAULT_TOKEN_WINDOW_SECONDS,
        help="seconds a ClientToken is remembered (default: 86400)",
    )
    args = parser.parse_args(argv)
    emulator = ConnectEmulator(
        port=args.port,
        instances=None if args.instance is None else dict(args.instance),
        rate=args.rate,
        burst=args.burst,
        max_attachments=args.max_attachments,
        refused_tokens=args.refused_tokens,
        idempotency_window=args.token_window,
    )
    with emulator:
        print(emulator.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
