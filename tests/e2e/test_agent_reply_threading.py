"""A customer's answer to an agent's reply joins the thread, over real HTTP.

The agent's reply is made as an agent's desktop makes it (CreateContact EMAIL AGENT_REPLY, then
StartOutboundEmailContact); the emulator sends it as Connect would under each reading of its
undocumented headers and stored copy. The customer answers it the way a mail client does
(In-Reply-To = the reply's Message-ID, References = its References + its Message-ID), and the
contact of that answer must link to the thread's first contact, saying how (``sesThreadMatch``),
or stay unlinked when nothing proves the thread: a wrong link is worse than none.
"""

from __future__ import annotations

import uuid
from email import message_from_bytes
from email.message import Message
from email.utils import parseaddr

import pytest
from botocore.stub import Stubber

from ses_to_connect.adapters.agent_replies import AgentReplies
from ses_to_connect.adapters.threads import ThreadIndex
from ses_to_connect.errors import DeliveryError
from ses_to_connect_tools.local_pipeline.agent_replies import Stored, Threading
from ses_to_connect_tools.local_pipeline.aws import INSTANCE_ID, THREADS_TABLE, LocalAws
from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator
from tests.support.constants import SUPPORT
from tests.support.mail import wire

from . import (
    container,
    deliver,
    invoke,
    new_message,
    only_contact,
    ses_message_id,
    store,
    unique_message_id,
)


def customer() -> str:
    return f"Customer <{uuid.uuid4().hex[:12]}@example.org>"


def first_contact(aws: LocalAws, emulator: ConnectEmulator, sender: str) -> tuple[str, str]:
    """The customer's first email: (its contact id, its Message-ID)."""
    own_id = unique_message_id()
    message_id, _ = deliver(aws, new_message("Where is my order?", From=sender, Message_ID=own_id))
    return only_contact(emulator, message_id).contact_id, own_id


def agent_reply(aws: LocalAws, emulator: ConnectEmulator, contact_id: str, to: str) -> Message:
    """The email an agent's reply to ``contact_id`` sends, as the customer receives it."""
    connect = aws.client("connect")
    sent: list[bytes] = []
    emulator.agent_replies.outbound = lambda raw, _recipients: sent.append(raw)
    reply = connect.create_contact(
        InstanceId=INSTANCE_ID,
        Channel="EMAIL",
        InitiationMethod="AGENT_REPLY",
        RelatedContactId=contact_id,
        UserInfo={"UserId": "agent-1"},
    )["ContactId"]
    connect.start_outbound_email_contact(
        InstanceId=INSTANCE_ID,
        ContactId=reply,
        FromEmailAddress={"EmailAddress": SUPPORT},
        DestinationEmailAddress={"EmailAddress": parseaddr(to)[1]},
        EmailMessage={
            "MessageSourceType": "RAW",
            "RawMessage": {
                "Subject": "Re: Where is my order?",
                "Body": "On its way.",
                "ContentType": "text/plain",
            },
        },
    )
    (raw,) = sent
    return message_from_bytes(raw)


def answer(reply: Message, sender: str) -> Message:
    """The customer's answer to ``reply``, with the threading headers a mail client writes."""
    references = " ".join(filter(None, (reply["References"], reply["Message-ID"])))
    return new_message(
        "Re: Re: Where is my order?", From=sender, In_Reply_To=reply["Message-ID"], References=references
    )


def thread_item(aws: LocalAws, key: str) -> dict[str, str] | None:
    item = aws.client("dynamodb").get_item(TableName=THREADS_TABLE, Key={"messageId": {"S": key}}).get("Item")
    return None if item is None else {name: value["S"] for name, value in item.items() if "S" in value}


@pytest.mark.parametrize(
    ("threading", "stored", "match"),
    [
        ("headers", "mime", "references"),
        ("headers", "json", "references"),
        ("none", "mime", "agent-reply"),
        ("none", "json", None),
    ],
)
def test_an_answer_to_an_agent_reply_joins_the_thread_under_each_reading(
    aws: LocalAws, emulator: ConnectEmulator, threading: Threading, stored: Stored, match: str | None
) -> None:
    emulator.set_agent_replies(threading, stored)
    sender = customer()
    root, _ = first_contact(aws, emulator, sender)
    reply = agent_reply(aws, emulator, root, sender)

    message_id, result = deliver(aws, answer(reply, sender))

    contact = only_contact(emulator, message_id)
    assert contact.params.get("RelatedContactId") == (root if match else None)
    assert contact.params["Attributes"].get("sesThreadMatch") == match
    assert result["relatedContactId"] == (root if match else None)
    learned = thread_item(aws, reply["Message-ID"])
    if match == "agent-reply":
        (reply_contact,) = [r.contact_id for r in emulator.agent_replies.replies()]
        assert learned == {
            "messageId": reply["Message-ID"],
            "contactId": reply_contact,
            "rootContactId": root,
            "matchedBy": "agent-reply",
        }
    else:
        assert learned is None


