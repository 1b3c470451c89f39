"""The Connect emulator, driven through boto3 over real HTTP (and moto's S3 server for attachments)."""

import copy
import hashlib
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from moto.server import ThreadedMotoServer

from ses_to_connect_tools.local_pipeline.connect_emulator import (
    DEFAULT_TOKEN_WINDOW_SECONDS,
    ERROR_CODES,
    HEADER_KEYS,
    ConnectEmulator,
    ErrorCode,
    RefusedTokens,
    SigningKey,
    server_side_limits,
)

INSTANCE_ID = "11111111-2222-3333-4444-555555555555"
DESTINATION = "support@example.com"
BUCKET = "inbound-attachments"
# botocore counts ``max_attempts`` as retries after the first call; ``total_max_attempts`` counts them all.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
LOOPBACK_URL = "http://127.0.0.1:9/never-fetched.pdf"
DELETE = object()


def connect_client(url: str, config: Config | None = None, access_key: str = "x") -> Any:
    return boto3.client(
        "connect",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key="x",
        config=NO_RETRIES.merge(config) if config is not None else NO_RETRIES,
    )


def minimal_request() -> dict[str, Any]:
    return {
        "InstanceId": INSTANCE_ID,
        "FromEmailAddress": {"EmailAddress": "customer@example.org"},
        "DestinationEmailAddress": DESTINATION,
        "EmailMessage": {
            "MessageSourceType": "RAW",
            "RawMessage": {"Subject": "Order 42", "Body": "Where is my order?", "ContentType": "text/plain"},
        },
    }


