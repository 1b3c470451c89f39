"""Reply threading and exactly-once contacts with their ids, over real HTTP.

"Exactly once" is checked where it matters: the contacts the Connect emulator holds, the
StartEmailContact requests it answered (``emulator.attempts()``) and the attachment objects
S3 holds (the bucket is versioned, so every upload is a new version). The emulator checks
every attachment URL's SigV4 signature and dates before its idempotency check, so a retry
gets the contact's id back only by sending the very request that created it.

Every crash point and fallback is tested against in-memory ports in tests/pipeline; here stay
the concerns only the wire shows: the credentials a new container signs with, URLs whose
credentials expired, a real read timeout, Powertools' records in DynamoDB, Connect's refusals
as botocore parses them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from ses_to_connect import handler
from ses_to_connect.adapters.threads import ThreadIndex
from ses_to_connect.convert import client_token, variant_token
from ses_to_connect.delivery import Drop
from ses_to_connect.errors import DeliveryError, StorageError
from ses_to_connect_tools.local_pipeline.aws import (
    SUPPORT_ADDRESS,
    THREADS_TABLE,
    LocalAws,
)
from ses_to_connect_tools.local_pipeline.connect_emulator import (
    Attempt,
    ConnectEmulator,
    EmailContact,
    RefusedTokens,
    SigningKey,
)
from ses_to_connect_tools.local_pipeline.lambda_runtime import LambdaContext
from tests.support.mail import wire

from . import (
    assert_sent,
    attach,
    attachment_versions,
    contacts_of,
    container,
    decoded,
    deliver,
    failure_records_for,
    invoke,
    new_container,
    new_message,
    next_second,
    only_contact,
    ses_message_id,
    store,
    unique_message_id,
)

CREATED = Attempt(200, None)  # a new contact, or the one a byte-identical request created
IDEMPOTENCY_ANSWER = Attempt(409, "IdempotencyException")
LOST = Attempt(500, "InternalServiceException")  # the contact was created, the answer lost


class Crash(RuntimeError):
    """The function dies here (an out-of-memory kill, a timeout, a bug)."""


def crash_once(monkeypatch: pytest.MonkeyPatch, owner: type[Any], name: str) -> list[str]:
    """Make ``owner.name`` raise :class:`Crash` on its first call only; returns the call log."""
    original: Callable[..., Any] = getattr(owner, name)
    calls: list[str] = []

    def crashing(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        if len(calls) == 1:
            raise Crash(f"simulated crash in {owner.__name__}.{name}")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, crashing)
    return calls


def with_attachments(subject: str, **headers: str) -> tuple[EmailMessage, list[tuple[str, bytes]]]:
    """A message with two attachments; returns it and the (name, decoded bytes) expected in Connect."""
    message = new_message(subject, **headers)
    parts = [
        attach(message, f"%PDF-1.4 {subject} contract\n".encode(), "application/pdf", "contract.pdf"),
        attach(message, f"item,qty\n{subject},1\n".encode(), "text/csv", "items.csv"),
    ]
    return message, [("contract.pdf", decoded(parts[0])), ("items.csv", decoded(parts[1]))]


def lose_the_answer(
    monkeypatch: pytest.MonkeyPatch, emulator: ConnectEmulator, event: dict[str, Any]
) -> EmailContact:
    """The first invocation creates the contact but never hears its id (one botocore attempt)."""
    container(monkeypatch, connect_max_attempts=1)
    emulator.lose_answers(1)
    with pytest.raises(DeliveryError, match="InternalServiceException") as raised:
        invoke(event)
    assert raised.value.retryable is True
    return only_contact(emulator, ses_message_id(event))


def answer_lost_then_new_container(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch, subject: str, **headers: str
) -> tuple[dict[str, Any], EmailContact, list[tuple[str, bytes]]]:
    """A message with attachments whose contact was created, its answer lost; Lambda's retry is next."""
    message, expected = with_attachments(subject, **headers)
    event = store(aws, wire(message))
    contact = lose_the_answer(monkeypatch, emulator, event)
    new_container(monkeypatch, emulator)
    return event, contact, expected


def signed_by(contact: EmailContact) -> set[str]:
    return {a["S3Url"].split("X-Amz-Credential=")[1].split("%2F")[0] for a in contact.params["Attachments"]}


def thread_item(aws: LocalAws, message_id_header: str) -> dict[str, str] | None:
    item = (
        aws.client("dynamodb")
        .get_item(TableName=THREADS_TABLE, Key={"messageId": {"S": message_id_header}}, ConsistentRead=True)
        .get("Item")
    )
    return None if item is None else {name: value["S"] for name, value in item.items() if "S" in value}


