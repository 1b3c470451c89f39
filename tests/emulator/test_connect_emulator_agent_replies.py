"""The emulator's agent replies, through boto3 over real HTTP: CreateContact (EMAIL, AGENT_REPLY),
StartOutboundEmailContact and the email it sends, the reply's stored message and its thread."""

from __future__ import annotations

import http.client
import json
import urllib.request
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator
from tests.emulator import connect_client, error_code

INSTANCE_ID = "11111111-2222-3333-4444-555555555555"
ARN = f"arn:aws:connect:eu-west-2:444455556666:instance/{INSTANCE_ID}"
CUSTOMER_ID = "<first@customer.example>"
SENT: list[tuple[bytes, list[str]]] = []


@pytest.fixture(scope="module")
def emulator() -> Iterator[ConnectEmulator]:
    with ConnectEmulator(
        instances={INSTANCE_ID: ("support@example.com",)},
        account="444455556666",
        region="eu-west-2",
        outbound=lambda raw, recipients: SENT.append((raw, recipients)),
    ) as running:
        yield running


@pytest.fixture
def connect(emulator: ConnectEmulator) -> Any:
    emulator.reset()
    SENT.clear()
    return connect_client(emulator.url, "eu-west-2")


def _inbound(connect: Any, related: str | None = None) -> str:
    headers = {"MESSAGE_ID": CUSTOMER_ID, "REFERENCES": "<older@customer.example>"}
    params: dict[str, Any] = {
        "InstanceId": INSTANCE_ID,
        "FromEmailAddress": {"EmailAddress": "alice@customer.example"},
        "DestinationEmailAddress": "support@example.com",
        "EmailMessage": {
            "MessageSourceType": "RAW",
            "RawMessage": {
                "Subject": "Help",
                "Body": "Hello",
                "ContentType": "text/plain",
                "Headers": headers,
            },
        },
    }
    if related:
        params["RelatedContactId"] = related
    return str(connect.start_email_contact(**params)["ContactId"])


def _reply(connect: Any, related: str, **extra: Any) -> str:
    answer = connect.create_contact(
        InstanceId=INSTANCE_ID,
        Channel="EMAIL",
        InitiationMethod="AGENT_REPLY",
        RelatedContactId=related,
        UserInfo={"UserId": "agent-1"},
        **extra,
    )
    assert answer["ContactArn"] == f"{ARN}/contact/{answer['ContactId']}"
    return str(answer["ContactId"])


def _send(connect: Any, reply: str, **extra: Any) -> None:
    connect.start_outbound_email_contact(
        InstanceId=INSTANCE_ID,
        ContactId=reply,
        FromEmailAddress={"EmailAddress": "support@example.com", "DisplayName": "Support"},
        DestinationEmailAddress={"EmailAddress": "alice@customer.example"},
        EmailMessage={
            "MessageSourceType": "RAW",
            "RawMessage": {"Subject": "Re: Help", "Body": "<p>Done</p>", "ContentType": "text/html"},
        },
        **extra,
    )


def test_an_agent_reply_is_sent_with_the_thread_headers_by_default(connect: Any) -> None:
    first = _inbound(connect)
    reply = _reply(connect, first)
    _send(
        connect, reply, AdditionalRecipients={"CcEmailAddresses": [{"EmailAddress": "bob@customer.example"}]}
    )
    ((raw, recipients),) = SENT
    sent = message_from_bytes(raw)
    assert recipients == ["alice@customer.example", "bob@customer.example"]
    assert (sent["From"], sent["To"], sent["Cc"], sent["Subject"]) == (
        "Support <support@example.com>",
        "alice@customer.example",
        "bob@customer.example",
        "Re: Help",
    )
    assert sent["Message-ID"].endswith("@email.amazonses.com>")
    assert sent["In-Reply-To"] == CUSTOMER_ID
    assert sent["References"] == f"<older@customer.example> {CUSTOMER_ID}"
    assert sent.get_content_type() == "text/html"


def test_the_other_reading_names_nothing_of_the_customer(connect: Any, emulator: ConnectEmulator) -> None:
    emulator.set_agent_replies("none")
    _send(connect, _reply(connect, _inbound(connect)))
    sent = message_from_bytes(SENT[0][0])
    assert sent["In-Reply-To"] is None and sent["References"] is None and sent["Message-ID"]