def changed(request: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A copy of ``request`` with the member at dotted ``path`` set to ``value`` (or removed: DELETE)."""
    result = copy.deepcopy(request)
    *parents, last = path.split(".")
    node = result
    for name in parents:
        node = node.setdefault(name, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return result


def reason_of(error: Any) -> str | None:
    reasons = error.response.get("Reason", {})
    return next(iter(reasons.values()), None)


def addresses(count: int, prefix: str) -> list[dict[str, str]]:
    return [{"EmailAddress": f"{prefix}{index}@example.com"} for index in range(count)]


def get_json(url: str, path: str) -> tuple[int, Any]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def emulator() -> Iterator[ConnectEmulator]:
    with ConnectEmulator(instances={INSTANCE_ID: [DESTINATION]}) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_emulator(emulator: ConnectEmulator) -> None:
    emulator.reset()


@pytest.fixture(scope="module")
def client(emulator: ConnectEmulator) -> Any:
    return connect_client(emulator.url)


@pytest.fixture(scope="module")
def raw_client(emulator: ConnectEmulator) -> Any:
    """botocore's own checks off, so the emulator is what rejects the request."""
    return connect_client(emulator.url, Config(parameter_validation=False))


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    server.stop()


def presigned(s3: Any, key: str, data: bytes | None) -> str:
    """A pre-signed GET URL for ``key``, stored with ``data`` first unless None."""
    if data is not None:
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    return url


# --- Valid requests --------------------------------------------------------------------------------------


def test_minimal_request_creates_a_contact(client: Any, emulator: ConnectEmulator) -> None:
    contact_id = client.start_email_contact(**minimal_request())["ContactId"]

    [contact] = emulator.contacts()
    assert contact.contact_id == contact_id
    assert contact.sequence == 1
    assert contact.attachments == ()
    assert contact.params == {**minimal_request(), "ClientToken": contact.params["ClientToken"]}


def test_maximal_request_at_every_limit_creates_a_contact(
    client: Any, emulator: ConnectEmulator, s3: Any
) -> None:
    names = [
        "REPORT.PDF",
        "x" * 252 + ".csv",
        "Photo.Heic",
        *(
            f"file{index}.{ext}"
            for index, ext in enumerate(["docx", "jpg", "mov", "png", "rtf", "txt", "wav"])
        ),
    ]
    assert len(names) == 10
    attachments = [
        {"FileName": name, "S3Url": presigned(s3, f"max/{index}", f"attachment {index}".encode())}
        for index, name in enumerate(names)
    ]
    request = {
        **minimal_request(),
        "FromEmailAddress": {"EmailAddress": "c" * 243 + "@example.org", "DisplayName": "D" * 256},
        "Name": "n" * 1024,
        "Description": "d" * 4096,
        "References": {"ticket": {"Value": "v" * (4096 - len("ticket") - len("URL")), "Type": "URL"}},
        "EmailMessage": {
            "MessageSourceType": "RAW",
            "RawMessage": {
                "Subject": "s" * 998,
                "Body": "b" * 5_242_880,
                "ContentType": "text/html",
                "Headers": dict.fromkeys(HEADER_KEYS, "h" * 20_000),
            },
        },
        "AdditionalRecipients": {"ToAddresses": addresses(25, "to"), "CcAddresses": addresses(24, "cc")},
        "Attachments": attachments,
        "ContactFlowId": "f" * 500,
        "RelatedContactId": "r" * 256,
        "Attributes": {"Ticket-id_1": "a" * (32_768 - len("Ticket-id_1"))},
        "SegmentAttributes": {
            "k" * 128: {"ValueString": "v" * 1024},
            "connect:ContactExpiry": {"ValueMap": {"ExpiryDuration": {"ValueInteger": 1440}}},
        },
        "ClientToken": "t" * 500,
    }
    emulator.add_older_contact("r" * 256)

    contact_id = client.start_email_contact(**request)["ContactId"]

    [contact] = emulator.contacts()
    assert contact.contact_id == contact_id
    assert contact.params == request
    assert [digest.file_name for digest in contact.attachments] == names


# --- One invalid request per limit -----------------------------------------------------------------------

INVALID = "InvalidRequestException"
QUOTA = "ServiceQuotaExceededException"


def attachment(file_name: str, url: str = LOOPBACK_URL) -> list[dict[str, str]]:
    return [{"FileName": file_name, "S3Url": url}]


@pytest.mark.parametrize(
    ("path", "value", "error", "member", "reason"),
    [
        pytest.param("InstanceId", "i" * 101, INVALID, "InstanceId", None, id="InstanceId-too-long"),
        pytest.param("FromEmailAddress", DELETE, INVALID, "FromEmailAddress", None, id="From-missing"),
        pytest.param(
            "FromEmailAddress.EmailAddress",
            "Bob <bob@example.org>",
            INVALID,
            "FromEmailAddress.EmailAddress",
            None,
            id="From-not-a-bare-address",
        ),
        pytest.param(
            "FromEmailAddress.EmailAddress",
            "c" * 244 + "@example.org",
            INVALID,
            "FromEmailAddress.EmailAddress",
            None,
            id="From-too-long",
        ),
        pytest.param(
            "FromEmailAddress.DisplayName", "D" * 257, INVALID, "DisplayName", None, id="DisplayName-too-long"
        ),
        pytest.param(
            "DestinationEmailAddress",
            "Support <support@example.com>",
            INVALID,
            "DestinationEmailAddress",
            None,
            id="Destination-not-a-bare-address",
        ),
        pytest.param("EmailMessage.RawMessage", DELETE, INVALID, "RawMessage", None, id="RawMessage-missing"),
        pytest.param(
            "EmailMessage.MessageSourceType",
            "TEMPLATE",
            INVALID,
            "MessageSourceType",
            None,
            id="SourceType-enum",
        ),
        pytest.param(
            "EmailMessage.RawMessage.Subject", "s" * 999, INVALID, "Subject", None, id="Subject-too-long"
        ),
        pytest.param(
            "EmailMessage.RawMessage.Subject", 42, INVALID, "Subject", None, id="Subject-not-a-string"
        ),
        pytest.param("EmailMessage.RawMessage.Body", "", INVALID, "Body", None, id="Body-empty"),
        pytest.param(
            "EmailMessage.RawMessage.Body", "b" * 5_242_881, INVALID, "Body", None, id="Body-too-long"
        ),
        pytest.param(
            "EmailMessage.RawMessage.ContentType",
            "text/markdown",
            INVALID,
            "ContentType",
            None,
            id="ContentType",
        ),
        pytest.param(
            "EmailMessage.RawMessage.Headers",
            {"FROM": "x@example.org"},
            INVALID,
            "Headers",
            None,
            id="Header-key",
        ),
        pytest.param(
            "EmailMessage.RawMessage.Headers",
            {"MESSAGE_ID": ""},
            INVALID,
            "Headers",
            None,
            id="Header-value-empty",
        ),
        pytest.param(
            "EmailMessage.RawMessage.Headers",
            {"REFERENCES": "r" * 20_001},
            INVALID,
            "Headers",
            None,
            id="Header-value-too-long",
        ),
        pytest.param("Name", "n" * 1025, INVALID, "Name", None, id="Name-too-long"),
        pytest.param("Description", "d" * 4097, INVALID, "Description", None, id="Description-too-long"),
        pytest.param(
            "References",
            {"case": {"Value": "1", "Type": "ATTACHMENT"}},
            INVALID,
            "References",
            None,
            id="Reference-type-not-creatable",
        ),
        pytest.param(
            "References",
            {"note": {"Value": "é" * 2100, "Type": "STRING"}},
            INVALID,
            "References",
            None,
            id="References-over-4096-bytes",
        ),
        pytest.param(
            "AdditionalRecipients",
            {"ToAddresses": addresses(25, "to"), "CcAddresses": addresses(25, "cc")},
            INVALID,
            "AdditionalRecipients",
            None,
            id="Recipients-over-50-with-destination",
        ),
        pytest.param(
            "AdditionalRecipients",
            {"CcAddresses": [{"EmailAddress": "Ann <ann@example.com>"}]},
            INVALID,
            "CcAddresses",
            None,
            id="Recipient-pattern",
        ),
        pytest.param(
            "Attachments",
            attachment("a.pdf") * 11,
            QUOTA,
            "Attachments",
            "TOTAL_FILE_COUNT_EXCEEDED",
            id="Attachments-over-10",
        ),
        pytest.param(
            "Attachments",
            attachment("f" * 253 + ".pdf"),
            INVALID,
            "FileName",
            "INVALID_FILE_NAME",
            id="FileName-too-long",
        ),
        pytest.param(
            "Attachments",
            attachment("bell\x07.pdf"),
            INVALID,
            "FileName",
            "INVALID_FILE_NAME",
            id="FileName-control-character",
        ),
        pytest.param(
            "Attachments",
            attachment("setup.exe"),
            INVALID,
            "FileName",
            "INVALID_FILE_TYPE",
            id="FileName-type",
        ),
        pytest.param(
            "Attachments",
            attachment("a.pdf", "http://127.0.0.1/" + "u" * 2000),
            INVALID,
            "S3Url",
            None,
            id="S3Url-too-long",
        ),
        pytest.param(
            "Attributes", {"bad key": "v"}, INVALID, "Attributes", None, id="Attribute-key-characters"
        ),
        pytest.param(
            "Attributes", {"k": "é" * 16_384}, INVALID, "Attributes", None, id="Attributes-over-32768-bytes"
        ),
        pytest.param(
            "SegmentAttributes",
            {"s" * 129: {"ValueString": "v"}},
            INVALID,
            "SegmentAttributes",
            None,
            id="Segment-key",
        ),
        pytest.param(
            "SegmentAttributes",
            {"connect:Subtype": {"ValueString": "v" * 1025}},
            INVALID,
            "ValueString",
            None,
            id="Segment-ValueString-too-long",
        ),
        pytest.param("ContactFlowId", "f" * 501, INVALID, "ContactFlowId", None, id="ContactFlowId-too-long"),
        pytest.param("ClientToken", "t" * 501, INVALID, "ClientToken", None, id="ClientToken-too-long"),
        pytest.param(
            "RelatedContactId", "r" * 257, INVALID, "RelatedContactId", None, id="RelatedContactId-long"
        ),
        pytest.param("RelatedContactId", "", INVALID, "RelatedContactId", None, id="RelatedContactId-empty"),
    ],
)
def test_request_breaking_a_limit_is_rejected(
    raw_client: Any,
    emulator: ConnectEmulator,
    *,
    path: str,
    value: object,
    error: str,
    member: str,
    reason: str | None,
) -> None:
    with pytest.raises(getattr(raw_client.exceptions, error)) as raised:
        raw_client.start_email_contact(**changed(minimal_request(), path, value))

    assert type(raised.value) is getattr(raw_client.exceptions, error)
    assert member in raised.value.response["Error"]["Message"]
    assert reason_of(raised.value) == reason
    assert emulator.contacts() == []


def test_every_limit_names_members_of_the_model(client: Any) -> None:
    request_shape = client.meta.service_model.operation_model("StartEmailContact").input_shape
    for limit in server_side_limits():
        shapes = [request_shape]
        for name, walk in limit.segments:
            shapes = (
                [shape.members[name] for shape in shapes]
                if name != "*"
                else [member for shape in shapes for member in shape.members.values()]
            )
            if walk == "[]":
                shapes = [shape.member for shape in shapes]
            elif walk == "{k}":
                shapes = [shape.key for shape in shapes]
            elif walk == "{v}":
                shapes = [shape.value for shape in shapes]
        assert shapes, limit.path


@pytest.mark.parametrize(
    ("instance_id", "destination"),
    [
        pytest.param("99999999-0000-0000-0000-000000000000", DESTINATION, id="unknown-instance"),
        pytest.param(INSTANCE_ID, "sales@example.com", id="address-of-no-instance"),
        pytest.param(INSTANCE_ID, "Support@example.com", id="address-in-other-case"),
    ],
)
def test_unknown_instance_or_address_is_not_found(client: Any, instance_id: str, destination: str) -> None:
    request = {**minimal_request(), "InstanceId": instance_id, "DestinationEmailAddress": destination}

    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.start_email_contact(**request)

    assert type(raised.value) is client.exceptions.ResourceNotFoundException
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# --- Error mapping and fault injection -------------------------------------------------------------------


def test_error_codes_are_exactly_the_modeled_ones(client: Any) -> None:
    operation = client.meta.service_model.operation_model("StartEmailContact")
    assert set(ERROR_CODES) == {shape.name for shape in operation.error_shapes}


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("InvalidRequestException", 400, "INVALID_FILE_SIZE"),
        ("ServiceQuotaExceededException", 402, "TOTAL_FILE_SIZE_EXCEEDED"),
        ("AccessDeniedException", 403, None),
        ("ResourceNotFoundException", 404, None),
        ("IdempotencyException", 409, None),
        ("ThrottlingException", 429, None),
        ("InternalServiceException", 500, None),
    ],
)
def test_injected_error_raises_exactly_the_modeled_exception(
    client: Any, emulator: ConnectEmulator, code: ErrorCode, status: int, reason: str | None
) -> None:
    emulator.inject_errors(code, reason=reason, message="boom")

    with pytest.raises(getattr(client.exceptions, code)) as raised:
        client.start_email_contact(**minimal_request())

    assert type(raised.value) is getattr(client.exceptions, code)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raised.value.response["Error"] == {"Code": code, "Message": "boom"}
    assert reason_of(raised.value) == reason
    assert emulator.contacts() == []
    assert client.start_email_contact(**minimal_request())["ContactId"]


