"""The emulator's read-only operations (preflight and smoke use them), through boto3 over real HTTP."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator
from tests.emulator import connect_client, error_code

INSTANCE_ID = "11111111-2222-3333-4444-555555555555"
OTHER_INSTANCE = "99999999-2222-3333-4444-555555555555"
ADDRESSES = ("billing@example.com", "support@example.com", "sales@example.com")


@pytest.fixture(scope="module")
def emulator() -> Iterator[ConnectEmulator]:
    with ConnectEmulator(
        instances={INSTANCE_ID: ADDRESSES, OTHER_INSTANCE: ()},
        storage={INSTANCE_ID: ("EMAIL_MESSAGES", "ATTACHMENTS")},
        account="444455556666",
        region="eu-west-2",
    ) as running:
        yield running


@pytest.fixture
def connect(emulator: ConnectEmulator) -> Any:
    emulator.reset()
    return connect_client(emulator.url, "eu-west-2")


def test_describe_instance(connect: Any) -> None:
    instance = connect.describe_instance(InstanceId=INSTANCE_ID)["Instance"]
    assert instance["Id"] == INSTANCE_ID
    assert instance["Arn"] == f"arn:aws:connect:eu-west-2:444455556666:instance/{INSTANCE_ID}"
    assert instance["InstanceStatus"] == "ACTIVE"
    with pytest.raises(ClientError) as raised:
        connect.describe_instance(InstanceId="00000000-0000-0000-0000-000000000000")
    assert error_code(raised) == "ResourceNotFoundException"


def test_storage_configs_per_resource_type(connect: Any) -> None:
    (config,) = connect.list_instance_storage_configs(InstanceId=INSTANCE_ID, ResourceType="EMAIL_MESSAGES")[
        "StorageConfigs"
    ]
    assert (config["StorageType"], config["S3Config"]["BucketPrefix"]) == ("S3", "email_messages")
    assert (
        connect.list_instance_storage_configs(InstanceId=OTHER_INSTANCE, ResourceType="ATTACHMENTS")[
            "StorageConfigs"
        ]
        == []
    )
    assert (
        connect.list_instance_storage_configs(InstanceId=INSTANCE_ID, ResourceType="CALL_RECORDINGS")[
            "StorageConfigs"
        ]
        == []
    )


def test_storage_resource_type_is_checked_against_the_model(connect: Any, emulator: ConnectEmulator) -> None:
    # botocore validates the enum on the client too; a raw request shows the emulator does as well.
    with pytest.raises(ParamValidationError):
        connect.list_instance_storage_configs(InstanceId=INSTANCE_ID)
    host, port = emulator.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", f"/instance/{INSTANCE_ID}/storage-configs?resourceType=EVERYTHING")
    response = connection.getresponse()
    assert (response.status, response.getheader("x-amzn-ErrorType")) == (400, "InvalidRequestException")
    assert b"satisfy enum value set" in response.read()
    connection.close()


def test_search_email_addresses_pages_through_the_instance(connect: Any) -> None:
    first = connect.search_email_addresses(InstanceId=INSTANCE_ID, MaxResults=2)
    assert [a["EmailAddress"] for a in first["EmailAddresses"]] == [
        "billing@example.com",
        "sales@example.com",
    ]
    assert first["ApproximateTotalCount"] == 3
    rest = connect.search_email_addresses(InstanceId=INSTANCE_ID, MaxResults=2, NextToken=first["NextToken"])
    assert [a["EmailAddress"] for a in rest["EmailAddresses"]] == ["support@example.com"]
    assert "NextToken" not in rest
    arn = rest["EmailAddresses"][0]["EmailAddressArn"]
    assert arn.startswith(f"arn:aws:connect:eu-west-2:444455556666:instance/{INSTANCE_ID}/email-address/")
    with pytest.raises(ClientError) as raised:
        connect.search_email_addresses(InstanceId="00000000-0000-0000-0000-000000000000")
    assert error_code(raised) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        connect.search_email_addresses(InstanceId=INSTANCE_ID, MaxResults=101)
    assert error_code(raised) == "InvalidRequestException"


def _start(connect: Any, **extra: Any) -> str:
    contact_id: str = connect.start_email_contact(
        InstanceId=INSTANCE_ID,
        FromEmailAddress={"EmailAddress": "customer@example.org"},
        DestinationEmailAddress="support@example.com",
        EmailMessage={
            "MessageSourceType": "RAW",
            "RawMessage": {"Subject": "s", "Body": "b", "ContentType": "text/plain"},
        },
        **extra,
    )["ContactId"]
    return contact_id


def test_a_created_contact_can_be_described_with_its_attributes_and_references(connect: Any) -> None:
    contact_id = _start(
        connect,
        Attributes={"sesAttachmentsSent": "0"},
        References={"rawMessage": {"Value": "s3://b/inbound/x", "Type": "STRING"}},
    )
    contact = connect.describe_contact(InstanceId=INSTANCE_ID, ContactId=contact_id)["Contact"]
    assert (contact["Id"], contact["Channel"]) == (contact_id, "EMAIL")
    assert connect.get_contact_attributes(InstanceId=INSTANCE_ID, InitialContactId=contact_id)[
        "Attributes"
    ] == {"sesAttachmentsSent": "0"}
    strings = connect.list_contact_references(
        InstanceId=INSTANCE_ID, ContactId=contact_id, ReferenceTypes=["STRING", "ATTACHMENT"]
    )["ReferenceSummaryList"]
    assert strings == [{"String": {"Name": "rawMessage", "Value": "s3://b/inbound/x"}}]
    unknown: list[tuple[str, dict[str, Any]]] = [
        ("describe_contact", {"InstanceId": INSTANCE_ID, "ContactId": "nope"}),
        ("get_contact_attributes", {"InstanceId": OTHER_INSTANCE, "InitialContactId": contact_id}),
        (
            "list_contact_references",
            {"InstanceId": INSTANCE_ID, "ContactId": "nope", "ReferenceTypes": ["URL"]},
        ),
    ]
    for operation, params in unknown:
        with pytest.raises(ClientError) as raised:
            getattr(connect, operation)(**params)
        assert error_code(raised) == "ResourceNotFoundException"


def test_a_failure_inside_a_read_answers_500_as_start_email_contact_does(
    connect: Any, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(params: Any) -> dict[str, Any]:
        raise KeyError("a bug in the emulator")

    monkeypatch.setattr(emulator, "_describe_instance", broken)
    with pytest.raises(ClientError) as raised:
        connect.describe_instance(InstanceId=INSTANCE_ID)
    assert error_code(raised) == "InternalServiceException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "a bug in the emulator" in raised.value.response["Error"]["Message"]