def test_a_learned_reply_links_later_answers_without_asking_connect_again(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.set_agent_replies("none", "mime")
    sender = customer()
    root, _ = first_contact(aws, emulator, sender)
    reply = agent_reply(aws, emulator, root, sender)
    deliver(aws, answer(reply, sender))

    def no_connect(*_args: object) -> list[object]:
        raise AssertionError("Connect was asked again")

    monkeypatch.setattr(AgentReplies, "find", no_connect)
    message_id, _ = deliver(aws, answer(reply, sender))  # the customer answers the same reply again
    contact = only_contact(emulator, message_id)
    assert (contact.params["RelatedContactId"], contact.params["Attributes"]["sesThreadMatch"]) == (
        root,
        "agent-reply",
    )


def test_an_answer_naming_another_customers_agent_reply_links_nothing(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    """Only the sender's own recent threads are searched: a forwarded or guessed id links nothing."""
    emulator.set_agent_replies("none", "mime")
    alice, mallory = customer(), customer()
    root, _ = first_contact(aws, emulator, alice)
    first_contact(aws, emulator, mallory)  # mallory has a thread of her own
    reply = agent_reply(aws, emulator, root, alice)

    message_id, result = deliver(aws, answer(reply, mallory))

    contact = only_contact(emulator, message_id)
    assert "RelatedContactId" not in contact.params and "sesThreadMatch" not in contact.params["Attributes"]
    assert result["relatedContactId"] is None


def test_a_reply_of_the_customers_own_message_says_references(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    sender = customer()
    root, own_id = first_contact(aws, emulator, sender)
    message_id, _ = deliver(aws, new_message("Re: Where is my order?", From=sender, In_Reply_To=own_id))
    contact = only_contact(emulator, message_id)
    assert (contact.params["RelatedContactId"], contact.params["Attributes"]["sesThreadMatch"]) == (
        root,
        "references",
    )
    assert thread_item(aws, f"customer:{parseaddr(sender)[1]}") is not None


def test_a_customer_without_threads_costs_no_connect_call(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_connect(*_args: object) -> list[object]:
        raise AssertionError("Connect was asked")

    monkeypatch.setattr(AgentReplies, "find", no_connect)
    message_id, _ = deliver(
        aws, new_message("Re: something", From=customer(), In_Reply_To=unique_message_id())
    )
    assert "RelatedContactId" not in only_contact(emulator, message_id).params


def test_connect_refusing_the_reads_leaves_the_contact_unlinked_not_failed(aws: LocalAws) -> None:
    connect = aws.client("connect")
    with Stubber(connect) as stub:
        stub.add_client_error("list_associated_contacts", "AccessDeniedException", http_status_code=403)
        assert AgentReplies(connect, INSTANCE_ID).find(["root-1"], {"<x@y>"}) == []
        stub.assert_no_pending_responses()


def test_a_stored_message_without_one_usable_message_id_teaches_nothing(aws: LocalAws) -> None:
    connect = aws.client("connect")
    arn = f"arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE_ID}"
    summary = {
        "ContactId": "reply-1",
        "ContactArn": f"{arn}/contact/reply-1",
        "InitiationMethod": "AGENT_REPLY",
        "Channel": "EMAIL",
    }
    too_long = f"<{'a' * 997}@x>".encode()
    heads = [
        b"Subject: no id\r\n\r\n",
        b"Message-ID: <a@x> <b@x>\r\n\r\n",
        b"Message-ID: " + too_long + b"\r\n\r\n",
    ]
    replies = AgentReplies(connect, INSTANCE_ID, download=lambda _url: heads.pop(0))
    with Stubber(connect) as stub:
        for _ in range(3):
            stub.add_response("list_associated_contacts", {"ContactSummaryList": [summary]})
            stub.add_response(
                "list_contact_references",
                {"ReferenceSummaryList": [{"EmailMessage": {"Name": "m", "Arn": f"{arn}/file/f-1"}}]},
            )
            stub.add_response(
                "get_attached_file",
                {
                    "FileStatus": "APPROVED",
                    "FileSizeInBytes": 40,
                    "DownloadUrlMetadata": {"Url": "https://example.invalid/f-1"},
                },
            )
        for _ in range(3):
            assert replies.find(["root-1"], {"<a@x>", too_long.decode()}) == []
        stub.assert_no_pending_responses()


def test_remembered_threads_per_customer_keep_the_newest_three(aws: LocalAws) -> None:
    index = ThreadIndex(aws.client("dynamodb"), THREADS_TABLE, 1)
    address = f"{uuid.uuid4().hex}@example.org"
    for root in ("r1", "r2", "r3", "r2", "r4"):
        index.remember_customer_thread(address.upper(), root)
    assert index.customer_threads(address) == ["r4", "r2", "r3"]
    assert index.entries([f"customer:{address}"]) == {}  # never read as a Message-ID
    huge = f"{'x' * 250}@example.org"  # longer than any deliverable address: not kept
    index.remember_customer_thread(huge, "r1")
    assert index.customer_threads(huge) == []
    assert thread_item(aws, f"customer:{huge}") is None


def test_a_retry_after_a_lost_answer_sends_the_same_linked_request(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link and its attribute are recorded before Connect is called: the retry asks Connect
    nothing about agent replies and gets the contact's id back with a byte-identical request."""
    emulator.set_agent_replies("none", "mime")
    sender = customer()
    root, _ = first_contact(aws, emulator, sender)
    reply = agent_reply(aws, emulator, root, sender)
    event = store(aws, wire(answer(reply, sender)))
    container(monkeypatch, connect_max_attempts=1)  # one botocore attempt: the answer is lost for good
    emulator.lose_answers(1)
    with pytest.raises(DeliveryError, match="InternalServiceException"):
        invoke(event)

    def no_connect(*_args: object) -> list[object]:
        raise AssertionError("the retry asked Connect about agent replies again")

    monkeypatch.setattr(AgentReplies, "find", no_connect)
    result = invoke(event)
    contact = only_contact(emulator, ses_message_id(event))
    assert result["contactIds"] == [contact.contact_id]
    assert (contact.params["RelatedContactId"], contact.params["Attributes"]["sesThreadMatch"]) == (
        root,
        "agent-reply",
    )