def test_inject_errors_rejects_a_reason_the_error_cannot_carry(emulator: ConnectEmulator) -> None:
    with pytest.raises(ValueError, match="TOTAL_FILE_COUNT_EXCEEDED"):
        emulator.inject_errors("InvalidRequestException", reason="TOTAL_FILE_COUNT_EXCEEDED")
    with pytest.raises(ValueError, match="ThrottlingException"):
        emulator.inject_errors("ThrottlingException", reason="INVALID_FILE_SIZE")


def test_botocore_retries_injected_500s_into_one_contact(
    emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The retry itself is under test, not botocore's backoff: wait zero seconds between attempts.
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    retrying = connect_client(emulator.url, Config(retries={"total_max_attempts": 3, "mode": "standard"}))
    emulator.inject_errors("InternalServiceException", count=2)

    contact_id = retrying.start_email_contact(**minimal_request())["ContactId"]

    assert [(attempt.status, attempt.error) for attempt in emulator.attempts()] == [
        (500, "InternalServiceException"),
        (500, "InternalServiceException"),
        (200, None),
    ]
    assert [contact.contact_id for contact in emulator.contacts()] == [contact_id]


def test_delay_makes_a_read_timeout_after_the_contact_exists(emulator: ConnectEmulator) -> None:
    impatient = connect_client(emulator.url, Config(read_timeout=0.2, connect_timeout=1))
    request = {**minimal_request(), "ClientToken": "ses-message-0001"}
    emulator.set_delay(0.6)

    with pytest.raises(ReadTimeoutError):
        impatient.start_email_contact(**request)

    [contact] = emulator.contacts()
    emulator.set_delay(0)
    assert impatient.start_email_contact(**request)["ContactId"] == contact.contact_id
    assert len(emulator.contacts()) == 1


def test_key_without_permission_is_denied() -> None:
    with ConnectEmulator(allowed_access_key_ids={"AKIAALLOWED"}) as restricted:
        denied = connect_client(restricted.url, access_key="AKIAOTHER")
        with pytest.raises(denied.exceptions.AccessDeniedException) as raised:
            denied.start_email_contact(**minimal_request())
        assert type(raised.value) is denied.exceptions.AccessDeniedException
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert restricted.contacts() == []
        allowed = connect_client(restricted.url, access_key="AKIAALLOWED")
        assert allowed.start_email_contact(**minimal_request())["ContactId"]


# --- Idempotency -----------------------------------------------------------------------------------------


def test_same_token_and_parameters_return_the_same_contact(client: Any, emulator: ConnectEmulator) -> None:
    request = {**minimal_request(), "ClientToken": "ses-message-0001"}

    first = client.start_email_contact(**request)["ContactId"]
    second = client.start_email_contact(**request)["ContactId"]

    assert first == second
    assert len(emulator.contacts()) == 1


def test_same_token_with_other_parameters_is_an_idempotency_error(
    client: Any, emulator: ConnectEmulator
) -> None:
    request = {**minimal_request(), "ClientToken": "ses-message-0001"}
    client.start_email_contact(**request)

    with pytest.raises(client.exceptions.IdempotencyException) as raised:
        client.start_email_contact(**changed(request, "EmailMessage.RawMessage.Subject", "Other"))

    assert type(raised.value) is client.exceptions.IdempotencyException
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "ClientToken" in raised.value.response["Error"]["Message"]
    assert len(emulator.contacts()) == 1


def test_omitted_token_is_filled_by_botocore_so_each_call_is_a_new_contact(
    client: Any, emulator: ConnectEmulator
) -> None:
    client.start_email_contact(**minimal_request())
    client.start_email_contact(**minimal_request())

    first, second = emulator.contacts()
    assert first.contact_id != second.contact_id
    assert first.params["ClientToken"] != second.params["ClientToken"]


def test_token_is_forgotten_after_the_idempotency_window() -> None:
    clock = FakeClock()
    with ConnectEmulator(idempotency_window=60, clock=clock) as windowed:
        client = connect_client(windowed.url)
        request = {**minimal_request(), "ClientToken": "ses-message-0001"}
        first = client.start_email_contact(**request)["ContactId"]
        clock.now += 60
        assert client.start_email_contact(**request)["ContactId"] == first
        clock.now += 0.5
        assert client.start_email_contact(**request)["ContactId"] != first


def test_tokens_are_remembered_for_24_hours_by_default() -> None:
    clock = FakeClock()
    with ConnectEmulator(clock=clock) as default:
        client = connect_client(default.url)
        request = {**minimal_request(), "ClientToken": "ses-message-0001"}
        first = client.start_email_contact(**request)["ContactId"]
        clock.now += DEFAULT_TOKEN_WINDOW_SECONDS
        assert client.start_email_contact(**request)["ContactId"] == first
        clock.now += 1
        assert client.start_email_contact(**request)["ContactId"] != first
    assert DEFAULT_TOKEN_WINDOW_SECONDS == 86_400


@pytest.mark.parametrize(
    ("reading", "other_parameters_answer"), [("kept", "IdempotencyException"), ("forgotten", None)]
)
def test_a_refused_request_uses_up_its_token_only_when_kept(
    emulator: ConnectEmulator, client: Any, reading: RefusedTokens, other_parameters_answer: str | None
) -> None:
    emulator.set_refused_tokens(reading)
    refused = {**minimal_request(), "ClientToken": "refused-0001"}
    emulator.inject_errors("InvalidRequestException", reason="INVALID_FILE_TYPE")
    with pytest.raises(client.exceptions.InvalidRequestException):
        client.start_email_contact(**refused)

    other = changed(refused, "Name", "without the attachments")
    if other_parameters_answer is None:
        assert client.start_email_contact(**other)["ContactId"] == emulator.contacts()[0].contact_id
    else:
        with pytest.raises(client.exceptions.IdempotencyException):
            client.start_email_contact(**other)
        assert emulator.contacts() == []
        # The very request that was refused is evaluated again (and may pass now).
        assert client.start_email_contact(**refused)["ContactId"] == emulator.contacts()[0].contact_id
    assert len(emulator.contacts()) == 1


def test_a_lost_answer_still_creates_and_the_same_request_returns_the_contact(
    emulator: ConnectEmulator, client: Any
) -> None:
    request = {**minimal_request(), "ClientToken": "lost-0001"}
    emulator.lose_answers(1)

    with pytest.raises(client.exceptions.InternalServiceException):
        client.start_email_contact(**request)

    [contact] = emulator.contacts()
    assert client.start_email_contact(**request)["ContactId"] == contact.contact_id
    assert [a.status for a in emulator.attempts()] == [500, 200]


def test_an_answer_without_contact_id_still_creates_and_counts_only_the_requests_asked_for(
    emulator: ConnectEmulator, client: Any
) -> None:
    request = {**minimal_request(), "ClientToken": "no-id-0001"}
    with pytest.raises(ValueError, match="count must be >= 0"):
        emulator.answer_without_contact_ids(-1)
    emulator.answer_without_contact_ids(1)

    answer = client.start_email_contact(**request)

    assert "ContactId" not in answer  # botocore parses the empty 200 body without complaint
    [contact] = emulator.contacts()
    assert client.start_email_contact(**request)["ContactId"] == contact.contact_id
    assert [a.status for a in emulator.attempts()] == [200, 200]
    emulator.answer_without_contact_ids(1)
    emulator.reset()  # a reset forgets the fault with the rest
    assert "ContactId" in client.start_email_contact(**request)


def test_an_unknown_related_contact_is_not_found(emulator: ConnectEmulator, client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.start_email_contact(**{**minimal_request(), "RelatedContactId": "deleted-contact"})
    assert "RelatedContactId deleted-contact" in raised.value.response["Error"]["Message"]

    root = client.start_email_contact(**minimal_request())["ContactId"]
    emulator.add_older_contact("from-before-the-emulator")
    for related in (root, "from-before-the-emulator"):
        client.start_email_contact(**{**minimal_request(), "RelatedContactId": related})
    assert [c.params.get("RelatedContactId") for c in emulator.contacts()] == [
        None,
        root,
        "from-before-the-emulator",
    ]


# --- Throttling ------------------------------------------------------------------------------------------


def test_requests_beyond_the_burst_are_throttled_until_tokens_refill() -> None:
    clock = FakeClock()
    with ConnectEmulator(rate=2, burst=3, clock=clock) as throttled:
        client = connect_client(throttled.url)
        for _ in range(3):
            client.start_email_contact(**minimal_request())

        with pytest.raises(client.exceptions.ThrottlingException) as raised:
            client.start_email_contact(**minimal_request())
        assert type(raised.value) is client.exceptions.ThrottlingException
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429

        clock.now += 0.5
        client.start_email_contact(**minimal_request())
        with pytest.raises(client.exceptions.ThrottlingException):
            client.start_email_contact(**minimal_request())
        assert len(throttled.contacts()) == 4


def test_concurrent_requests_get_exactly_the_burst() -> None:
    with ConnectEmulator(rate=0.001, burst=5) as throttled:
        client = connect_client(throttled.url)

        def call(_: int) -> str:
            try:
                return str(client.start_email_contact(**minimal_request())["ContactId"])
            except client.exceptions.ThrottlingException:
                return "throttled"

        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(call, range(16)))

        assert outcomes.count("throttled") == 11
        assert len({contact.contact_id for contact in throttled.contacts()}) == 5


# --- Attachments -----------------------------------------------------------------------------------------


def test_attachment_is_downloaded_and_digested(client: Any, emulator: ConnectEmulator, s3: Any) -> None:
    data = b"%PDF-1.4 invoice 42\n"
    request = {
        **minimal_request(),
        "Attachments": attachment("Invoice.PDF", presigned(s3, "in/invoice", data)),
    }

    client.start_email_contact(**request)

    [contact] = emulator.contacts()
    [digest] = contact.attachments
    assert (digest.file_name, digest.size, digest.sha256) == (
        "Invoice.PDF",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(
            "https://inbound-attachments.s3.amazonaws.com/a.pdf?X-Amz-Signature=abc",
            "127.0.0.1 or localhost",
            id="not-loopback",
        ),
        pytest.param("file:///etc/passwd", "127.0.0.1 or localhost", id="not-http"),
    ],
)
def test_attachment_url_off_this_machine_is_rejected(
    client: Any, emulator: ConnectEmulator, url: str, message: str
) -> None:
    with pytest.raises(client.exceptions.InvalidRequestException) as raised:
        client.start_email_contact(**{**minimal_request(), "Attachments": attachment("a.pdf", url)})

    assert type(raised.value) is client.exceptions.InvalidRequestException
    assert "Attachments[0].S3Url" in raised.value.response["Error"]["Message"]
    assert message in raised.value.response["Error"]["Message"]
    assert emulator.contacts() == []


