"""What the pipeline needs from the outside world, as Protocols; the adapters satisfy them.

The core depends on these, never on an adapter module (as Powertools' idempotency talks to
``BasePersistenceLayer`` and its backends plug in): the Lambda wires S3, Connect, DynamoDB
and SQS adapters in (``composition.py``), the offline ``convert`` and the tests wire their own
(``tests/support/fakes.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

    from ses_to_connect.attachments import Candidate
    from ses_to_connect.delivery import DeliveryRecord
    from ses_to_connect.policy_rules import QuarantineReason
    from ses_to_connect.thread_match import AgentReply, ThreadEntry


class MailStorage(Protocol):
    """The stored raw messages: read one, quarantine one, write a document beside it."""

    def read_chunks(self, key: str) -> Iterator[bytes]: ...

    def quarantine(
        self, source_key: str, target_key: str, reason: QuarantineReason, message_id: str
    ) -> None: ...

    def put_json(self, key: str, document: dict[str, Any]) -> None: ...


class Uploads(Protocol):
    """One message's attachment stores, which may run at the same time."""

    def make_room(self, size: int) -> None:
        """Return once a file of ``size`` bytes may be decoded and stored beside the ones in flight.

        Raises the first failed store, in the order they were made.
        """

    def store(self, key: str, candidate: Candidate, data: bytes) -> str:
        """Store ``data`` at ``key`` (now, or in the background until the batch ends); the URL
        Connect will fetch it from."""
        ...


class AttachmentSink(Protocol):
    """Where attachments are stored."""

    def uploads(self) -> AbstractContextManager[Uploads]:
        """A batch of stores: on leaving it every store has finished, and the first failure is raised."""
        ...

    def take_url_lengths(self) -> list[int]:
        """The lengths of the URLs signed since the last call: Connect takes at most 2,000 characters,
        and a signed URL's length depends on the credentials' session token (a metric in production)."""
        ...


class ContactCreator(Protocol):
    """Connect's ``StartEmailContact``: the new contact's id."""

    def start(self, request: StartEmailContactRequestTypeDef) -> str: ...


class Ledger(Protocol):
    """What was sent for each message, and which contacts were created (exactly-once delivery)."""

    def register_context(self, context: LambdaContext) -> None: ...

    def known_contact(self, token: str) -> list[str] | None: ...

    def delivery(self, message_id: str) -> DeliveryRecord | None: ...

    def save_delivery(self, message_id: str, delivery: DeliveryRecord, *, first: bool) -> DeliveryRecord: ...

    def start_once(
        self,
        request: StartEmailContactRequestTypeDef,
        start: Callable[[StartEmailContactRequestTypeDef], str | None],
    ) -> str | None: ...


class ThreadStore(Protocol):
    """Reply threading: each contact's Message-ID and the root contact of its thread."""

    def entries(self, message_ids: list[str]) -> dict[str, ThreadEntry]: ...

    def remember(self, message_id: str, contact_id: str, root_contact_id: str) -> None: ...

    def remember_agent_reply(self, message_id: str, contact_id: str, root_contact_id: str) -> None: ...

    def customer_threads(self, address: str) -> list[str]: ...

    def remember_customer_thread(self, address: str, root_contact_id: str) -> None: ...


class AgentReplyFinder(Protocol):
    """Agents' replies in Connect, with the Message-ID each one was sent with (docs/threading.md)."""

    def find(self, roots: list[str], wanted: Collection[str]) -> list[AgentReply]: ...


class FailureDestination(Protocol):
    """Where an event that can never pass goes at once, as an on-failure record."""

    def send(self, record: dict[str, Any]) -> None: ...
