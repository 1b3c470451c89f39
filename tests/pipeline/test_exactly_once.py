"""Every crash point and fallback of docs/exactly-once.md, against the in-memory ports.

Each test runs the pipeline as Lambda runs it: one invocation, then the retry (a new
``Pipeline`` over the same services, as a new container), and checks what Connect holds. The
scripted Connect (``tests/support/fakes.py``) keeps ClientTokens as the emulator does, and the
tests that involve a refused request run under both readings of whether that refusal uses its
token up. The wire (SigV4, botocore's retries, a real SIGKILL) is tested in tests/e2e.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from ses_to_connect.convert import client_token, variant_token
from ses_to_connect.delivery import Drop
from ses_to_connect.errors import DeliveryError, IdempotencyConflict, StorageError
from ses_to_connect.event_builder import build_ses_event
from ses_to_connect.model import Outcome
from ses_to_connect.pipeline import RecordResult
from ses_to_connect.ses_event import SesRecord, records
from ses_to_connect.settings import ConnectAddress, Settings
from ses_to_connect.thread_match import AgentReply, ThreadMatch
from ses_to_connect_tools.local_pipeline.connect_emulator import RefusedTokens
from tests.support.fakes import Call, FakeWorld, ProcessKilled

SUPPORT = "support@example.com"
MESSAGE_ID = "o3vrnil0e2ic28trm7dfhrc2v0pipeline0000001"
OWN_ID = "<first@example.org>"
SETTINGS = Settings(
    instance_id="11111111-2222-3333-4444-555555555555",
    connect_addresses=(ConnectAddress(SUPPORT),),
    mail_bucket="mail-bucket",
)
BASE_TOKEN = client_token(MESSAGE_ID, SUPPORT)
FILES_TOKEN = variant_token(BASE_TOKEN, [Drop.files("INVALID_FILE_TYPE")])
RELATED_TOKEN = variant_token(BASE_TOKEN, [Drop.related()])
READINGS: list[RefusedTokens] = ["kept", "forgotten"]


def message(*, message_id: str = OWN_ID, in_reply_to: str | None = None, files: bool = True) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Customer <customer@example.org>"
    mail["To"] = SUPPORT
    mail["Subject"] = "Refund request"
    mail["Message-ID"] = message_id
    if in_reply_to is not None:
        mail["In-Reply-To"] = in_reply_to
    mail.set_content("Please see the attached contract.\n")
    if files:
        mail.add_attachment(
            b"%PDF-1.4 contract\n", maintype="application", subtype="pdf", filename="contract.pdf"
        )
        mail.add_attachment(b"item,qty\nbook,1\n", maintype="text", subtype="csv", filename="items.csv")
    return bytes(mail)


def arrive(world: FakeWorld, raw: bytes, message_id: str = MESSAGE_ID) -> SesRecord:
    """SES stores the message and invokes the function with its record."""
    world.store.objects[f"{SETTINGS.inbound_prefix}{message_id}"] = raw
    return records(build_ses_event(raw, message_id=message_id, recipients=[SUPPORT]))[0]


def invoke(world: FakeWorld, record: SesRecord) -> RecordResult:
    return world.pipeline(SETTINGS).process(record)


def only_contact_id(world: FakeWorld, message_id: str = MESSAGE_ID) -> str:
    [contact] = world.connect.created_for(message_id)
    return contact.contact_id


def answer_lost(world: FakeWorld, record: SesRecord) -> str:
    """The first invocation creates the contact but never hears its id; the retry comes in a new container."""
    world.connect.lose_answer()
    with pytest.raises(DeliveryError) as raised:
        invoke(world, record)
    assert (raised.value.code, raised.value.retryable) == ("InternalServiceException", True)
    world.new_container()
    return only_contact_id(world)


# --- Crash points -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["store", "save_delivery"])
def test_a_crash_before_the_delivery_is_written_starts_afresh(where: str) -> None:
    world = FakeWorld()
    record = arrive(world, message())
    assert world.ledger is not None
    faults = world.attachments.faults if where == "store" else world.ledger.faults
    faults.fail(where, ProcessKilled(f"killed in {where}"))
    with pytest.raises(ProcessKilled):
        invoke(world, record)
    assert world.connect.calls == []

    result = invoke(world, record)

    assert result.contact_ids == (only_contact_id(world),)
    # The same keys, overwritten: nothing beside the two files.
    assert sorted(world.attachments.versions) == [
        f"attachments/{MESSAGE_ID}/00.pdf",
        f"attachments/{MESSAGE_ID}/01.csv",
    ]


def test_a_kill_after_the_delivery_before_connect_replays_it_once_the_lock_ends() -> None:
    world = FakeWorld()
    record = arrive(world, message())
    world.connect.kill_before()
    with pytest.raises(ProcessKilled):
        invoke(world, record)
    assert world.ledger is not None
    delivery = world.ledger.delivery(MESSAGE_ID)
    assert delivery is not None
    world.new_container()

    with pytest.raises(DeliveryError) as in_progress:  # Lambda's first retry, a minute later
        world.clock.advance(60)
        invoke(world, record)
    assert (in_progress.value.code, in_progress.value.retryable) == ("InProgress", True)
    world.clock.advance(120)  # the second, past the lock
    result = invoke(world, record)

    [contact] = world.connect.contacts
    assert result.contact_ids == (contact.contact_id,)
    assert contact.request["Attachments"] == list(delivery.attachments)  # signed by the killed container
    assert world.ledger.delivery(MESSAGE_ID) == delivery


@pytest.mark.parametrize("reading", READINGS)
def test_a_lost_answer_is_recovered_with_its_id_while_the_urls_replay(reading: RefusedTokens) -> None:
    world = FakeWorld(reading)
    record = arrive(world, message())
    contact_id = answer_lost(world, record)

    result = invoke(world, record)

    assert (result.contact_ids, result.contacts_without_id) == ((contact_id,), 0)
    assert world.connect.calls == [
        Call(BASE_TOKEN, "InternalServiceException", created=True),
        Call(BASE_TOKEN, None),  # byte for byte the request that created it: its id back
    ]
    assert world.threads.items[OWN_ID][:2] == (contact_id, contact_id)


def test_past_the_urls_validity_the_contact_exists_without_id() -> None:
    world = FakeWorld()
    record = arrive(world, message())
    contact_id = answer_lost(world, record)
    world.clock.advance(2 * 3600)  # the URLs lived an hour

    result = invoke(world, record)

    assert (result.outcome, result.contact_ids, result.contacts_without_id) == (Outcome.CONTACT, (), 1)
    assert [c.error for c in world.connect.calls] == ["InternalServiceException", "IdempotencyException"]
    assert [c.contact_id for c in world.connect.contacts] == [contact_id]
    assert OWN_ID not in world.threads.items  # no id: no thread entry


@pytest.mark.parametrize("reading", READINGS)
def test_urls_whose_credentials_expired_early_are_signed_again_then_reported(reading: RefusedTokens) -> None:
    world = FakeWorld(reading)
    record = arrive(world, message())
    answer_lost(world, record)
    world.connect.expired_credentials.add("container-1")

    with pytest.raises(IdempotencyConflict) as raised:
        invoke(world, record)

    assert (raised.value.reason, raised.value.retryable) == ("token_used_by_refused_request", False)
    assert "refused request may have used it up" in str(raised.value)
    assert world.connect.calls[1:] == [
        Call(BASE_TOKEN, "InvalidRequestException"),
        Call(BASE_TOKEN, "IdempotencyException"),  # re-signed, under the same token: never a second contact
    ]
    assert len(world.connect.contacts) == 1


@pytest.mark.parametrize("reading", READINGS)
def test_throttled_then_refused_files_give_one_contact_with_its_id(reading: RefusedTokens) -> None:
    world = FakeWorld(reading)
    record = arrive(world, message())
    world.connect.fail("ThrottlingException")
    with pytest.raises(DeliveryError) as raised:
        invoke(world, record)
    assert raised.value.retryable is True
    world.connect.refuse("InvalidRequestException", "INVALID_FILE_TYPE")

    result = invoke(world, record)

    [contact] = world.connect.contacts
    assert (result.contact_ids, result.contacts_without_id) == ((contact.contact_id,), 0)
    assert contact.request["ClientToken"] == FILES_TOKEN
    assert "Attachments" not in contact.request
    assert dict(result.attachments_skipped) == {"rejected_by_connect:INVALID_FILE_TYPE": 2}


def test_a_crash_after_completed_before_the_thread_index_takes_the_duplicate_path() -> None:
    world = FakeWorld()
    record = arrive(world, message())
    world.threads.faults.fail("remember", ProcessKilled("killed before the thread index"))
    with pytest.raises(ProcessKilled):
        invoke(world, record)
    contact_id = only_contact_id(world)
    versions = {key: list(data) for key, data in world.attachments.versions.items()}

    result = invoke(world, record)

    assert (result.duplicate, result.contact_ids) == (True, (contact_id,))
    assert len(world.connect.calls) == 1
    assert world.attachments.versions == versions
    assert world.threads.items[OWN_ID][:2] == (contact_id, contact_id)
    reply = arrive(world, message(message_id="<reply@example.org>", in_reply_to=OWN_ID, files=False), "reply")
    assert invoke(world, reply).related_contact_id == contact_id


@pytest.mark.parametrize("reading", READINGS)
def test_refused_files_then_a_crash_before_the_fallback_sends_the_fallback_directly(
    reading: RefusedTokens,
) -> None:
    world = FakeWorld(reading)
    record = arrive(world, message())
    world.connect.refuse("InvalidRequestException", "INVALID_FILE_TYPE")
    world.connect.kill_before()
    with pytest.raises(ProcessKilled):
        invoke(world, record)
    world.new_container()
    world.clock.advance(180)  # past the lock the kill left

    result = invoke(world, record)

    [contact] = world.connect.contacts
    assert result.contact_ids == (contact.contact_id,)
    assert world.connect.calls == [Call(BASE_TOKEN, "InvalidRequestException"), Call(FILES_TOKEN, None, True)]


@pytest.mark.parametrize("reading", READINGS)
def test_the_fallbacks_lost_answer_is_replayed_for_the_same_id(reading: RefusedTokens) -> None:
    world = FakeWorld(reading)
    record = arrive(world, message())
    world.connect.refuse("InvalidRequestException", "INVALID_FILE_TYPE")
    contact_id = answer_lost(world, record)

    result = invoke(world, record)

    assert (result.contact_ids, result.contacts_without_id, result.attachments_sent) == ((contact_id,), 0, 0)
    assert [(c.token, c.error) for c in world.connect.calls] == [
        (BASE_TOKEN, "InvalidRequestException"),
        (FILES_TOKEN, "InternalServiceException"),
        (FILES_TOKEN, None),
    ]
    assert world.connect.contacts[0].request["Attributes"]["sesAttachmentsSkipped"] == "; ".join(
        f"{name} (rejected_by_connect:INVALID_FILE_TYPE)" for name in ("contract.pdf", "items.csv")
    )
    again = invoke(world, record)
    assert (again.duplicate, again.contact_ids, len(world.connect.calls)) == (True, (contact_id,), 3)


def test_a_kill_right_after_connect_answered_is_recovered_once_the_lock_ends() -> None:
    world = FakeWorld()
    record = arrive(world, message())
    world.connect.kill_after()
    with pytest.raises(ProcessKilled):
        invoke(world, record)
    contact_id = only_contact_id(world)
    world.new_container()

    world.clock.advance(60)
    with pytest.raises(DeliveryError, match="another invocation is creating this contact"):
        invoke(world, record)
    world.clock.advance(120)
    result = invoke(world, record)

    assert (result.contact_ids, result.contacts_without_id) == ((contact_id,), 0)
    assert [c.error for c in world.connect.calls] == [None, None]
    assert len(world.connect.contacts) == 1


def test_an_answer_without_contact_id_is_replayed_for_the_id() -> None:
    world = FakeWorld()
    record = arrive(world, message())
    world.connect.answer_without_id()
    with pytest.raises(DeliveryError) as raised:
        invoke(world, record)
    assert (raised.value.code, raised.value.retryable) == ("MissingContactId", True)

    result = invoke(world, record)

    assert result.contact_ids == (only_contact_id(world),)


def test_a_failed_completion_write_leaves_the_lock_and_the_retry_replays() -> None:
    world = FakeWorld()
    assert world.ledger is not None
    world.ledger.faults.fail(
        "save_success", StorageError("cannot write the idempotency table", code="Throttled")
    )
    record = arrive(world, message())
    with pytest.raises(StorageError):
        invoke(world, record)
    world.clock.advance(180)

    result = invoke(world, record)

    assert result.contact_ids == (only_contact_id(world),)
    assert [c.created for c in world.connect.calls] == [True, False]


def test_a_failed_thread_index_write_is_a_defect_not_an_error() -> None:
    world = FakeWorld()
    world.threads.faults.fail(
        "remember", StorageError("cannot write thread index", code="ThrottlingException")
    )
    record = arrive(world, message())

    result = invoke(world, record)

    assert result.contact_ids == (only_contact_id(world),)
    assert "thread_index_not_written:ThrottlingException" in result.defects
    assert invoke(world, record).duplicate is True  # not retried, and nothing more is created
    assert len(world.connect.contacts) == 1


# --- Fallbacks and what IdempotencyException proves --------------------------------------------------------


@pytest.mark.parametrize("reading", READINGS)
def test_an_unknown_thread_root_gives_an_unlinked_flagged_contact(reading: RefusedTokens) -> None:
    world = FakeWorld(reading)
    world.threads.remember("<parent@example.org>", "deleted-contact", "deleted-root")
    record = arrive(world, message(message_id="<reply@example.org>", in_reply_to="<parent@example.org>"))

    result = invoke(world, record)

    [contact] = world.connect.contacts
    assert (result.contact_ids, result.related_contact_id) == ((contact.contact_id,), None)
    assert "RelatedContactId" not in contact.request
    assert contact.request["Attributes"]["sesRelatedContactUnknown"] == "deleted-root"
    assert [(c.token, c.error) for c in world.connect.calls] == [
        (BASE_TOKEN, "ResourceNotFoundException"),
        (RELATED_TOKEN, None),
    ]
    assert world.threads.items["<reply@example.org>"][:2] == (contact.contact_id, contact.contact_id)


def test_when_unlinking_does_not_help_the_first_error_stands_and_a_redrive_links() -> None:
    world = FakeWorld()
    world.connect.known_contact_ids.add("root-contact")
    world.threads.remember("<parent@example.org>", "root-contact", "root-contact")
    record = arrive(world, message(in_reply_to="<parent@example.org>", files=False))
    world.connect.refuse("ResourceNotFoundException", count=2)

    with pytest.raises(DeliveryError) as raised:
        invoke(world, record)
    assert (raised.value.code, raised.value.retryable) == ("ResourceNotFoundException", False)
    assert world.connect.contacts == []

    redriven = invoke(world, record)  # fixed: the failed unlinked attempt left nothing behind
    assert redriven.related_contact_id == "root-contact"
    assert world.connect.contacts[0].request["RelatedContactId"] == "root-contact"


def test_without_a_ledger_an_idempotency_answer_is_never_a_success() -> None:
    world = FakeWorld(with_ledger=False)
    record = arrive(world, message())
    invoke(world, record)
    world.clock.advance(1)  # the retry's URLs carry another X-Amz-Date

    with pytest.raises(IdempotencyConflict) as raised:
        invoke(world, record)

    assert (raised.value.reason, raised.value.retryable) == ("token_used_by_unrecorded_request", False)
    assert len(world.connect.contacts) == 1


def test_an_idempotency_answer_the_ledger_cannot_explain_is_never_a_success() -> None:
    world = FakeWorld()
    record = arrive(world, message())
    answer_lost(world, record)
    assert world.ledger is not None
    del world.ledger.deliveries[MESSAGE_ID]

    with pytest.raises(IdempotencyConflict) as raised:
        invoke(world, record)

    assert raised.value.reason == "token_used_by_unrecorded_request"
    assert len(world.connect.contacts) == 1


def test_a_duplicate_invocation_neither_calls_connect_nor_stores_files() -> None:
    world = FakeWorld()
    record = arrive(world, message())
    first = invoke(world, record)
    versions = {key: list(data) for key, data in world.attachments.versions.items()}

    second = invoke(world, record)

    assert (second.duplicate, second.contact_ids) == (True, first.contact_ids)
    assert (len(world.connect.calls), world.attachments.versions) == (1, versions)


def test_the_url_lengths_are_reported_by_the_sink_once() -> None:
    world = FakeWorld()
    invoke(world, arrive(world, message()))

    lengths = world.attachments.take_url_lengths()

    assert len(lengths) == 2
    assert lengths == [len(a["S3Url"]) for a in world.connect.contacts[0].request["Attachments"]]
    assert world.attachments.take_url_lengths() == []


def test_a_reply_to_an_agents_reply_joins_its_thread_and_the_reply_is_remembered() -> None:
    world = FakeWorld()
    world.connect.known_contact_ids.update({"root-contact", "agent-contact"})
    world.threads.remember_customer_thread("customer@example.org", "root-contact")
    world.replies.replies.append(AgentReply("<agent@connect.example>", "agent-contact", "root-contact"))
    record = arrive(world, message(in_reply_to="<agent@connect.example>", files=False))

    result = invoke(world, record)

    assert result.related_contact_id == "root-contact"
    assert world.connect.contacts[0].request["Attributes"]["sesThreadMatch"] == "agent-reply"
    assert world.threads.items["<agent@connect.example>"] == (
        "agent-contact",
        "root-contact",
        ThreadMatch.AGENT_REPLY,
    )