def test_attachment_with_a_disallowed_extension_is_rejected(
    client: Any, emulator: ConnectEmulator, s3: Any
) -> None:
    url = presigned(s3, "in/payload", b"MZ")

    with pytest.raises(client.exceptions.InvalidRequestException) as raised:
        client.start_email_contact(**{**minimal_request(), "Attachments": attachment("payload.exe", url)})

    assert reason_of(raised.value) == "INVALID_FILE_TYPE"
    assert "FileName" in raised.value.response["Error"]["Message"]
    assert emulator.contacts() == []


def test_attachment_url_not_answering_200_is_rejected(
    client: Any, emulator: ConnectEmulator, s3: Any
) -> None:
    url = presigned(s3, "in/deleted-already", None)

    with pytest.raises(client.exceptions.InvalidRequestException) as raised:
        client.start_email_contact(**{**minimal_request(), "Attachments": attachment("a.pdf", url)})

    assert "HTTP 404" in raised.value.response["Error"]["Message"]
    assert emulator.contacts() == []


def test_attachment_sizes_are_limited_each_and_in_total(s3: Any) -> None:
    with ConnectEmulator(max_attachment_bytes=10, max_total_attachment_bytes=15) as small:
        client = connect_client(small.url)
        ten = presigned(s3, "size/ten", b"0123456789")
        eleven = presigned(s3, "size/eleven", b"0123456789A")

        with pytest.raises(client.exceptions.InvalidRequestException) as too_big:
            client.start_email_contact(**{**minimal_request(), "Attachments": attachment("a.txt", eleven)})
        with pytest.raises(client.exceptions.ServiceQuotaExceededException) as too_much:
            client.start_email_contact(
                **{**minimal_request(), "Attachments": attachment("a.txt", ten) + attachment("b.txt", ten)}
            )

        assert reason_of(too_big.value) == "INVALID_FILE_SIZE"
        assert reason_of(too_much.value) == "TOTAL_FILE_SIZE_EXCEEDED"
        assert small.contacts() == []
        client.start_email_contact(**{**minimal_request(), "Attachments": attachment("a.txt", ten)})
        assert len(small.contacts()) == 1


