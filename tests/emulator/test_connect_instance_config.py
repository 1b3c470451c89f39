"""The emulator's model of an instance's configuration (``connect_instance_config.py``):
flows, the flow each address starts, the email attached-files configuration, each read through
boto3 over real HTTP and checked as strictly as the botocore model, and enforced on StartEmailContact."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator
from ses_to_connect_tools.local_pipeline.connect_instance_config import (
    DEFAULT_EMAIL_EXTENSIONS,
    AttachedFiles,
    Flow,
    email_address_id,
)
from tests.emulator.test_connect_emulator import (
    INSTANCE_ID,
    attachment,
    connect_client,
    minimal_request,
    presigned,
    reason_of,
    s3,  # noqa: F401 - the fixture
)

DESTINATION = minimal_request()["DestinationEmailAddress"]
INBOUND = "846ec553-a005-41c0-8341-0123456789ab"
WHISPER = "11111111-aaaa-bbbb-cccc-222222222222"
DRAFT = "33333333-aaaa-bbbb-cccc-444444444444"
OTHER = "55555555-aaaa-bbbb-cccc-666666666666"
INSTANCE_ARN = f"arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE_ID}"


@pytest.fixture(scope="module")
def emulator() -> Iterator[ConnectEmulator]:
    flows = [
        Flow(INBOUND, "Email inbound"),
        Flow(WHISPER, "Agent whisper", type="AGENT_WHISPER"),
        Flow(DRAFT, "Draft", status="SAVED"),
    ]
    with ConnectEmulator(
        instances={INSTANCE_ID: [DESTINATION, "other@example.com"]},
        flows={INSTANCE_ID: flows},
        address_flows={INSTANCE_ID: {DESTINATION: INBOUND}},
    ) as running:
        yield running


@pytest.fixture
def client(emulator: ConnectEmulator) -> Any:
    emulator.reset()
    return connect_client(emulator.url, Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def _code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def test_describe_contact_flow(client: Any) -> None:
    flow = client.describe_contact_flow(InstanceId=INSTANCE_ID, ContactFlowId=INBOUND)["ContactFlow"]
    assert (flow["Id"], flow["Arn"], flow["Type"], flow["State"], flow["Status"]) == (
        INBOUND,
        f"{INSTANCE_ARN}/contact-flow/{INBOUND}",
        "CONTACT_FLOW",
        "ACTIVE",
        "PUBLISHED",
    )
    assert client.describe_contact_flow(InstanceId=INSTANCE_ID, ContactFlowId=WHISPER)["ContactFlow"][
        "Type"
    ] == ("AGENT_WHISPER")
    for flow_id, code in (
        (OTHER, "ResourceNotFoundException"),
        (DRAFT, "ContactFlowNotPublishedException"),
        (
            "f" * 501,
            "InvalidRequestException",
        ),  # the model's max length, which botocore leaves to the service
    ):
        with pytest.raises(ClientError) as raised:
            client.describe_contact_flow(InstanceId=INSTANCE_ID, ContactFlowId=flow_id)
        assert _code(raised) == code
    with pytest.raises(ClientError) as raised:
        client.describe_contact_flow(InstanceId="00000000-0000-0000-0000-000000000000", ContactFlowId=INBOUND)
    assert _code(raised) == "ResourceNotFoundException"


def test_get_flow_association_of_an_email_address_by_its_arn_or_id(client: Any) -> None:
    address_id = email_address_id(DESTINATION)
    for resource in (f"{INSTANCE_ARN}/email-address/{address_id}", address_id):
        answer = client.get_flow_association(
            InstanceId=INSTANCE_ID, ResourceId=resource, ResourceType="INBOUND_EMAIL"
        )
        assert (answer["FlowId"], answer["ResourceType"]) == (INBOUND, "INBOUND_EMAIL")
    with pytest.raises(ClientError) as raised:  # an address with no flow of its own
        client.get_flow_association(
            InstanceId=INSTANCE_ID,
            ResourceId=email_address_id("other@example.com"),
            ResourceType="INBOUND_EMAIL",
        )
    assert _code(raised) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        client.get_flow_association(
            InstanceId=INSTANCE_ID, ResourceId=address_id, ResourceType="SMS_PHONE_NUMBER"
        )
    assert _code(raised) == "InvalidRequestException"


def test_describe_attached_files_configuration_answers_the_documented_defaults(
    client: Any, emulator: ConnectEmulator
) -> None:
    answer = client.describe_attached_files_configuration(InstanceId=INSTANCE_ID, AttachmentScope="EMAIL")
    configuration = answer["AttachedFilesConfiguration"]
    assert configuration["MaximumSizeLimitInBytes"] == 20_000_000
    extensions = [e["Extension"] for e in configuration["ExtensionConfiguration"]["AllowedExtensions"]]
    assert extensions == list(DEFAULT_EMAIL_EXTENSIONS)
    assert len(extensions) == 18

    emulator.set_attached_files(AttachedFiles(("pdf", "zip"), 104_857_600))
    changed = client.describe_attached_files_configuration(InstanceId=INSTANCE_ID, AttachmentScope="EMAIL")
    assert changed["AttachedFilesConfiguration"]["MaximumSizeLimitInBytes"] == 104_857_600
    with pytest.raises(ClientError) as raised:  # the model has no InvalidRequestException for it
        client.describe_attached_files_configuration(InstanceId=INSTANCE_ID, AttachmentScope="CHAT")
    assert _code(raised) == "InvalidParameterException"
    with pytest.raises(ParamValidationError):  # a missing required member: botocore refuses it itself
        client.describe_attached_files_configuration(InstanceId=INSTANCE_ID)


def test_raw_requests_the_model_refuses_are_refused(emulator: ConnectEmulator) -> None:
    raw = connect_client(emulator.url, Config(parameter_validation=False, retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as raised:
        raw.describe_attached_files_configuration(InstanceId=INSTANCE_ID, AttachmentScope="FAX")
    assert _code(raised) == "InvalidParameterException"
    assert "enum" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        raw.get_flow_association(InstanceId=INSTANCE_ID, ResourceId="x", ResourceType="EMAIL")
    assert _code(raised) == "InvalidRequestException"


def test_start_email_contact_follows_the_instances_attachment_configuration(
    client: Any,
    emulator: ConnectEmulator,
    s3: Any,  # noqa: F811 - the fixture
) -> None:
    archive = presigned(s3, "config/logs.zip", b"PK" + b"z" * 20)
    with pytest.raises(client.exceptions.InvalidRequestException) as raised:
        client.start_email_contact(**{**minimal_request(), "Attachments": attachment("logs.zip", archive)})
    assert reason_of(raised.value) == "INVALID_FILE_TYPE"

    emulator.set_attached_files(AttachedFiles(("pdf", "zip"), 10))
    client.start_email_contact(
        **{**minimal_request(), "Attachments": attachment("small.zip", presigned(s3, "c/s", b"PK"))}
    )
    with pytest.raises(client.exceptions.InvalidRequestException) as raised:
        client.start_email_contact(**{**minimal_request(), "Attachments": attachment("logs.zip", archive)})
    assert reason_of(raised.value) == "INVALID_FILE_SIZE"
    with pytest.raises(client.exceptions.InvalidRequestException) as raised:
        client.start_email_contact(**{**minimal_request(), "Attachments": attachment("a.txt", archive)})
    assert reason_of(raised.value) == "INVALID_FILE_TYPE"  # .txt is a default the instance removed

    emulator.reset()  # back to the configured (documented) one
    client.start_email_contact(**{**minimal_request(), "Attachments": attachment("a.txt", archive)})


def test_a_contact_flow_id_must_be_a_flow_of_the_instance(client: Any, emulator: ConnectEmulator) -> None:
    client.start_email_contact(**minimal_request(), ContactFlowId=INBOUND)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.start_email_contact(**minimal_request(), ContactFlowId=OTHER)
    assert len(emulator.contacts()) == 1


def test_the_configuration_keeps_to_the_models_bounds() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        AttachedFiles(max_bytes=104_857_601)
    with pytest.raises(ValueError, match="without the dot"):
        AttachedFiles((".pdf",))