def assert_links_only_to_existing_contacts(emulator: ConnectEmulator, contact: EmailContact) -> None:
    related = contact.params.get("RelatedContactId")
    existing = {c.contact_id for c in emulator.contacts()}
    assert related is None or related in existing, f"RelatedContactId {related!r} names no contact"


# --- Reply threading -------------------------------------------------------------------------------------


def test_three_message_reply_thread_links_to_the_first_contact(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    first_id, second_id, third_id = unique_message_id(), unique_message_id(), unique_message_id()
    first = new_message("Refund request", Message_ID=first_id)
    second = new_message(
        "Re: Refund request", Message_ID=second_id, In_Reply_To=first_id, References=first_id
    )
    third = new_message(
        "Re: Re: Refund request",
        Message_ID=third_id,
        In_Reply_To=second_id,
        References=f"{first_id} {second_id}",
    )

    ids_and_results = [deliver(aws, message) for message in (first, second, third)]

    contacts = [only_contact(emulator, message_id) for message_id, _ in ids_and_results]
    root = contacts[0].contact_id
    assert "RelatedContactId" not in contacts[0].params
    assert [c.params.get("RelatedContactId") for c in contacts[1:]] == [root, root]
    assert [result["relatedContactId"] for _, result in ids_and_results] == [None, root, root]
    headers = [c.params["EmailMessage"]["RawMessage"]["Headers"] for c in contacts]
    assert [h["MESSAGE_ID"] for h in headers] == [first_id, second_id, third_id]
    assert (headers[2]["IN_REPLY_TO"], headers[2]["REFERENCES"]) == (second_id, f"{first_id} {second_id}")
    assert thread_item(aws, third_id) == {
        "messageId": third_id,
        "contactId": contacts[2].contact_id,
        "rootContactId": root,
    }


def test_references_are_searched_newest_first_without_in_reply_to(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    older_id, newer_id = unique_message_id(), unique_message_id()
    older_id_result = deliver(aws, new_message("Older thread", Message_ID=older_id))
    newer_id_result = deliver(aws, new_message("Newer thread", Message_ID=newer_id))
    unknown = unique_message_id()

    message_id, result = deliver(aws, new_message("Re: both", References=f"{older_id} {newer_id} {unknown}"))

    newer_contact = only_contact(emulator, newer_id_result[0]).contact_id
    assert newer_contact != only_contact(emulator, older_id_result[0]).contact_id
    assert result["relatedContactId"] == newer_contact
    assert only_contact(emulator, message_id).params["RelatedContactId"] == newer_contact


def test_unknown_in_reply_to_is_no_error(aws: LocalAws, emulator: ConnectEmulator) -> None:
    unknown = unique_message_id()

    message_id, result = deliver(aws, new_message("Re: an old conversation", In_Reply_To=unknown))

    assert (result["outcome"], result["relatedContactId"]) == ("contact", None)
    contact = only_contact(emulator, message_id)
    assert "RelatedContactId" not in contact.params
    assert contact.params["EmailMessage"]["RawMessage"]["Headers"]["IN_REPLY_TO"] == unknown


# --- Duplicates ------------------------------------------------------------------------------------------


def test_a_duplicate_invocation_neither_calls_connect_nor_uploads(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    message, expected = with_attachments("Duplicate delivery")
    event = store(aws, wire(message))
    message_id = ses_message_id(event)
    first = invoke(event)
    attempts, versions = emulator.attempts(), attachment_versions(aws, message_id)
    assert (attempts, len(versions)) == ([CREATED], 2)

    second = invoke(event)

    assert (second["outcome"], second["duplicate"]) == ("contact", True)
    assert second["contactIds"] == first["contactIds"]
    assert emulator.attempts() == attempts
    assert attachment_versions(aws, message_id) == versions
    assert_sent(aws, only_contact(emulator, message_id), message_id, expected)


# --- Crash and retry -------------------------------------------------------------------------------------


def _crash_after_connect_before_the_record(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch, message: EmailMessage
) -> tuple[dict[str, Any], dict[str, Any]]:
    """StartEmailContact succeeds, then the function dies before the ledger says COMPLETED.

    The in-progress record it leaves expires with the invocation (the context's remaining
    time, 1 s here); the retry comes after that and replays the stored delivery: the same
    URLs, so the same request, and Connect answers with the contact it created.
    """
    event = store(aws, wire(message))
    crash_once(monkeypatch, BasePersistenceLayer, "save_success")
    with pytest.raises(StorageError, match="cannot write the idempotency table"):
        invoke(event, LambdaContext(timeout_seconds=1.0))
    assert len(emulator.contacts()) == 1
    time.sleep(1.1)
    return event, invoke(event)


def test_crash_after_start_email_contact_before_the_ledger_record(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    message, expected = with_attachments("Crash after Connect")

    event, retried = _crash_after_connect_before_the_record(aws, emulator, monkeypatch, message)

    message_id = ses_message_id(event)
    contact = only_contact(emulator, message_id)
    assert (retried["outcome"], retried["contactIds"], retried["contactsWithoutId"]) == (
        "contact",
        [contact.contact_id],
        0,
    )
    assert emulator.attempts() == [CREATED, CREATED]
    assert_sent(aws, contact, message_id, expected)
    # Now recorded: a later duplicate calls Connect no more.
    again = invoke(event)
    assert (again["outcome"], again["duplicate"], again["contactIds"]) == (
        "contact",
        True,
        [contact.contact_id],
    )
    assert emulator.attempts() == [CREATED, CREATED]
    assert len(emulator.contacts()) == 1


def test_connect_answer_lost_to_a_timeout_then_retry(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contact is created but botocore times out waiting for the answer (no retry of its own)."""
    container(monkeypatch, connect_timeout_seconds=1, connect_max_attempts=1)
    message, expected = with_attachments("Slow Connect")
    event = store(aws, wire(message))
    message_id = ses_message_id(event)
    emulator.set_delay(3)

    with pytest.raises(DeliveryError, match="Read timeout on endpoint URL") as raised:
        invoke(event)
    assert raised.value.retryable is True
    emulator.set_delay(0)
    assert len(emulator.contacts()) == 1
    retried = invoke(event)

    contact = only_contact(emulator, message_id)
    assert (retried["outcome"], retried["contactIds"]) == ("contact", [contact.contact_id])
    assert emulator.attempts() == [CREATED, CREATED]
    assert_sent(aws, contact, message_id, expected)


# --- Without the ledger: Connect's ClientToken is the only guard -----------------------------------------


def _without_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    container(monkeypatch, idempotency_table=None)
    assert handler.pipeline().io.ledger is None


def test_without_ledger_a_retry_keeps_the_thread_linked_to_the_real_contact(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_ledger(monkeypatch)
    own_id = unique_message_id()
    message, _ = with_attachments("No ledger, then a reply", Message_ID=own_id)
    event = store(aws, wire(message))
    invoke(event)
    contact = only_contact(emulator, ses_message_id(event))
    next_second()
    assert handler.lambda_handler(event, LambdaContext())["failed"]["code"] == "IdempotencyException"

    reply_id, _ = deliver(aws, new_message("Re: No ledger, then a reply", In_Reply_To=own_id))

    assert contacts_of(emulator, ses_message_id(event)) == [contact]
    assert only_contact(emulator, reply_id).params.get("RelatedContactId") == contact.contact_id


def test_after_a_crash_before_the_record_a_reply_links_only_to_a_real_contact(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_id = unique_message_id()
    message, _ = with_attachments("Crash after Connect, then a reply", Message_ID=own_id)
    _crash_after_connect_before_the_record(aws, emulator, monkeypatch, message)

    reply_id, result = deliver(aws, new_message("Re: Crash after Connect", In_Reply_To=own_id))

    assert result["outcome"] == "contact"
    assert_links_only_to_existing_contacts(emulator, only_contact(emulator, reply_id))


# --- Lost answers, stale URLs, refused attachments, unknown thread roots ---------------------------------


def test_a_lost_answer_is_recovered_with_its_id_by_a_new_container_with_new_credentials(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_id = unique_message_id()
    event, contact, expected = answer_lost_then_new_container(
        aws, emulator, monkeypatch, "Lost answer", Message_ID=own_id
    )
    message_id = ses_message_id(event)

    retried = invoke(event)

    assert (retried["contactIds"], retried["contactsWithoutId"]) == ([contact.contact_id], 0)
    # The retry replayed the first container's URLs: byte for byte the request that created it.
    assert emulator.attempts() == [LOST, CREATED]
    assert signed_by(contact) == {"testing"}
    assert_sent(aws, contact, message_id, expected)
    assert thread_item(aws, own_id) == {
        "messageId": own_id,
        "contactId": contact.contact_id,
        "rootContactId": contact.contact_id,
    }


@pytest.mark.parametrize("reading", ["kept", "forgotten"])
def test_urls_whose_credentials_expired_early_are_signed_again_and_a_conflict_is_reported(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch, reading: RefusedTokens
) -> None:
    """X-Amz-Expires says valid, but the role session that signed them ended: Connect refuses the replay.

    The URLs are signed again under the same token (a new token could duplicate the contact).
    Connect then answers IdempotencyException, which no longer proves the earlier contact: under
    the "kept" reading the refused replay itself may have used the token up. So the message goes
    to the failure queue with that reason instead of counting as a contact.
    """
    emulator.set_refused_tokens(reading)
    event, contact, _ = answer_lost_then_new_container(aws, emulator, monkeypatch, f"Session ended {reading}")
    message_id = ses_message_id(event)
    emulator.add_signing_key("testing", SigningKey("testing", expires_at=time.time()))
    try:
        response = handler.lambda_handler(event, LambdaContext())
    finally:
        emulator.add_signing_key("testing", SigningKey("testing"))

    assert emulator.attempts() == [LOST, Attempt(400, "InvalidRequestException"), IDEMPOTENCY_ANSWER]
    assert response["failed"]["code"] == "IdempotencyException"
    [record] = failure_records_for(aws, message_id)
    assert "refused request may have used it up" in record["responsePayload"]["errorMessage"]
    assert emulator.contacts() == [contact]


@pytest.mark.parametrize("reading", ["kept", "forgotten"])
def test_refused_attachments_fall_back_under_a_token_of_their_own(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch, reading: RefusedTokens
) -> None:
    emulator.set_refused_tokens(reading)
    message, _ = with_attachments(f"Refused files, tokens {reading}")
    event = store(aws, wire(message))
    message_id = ses_message_id(event)
    emulator.inject_errors("InvalidRequestException", reason="INVALID_FILE_TYPE")
    contact = lose_the_answer(monkeypatch, emulator, event)  # and the fallback's answer is lost too
    new_container(monkeypatch, emulator)

    retried = invoke(event)

    assert (retried["contactIds"], retried["contactsWithoutId"]) == ([contact.contact_id], 0)
    assert (retried["attachmentsSent"], retried["attachmentsSkipped"]) == (
        0,
        {"rejected_by_connect:INVALID_FILE_TYPE": 2},
    )
    base = client_token(message_id, SUPPORT_ADDRESS)
    assert contact.params["ClientToken"] == variant_token(base, [Drop.files("INVALID_FILE_TYPE")]) != base
    assert "Attachments" not in contact.params
    assert contact.params["Attributes"]["sesAttachmentsSkipped"] == "; ".join(
        f"{name} (rejected_by_connect:INVALID_FILE_TYPE)" for name in ("contract.pdf", "items.csv")
    )
    assert emulator.attempts() == [Attempt(400, "InvalidRequestException"), LOST, CREATED]
    again = invoke(event)
    assert (again["duplicate"], again["contactIds"]) == (True, [contact.contact_id])
    assert len(emulator.attempts()) == 3


@pytest.mark.parametrize("reading", ["kept", "forgotten"])
def test_an_unknown_thread_root_gives_an_unlinked_flagged_contact(
    aws: LocalAws, emulator: ConnectEmulator, reading: RefusedTokens
) -> None:
    emulator.set_refused_tokens(reading)
    parent_id, reply_id = unique_message_id(), unique_message_id()
    ThreadIndex(aws.client("dynamodb"), THREADS_TABLE, 1).remember(
        parent_id, "deleted-contact", "deleted-root"
    )

    message_id, result = deliver(
        aws, new_message("Re: an expired contact", Message_ID=reply_id, In_Reply_To=parent_id)
    )

    contact = only_contact(emulator, message_id)
    assert "RelatedContactId" not in contact.params
    assert contact.params["Attributes"]["sesRelatedContactUnknown"] == "deleted-root"
    base = client_token(message_id, SUPPORT_ADDRESS)
    assert contact.params["ClientToken"] == variant_token(base, [Drop.related()])
    assert (result["contactIds"], result["relatedContactId"]) == ([contact.contact_id], None)
    assert emulator.attempts() == [Attempt(404, "ResourceNotFoundException"), CREATED]
    assert thread_item(aws, reply_id) == {
        "messageId": reply_id,
        "contactId": contact.contact_id,
        "rootContactId": contact.contact_id,
    }