# --- Listing, reset, standalone --------------------------------------------------------------------------


def test_contacts_are_listed_over_http_and_reset_clears_them(client: Any, emulator: ConnectEmulator) -> None:
    ids = [client.start_email_contact(**minimal_request())["ContactId"] for _ in range(2)]

    status, listed = get_json(emulator.url, "/_emulator/contacts")

    assert status == 200
    assert [(item["contact_id"], item["sequence"]) for item in listed["contacts"]] == [
        (ids[0], 1),
        (ids[1], 2),
    ]
    assert listed["contacts"][0]["params"] == emulator.contacts()[0].params
    emulator.reset()
    assert get_json(emulator.url, "/_emulator/contacts") == (200, {"contacts": []})
    assert emulator.attempts() == []


def test_reset_restores_the_configured_reading_of_refused_tokens(
    client: Any, emulator: ConnectEmulator
) -> None:
    """A test that switches to the "kept" reading must not leave it to the next test."""
    emulator.set_refused_tokens("kept")
    emulator.reset()
    request = {**minimal_request(), "ClientToken": "token-refused-once"}
    emulator.inject_errors("InvalidRequestException")
    with pytest.raises(ClientError):
        client.start_email_contact(**request)

    client.start_email_contact(**{**request, "Name": "other parameters, same token"})

    assert len(emulator.contacts()) == 1  # "forgotten", as configured: the refusal used nothing up