def test_the_stored_message_is_the_mime_sent_or_a_summary_without_its_id(
    connect: Any, emulator: ConnectEmulator
) -> None:
    first = _inbound(connect)
    reply = _reply(connect, first)
    assert (
        connect.list_contact_references(
            InstanceId=INSTANCE_ID, ContactId=reply, ReferenceTypes=["EMAIL_MESSAGE"]
        )["ReferenceSummaryList"]
        == []
    )  # nothing is stored before it is sent
    _send(connect, reply)
    (reference,) = connect.list_contact_references(
        InstanceId=INSTANCE_ID, ContactId=reply, ReferenceTypes=["EMAIL_MESSAGE"]
    )["ReferenceSummaryList"]
    file_id = reference["EmailMessage"]["Arn"].rsplit("/", 1)[-1]
    assert reference["EmailMessage"]["Arn"] == f"{ARN}/file/{file_id}"
    answer = connect.get_attached_file(
        InstanceId=INSTANCE_ID, FileId=file_id, AssociatedResourceArn=f"{ARN}/contact/{reply}"
    )
    assert (answer["FileStatus"], answer["FileUseCaseType"]) == ("APPROVED", "EMAIL_MESSAGE")
    with urllib.request.urlopen(answer["DownloadUrlMetadata"]["Url"]) as response:  # noqa: S310 (loopback)
        assert response.read() == SENT[0][0]
    with pytest.raises(ClientError) as raised:
        connect.get_attached_file(
            InstanceId=INSTANCE_ID, FileId=file_id, AssociatedResourceArn=f"{ARN}/contact/{first}"
        )
    assert error_code(raised) == "ResourceNotFoundException"

    emulator.set_agent_replies(stored="json")
    other = _reply(connect, first)
    _send(connect, other)
    (reference,) = connect.list_contact_references(
        InstanceId=INSTANCE_ID, ContactId=other, ReferenceTypes=["EMAIL_MESSAGE"]
    )["ReferenceSummaryList"]
    url = connect.get_attached_file(
        InstanceId=INSTANCE_ID,
        FileId=reference["EmailMessage"]["Arn"].rsplit("/", 1)[-1],
        AssociatedResourceArn=f"{ARN}/contact/{other}",
    )["DownloadUrlMetadata"]["Url"]
    with urllib.request.urlopen(url) as response:  # noqa: S310 (loopback)
        assert json.loads(response.read())["Subject"] == "Re: Help"


def test_the_thread_lists_its_contacts_and_agent_replies(connect: Any) -> None:
    first = _inbound(connect)
    second = _inbound(connect, related=first)
    reply = _reply(connect, second)
    other_thread = _inbound(connect)
    summaries = connect.list_associated_contacts(InstanceId=INSTANCE_ID, ContactId=second)[
        "ContactSummaryList"
    ]
    assert [(s["ContactId"], s["InitiationMethod"], s.get("RelatedContactId")) for s in summaries] == [
        (first, "API", None),
        (second, "API", first),
        (reply, "AGENT_REPLY", second),
    ]
    assert all(s["Channel"] == "EMAIL" and s["ContactArn"].startswith(ARN) for s in summaries)
    assert connect.describe_contact(InstanceId=INSTANCE_ID, ContactId=reply)["Contact"][
        "InitiationMethod"
    ] == ("AGENT_REPLY")
    assert (
        connect.describe_contact(InstanceId=INSTANCE_ID, ContactId=second)["Contact"]["RelatedContactId"]
        == first
    )
    page = connect.list_associated_contacts(InstanceId=INSTANCE_ID, ContactId=first, MaxResults=2)
    assert len(page["ContactSummaryList"]) == 2 and page["NextToken"] == "2"
    (alone,) = connect.list_associated_contacts(InstanceId=INSTANCE_ID, ContactId=other_thread)[
        "ContactSummaryList"
    ]
    assert alone["ContactId"] == other_thread