def test_unknown_path_is_404(emulator: ConnectEmulator) -> None:
    status, body = get_json(emulator.url, "/contact/chat")

    assert status == 404
    assert "/contact/chat" in body["message"]


def test_runs_standalone_from_the_command_line() -> None:
    repo = Path(__file__).resolve().parents[2]
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ses_to_connect_tools.local_pipeline.connect_emulator",
            "--port",
            "0",
            "--rate",
            "50",
            "--burst",
            "5",
            "--instance",
            f"{INSTANCE_ID}={DESTINATION},sales@example.com",
        ],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            client = connect_client(url)
            contact_id = client.start_email_contact(
                **{**minimal_request(), "DestinationEmailAddress": "sales@example.com"}
            )["ContactId"]
            with pytest.raises(client.exceptions.ResourceNotFoundException):
                client.start_email_contact(**{**minimal_request(), "InstanceId": "other"})
            assert get_json(url, "/_emulator/contacts")[1]["contacts"][0]["contact_id"] == contact_id
        finally:
            process.terminate()
            process.wait(timeout=10)


# --- Pre-signed attachment URLs --------------------------------------------------------------------------


class WallClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def strict() -> Iterator[tuple[ConnectEmulator, WallClock]]:
    """An emulator that accepts only URLs signed by the s3 fixture's key "x", on its own wall clock."""
    wall = WallClock()
    with ConnectEmulator(signing_keys={"x": SigningKey("x")}, wall_clock=wall) as running:
        yield running, wall


def start_with(emulator: ConnectEmulator, url: str) -> str:
    client = connect_client(emulator.url)
    return str(
        client.start_email_contact(**{**minimal_request(), "Attachments": attachment("a.pdf", url)})[
            "ContactId"
        ]
    )


def refusal(emulator: ConnectEmulator, url: str) -> str:
    client = connect_client(emulator.url)
    with pytest.raises(client.exceptions.InvalidRequestException) as raised:
        client.start_email_contact(**{**minimal_request(), "Attachments": attachment("a.pdf", url)})
    message = raised.value.response["Error"]["Message"]
    assert isinstance(message, str) and "Attachments[0].S3Url" in message
    return message


def test_a_url_signed_by_a_known_key_within_its_time_is_downloaded(
    strict: tuple[ConnectEmulator, WallClock], s3: Any
) -> None:
    emulator, _ = strict
    start_with(emulator, presigned(s3, "signed/ok", b"%PDF ok"))
    assert emulator.contacts()[0].attachments[0].size == len(b"%PDF ok")


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(301.0, "not have expired"), (-60.0, "be valid already")],
    ids=["expired", "not-yet-valid"],
)
def test_a_url_outside_its_time_is_refused(
    strict: tuple[ConnectEmulator, WallClock], s3: Any, offset: float, expected: str
) -> None:
    emulator, wall = strict
    url = presigned(s3, "signed/timed", b"%PDF timed")  # ExpiresIn=300
    wall.offset = offset
    assert expected in refusal(emulator, url)
    assert emulator.contacts() == []


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda url: url.replace("/signed/", "/signed-other/"), "carry a valid signature"),
        (lambda url: url.replace("X-Amz-Expires=300", "X-Amz-Expires=600"), "carry a valid signature"),
        (lambda url: url.split("?")[0], "be a pre-signed URL"),
    ],
    ids=["other-key", "longer-expiry", "unsigned"],
)
def test_a_tampered_or_unsigned_url_is_refused(
    strict: tuple[ConnectEmulator, WallClock], s3: Any, tamper: Any, expected: str
) -> None:
    emulator, _ = strict
    s3.put_object(Bucket=BUCKET, Key="signed-other/t", Body=b"%PDF other")
    url = presigned(s3, "signed/t", b"%PDF t")
    assert expected in refusal(emulator, tamper(url))