def test_create_contact_refuses_what_an_agent_reply_cannot_be(connect: Any) -> None:
    first = _inbound(connect)
    base = {"InstanceId": INSTANCE_ID, "Channel": "EMAIL", "InitiationMethod": "AGENT_REPLY"}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({**base, "RelatedContactId": first}, "InvalidRequestException", "UserInfo is required"),
        ({**base, "UserInfo": {"UserId": "a"}}, "InvalidRequestException", "needs the RelatedContactId"),
        (
            {**base, "UserInfo": {"UserId": "a"}, "RelatedContactId": "nope"},
            "ResourceNotFoundException",
            "RelatedContactId nope was not found",
        ),
        (
            {**base, "Channel": "TASK", "InitiationMethod": "API"},
            "InvalidRequestException",
            "EMAIL AGENT_REPLY",
        ),
        (
            {**base, "InstanceId": "00000000-0000-0000-0000-000000000000"},
            "ResourceNotFoundException",
            "not found",
        ),
    ]
    for params, code, words in cases:
        with pytest.raises(ClientError) as raised:
            connect.create_contact(**params)
        assert (error_code(raised), words in raised.value.response["Error"]["Message"]) == (code, True), (
            params
        )


def test_create_contact_is_idempotent_per_client_token(connect: Any) -> None:
    first = _inbound(connect)
    assert _reply(connect, first, ClientToken="t-1") == _reply(connect, first, ClientToken="t-1")
    with pytest.raises(ClientError) as raised:
        _reply(connect, first, ClientToken="t-1", Name="other")
    assert error_code(raised) == "IdempotencyException"


def test_start_outbound_refuses_unknown_contacts_foreign_senders_and_a_second_send(connect: Any) -> None:
    reply = _reply(connect, _inbound(connect))
    with pytest.raises(ClientError) as raised:
        _send(connect, "00000000-aaaa-bbbb-cccc-000000000000")
    assert error_code(raised) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        connect.start_outbound_email_contact(
            InstanceId=INSTANCE_ID,
            ContactId=reply,
            FromEmailAddress={"EmailAddress": "someone@elsewhere.example"},
            DestinationEmailAddress={"EmailAddress": "alice@customer.example"},
            EmailMessage={
                "MessageSourceType": "RAW",
                "RawMessage": {"Subject": "Re", "Body": "x", "ContentType": "text/plain"},
            },
        )
    assert "FromEmailAddress is not an email address" in raised.value.response["Error"]["Message"]
    _send(connect, reply, ClientToken="send-1")
    _send(connect, reply, ClientToken="send-1")  # the same request again: answered, not sent twice
    assert len(SENT) == 1
    with pytest.raises(ClientError) as raised:
        _send(connect, reply, ClientToken="send-2")
    assert error_code(raised) == "InvalidRequestException"


def test_the_model_is_enforced_on_the_server(emulator: ConnectEmulator) -> None:
    """What botocore would refuse to send is refused by the emulator too (an empty Subject)."""
    body = {
        "ContactId": "c",
        "DestinationEmailAddress": {"EmailAddress": "alice@customer.example"},
        "EmailMessage": {
            "MessageSourceType": "RAW",
            "RawMessage": {"Subject": "", "Body": "x", "ContentType": "text/plain"},
        },
        "InstanceId": INSTANCE_ID,
    }
    host, port = emulator.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(
        "PUT", "/contact/outbound-email", json.dumps(body), {"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == 400
    assert response.getheader("x-amzn-ErrorType") == "InvalidRequestException"
    assert "EmailMessage.RawMessage.Subject" in answer["message"]


def test_long_ids_are_written_whole_not_encoded(connect: Any) -> None:
    long_id = f"<{'x' * 120}@customer.example>"
    first = str(
        connect.start_email_contact(
            InstanceId=INSTANCE_ID,
            FromEmailAddress={"EmailAddress": "alice@customer.example"},
            DestinationEmailAddress="support@example.com",
            EmailMessage={
                "MessageSourceType": "RAW",
                "RawMessage": {
                    "Subject": "Help",
                    "Body": "Hello",
                    "ContentType": "text/plain",
                    "Headers": {"MESSAGE_ID": long_id},
                },
            },
        )["ContactId"]
    )
    _send(connect, _reply(connect, first))
    sent = message_from_bytes(SENT[0][0])
    assert (sent["In-Reply-To"], sent["References"]) == (long_id, long_id)