def test_urls_of_unknown_or_expired_credentials_are_refused(
    strict: tuple[ConnectEmulator, WallClock], s3: Any
) -> None:
    emulator, _ = strict
    stranger = boto3.client(
        "s3",
        endpoint_url=s3.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="ASIASTRANGER",
        aws_secret_access_key="secret",
        aws_session_token="session",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    s3.put_object(Bucket=BUCKET, Key="signed/k", Body=b"%PDF k")
    url = stranger.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "signed/k"}, ExpiresIn=300
    )
    assert "known access key" in refusal(emulator, url)

    emulator.add_signing_key("ASIASTRANGER", SigningKey("secret"))
    start_with(emulator, url)
    emulator.add_signing_key("ASIASTRANGER", SigningKey("secret", expires_at=time.time() - 1))
    assert "credentials that have not expired" in refusal(emulator, url)


def test_a_stale_url_is_refused_even_when_the_token_is_known(
    strict: tuple[ConnectEmulator, WallClock], s3: Any
) -> None:
    """The strict order: URLs are checked before the idempotency check."""
    emulator, wall = strict
    client = connect_client(emulator.url)
    request = {
        **minimal_request(),
        "Attachments": attachment("a.pdf", presigned(s3, "signed/replay", b"%PDF r")),
        "ClientToken": "replay-0001",
    }
    first = client.start_email_contact(**request)["ContactId"]
    assert client.start_email_contact(**request)["ContactId"] == first
    wall.offset = 3600
    with pytest.raises(client.exceptions.InvalidRequestException):
        client.start_email_contact(**request)
    assert len(emulator.contacts()) == 1
