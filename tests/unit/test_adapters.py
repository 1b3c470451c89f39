"""Each adapter's botocore errors become the function's, retryable or not, in one mapping.

The Connect tests go through a real boto3 client with botocore's Stubber (a modeled error
response, its ``Reason`` included); the mapping itself is driven with botocore's own
exception classes, raised where a call would raise them.
"""

from __future__ import annotations

import ast
from collections.abc import Container
from pathlib import Path
from typing import TYPE_CHECKING, cast

import boto3
import pytest
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoRegionError,
    ParamValidationError,
    ReadTimeoutError,
    UnknownParameterError,
)
from botocore.stub import Stubber

from ses_to_connect import pipeline
from ses_to_connect.adapters.aws_errors import translated
from ses_to_connect.adapters.connect import PERMANENT, ContactStarter
from ses_to_connect.adapters.s3 import MISSING_OBJECT, content_type, header_value
from ses_to_connect.adapters.table_keys import MAX_PARTITION_KEY_BYTES, table_key
from ses_to_connect.errors import (
    AttachmentsRejected,
    BridgeError,
    DeliveryError,
    IdempotencyConflict,
    StorageError,
)

if TYPE_CHECKING:
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

REQUEST: StartEmailContactRequestTypeDef = {
    "InstanceId": "11111111-2222-3333-4444-555555555555",
    "FromEmailAddress": {"EmailAddress": "customer@example.org"},
    "DestinationEmailAddress": "support@example.com",
    "EmailMessage": {
        "MessageSourceType": "RAW",
        "RawMessage": {"Subject": "Hi", "Body": "Hello", "ContentType": "text/plain"},
    },
    "ContactFlowId": "flow",
    "ClientToken": "token",
}


def client_error(code: str, status: int, message: str = "refused") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Operation",
    )


def storage_error(
    raised: Exception, *, permanent: Container[str] = frozenset(), service_message: bool = True
) -> StorageError:
    with (
        pytest.raises(StorageError) as caught,
        translated("cannot do it", permanent=permanent, service_message=service_message),
    ):
        raise raised
    assert caught.value.__cause__ is raised
    return caught.value


@pytest.mark.parametrize(
    ("raised", "retryable", "code"),
    [
        (ParamValidationError(report="Unknown parameter in input: 'X'"), False, "ParamValidationError"),
        (UnknownParameterError(name="X", operation="Op", choices="A"), False, "UnknownParameterError"),
        (NoRegionError(), False, "NoRegionError"),
        (ReadTimeoutError(endpoint_url="https://s3"), True, "ReadTimeoutError"),
        (EndpointConnectionError(endpoint_url="https://s3"), True, "EndpointConnectionError"),
        (BotoCoreError(), True, "BotoCoreError"),
    ],
    ids=["param-validation", "unknown-parameter", "no-region", "read-timeout", "connection", "other"],
)
def test_a_botocore_error_is_retryable_unless_the_request_could_never_be_sent(
    raised: BotoCoreError, retryable: bool, code: str
) -> None:
    error = storage_error(raised)
    assert (error.retryable, error.code) == (retryable, code)
    assert str(error) == f"cannot do it: {raised}"


def test_anything_else_a_library_raises_is_the_functions_error_permanent_unless_the_network() -> None:
    """botocore's signer raises AttributeError on an 8-bit header: it must not reach Lambda unclassified."""
    signer = storage_error(AttributeError("'Header' object has no attribute 'split'"))
    assert (signer.retryable, signer.code) == (False, "AttributeError")
    assert str(signer) == "cannot do it: AttributeError: 'Header' object has no attribute 'split'"
    socket = storage_error(ConnectionResetError("reset by peer"))
    assert (socket.retryable, socket.code) == (True, "ConnectionResetError")
    own = StorageError("already translated", retryable=False)
    with pytest.raises(StorageError) as caught, translated("cannot do it"):
        raise own
    assert caught.value is own


def test_header_values_leave_as_printable_ascii_and_a_broken_media_type_as_octet_stream() -> None:
    assert header_value("spam:FAIL") == "spam:FAIL"
    assert header_value("a\udcc3\udca9 é\r\n\u2019") == "a\\udcc3\\udca9 \\xe9\\x0d\\x0a\\u2019"
    assert content_type("application/pdf") == "application/pdf"
    for broken in ("application/p\udcc3\udca9df", "application/pédf", "text/plain\r\nX-Evil: 1", "pdf"):
        assert content_type(broken) == "application/octet-stream"


def test_keys_over_dynamodbs_limit_or_not_utf8_are_hashed_the_same_every_time() -> None:
    fits = "<" + "a" * (MAX_PARTITION_KEY_BYTES - 2) + ">"
    assert table_key(fits) == fits
    too_long = fits + "b"
    assert table_key(too_long) == table_key(too_long) != table_key(too_long + "c")
    assert table_key(too_long).startswith("sha256:") and len(table_key(too_long)) == 7 + 64
    assert table_key("é" * 1025).startswith("sha256:")  # 2,050 bytes of UTF-8 in 1,025 characters
    assert table_key("<\udcc3@example.org>").startswith("sha256:")  # not encodable: never sent


def test_a_storage_refusal_is_retryable_unless_its_code_is_permanent_for_the_adapter() -> None:
    assert storage_error(client_error("AccessDenied", 403)).retryable is True  # e.g. a write
    denied = storage_error(client_error("AccessDenied", 403), permanent=MISSING_OBJECT)  # a read
    assert (denied.retryable, denied.code) == (False, "AccessDenied")
    assert storage_error(client_error("NoSuchKey", 404), permanent=MISSING_OBJECT).retryable is False
    assert storage_error(client_error("InternalError", 500), permanent=MISSING_OBJECT).retryable is True


def test_the_message_quotes_the_service_unless_it_only_restates_the_code() -> None:
    assert str(
        storage_error(client_error("ResourceNotFoundException", 400, "Requested resource not found"))
    ) == ("cannot do it: ResourceNotFoundException: Requested resource not found")
    assert (
        str(storage_error(client_error("NoSuchKey", 404), service_message=False)) == "cannot do it: NoSuchKey"
    )


@pytest.mark.parametrize(
    ("code", "status", "permanent"),
    [
        ("ThrottlingException", 429, False),
        ("TooManyRequestsException", 429, False),
        ("InternalServiceException", 500, False),
        ("ServiceUnavailableException", 503, False),
        ("SomethingNew", 502, False),  # any 5xx
        ("InvalidRequestException", 400, True),
        ("AccessDeniedException", 403, True),
        ("ResourceNotFoundException", 404, True),
        ("UnrecognizedClientException", 403, True),  # any other refusal
    ],
)
def test_connect_refusals_are_permanent_unless_throttling_or_5xx(
    code: str, status: int, permanent: bool
) -> None:
    assert (code in PERMANENT and status < 500) is permanent


@pytest.fixture
def connect() -> tuple[ContactStarter, Stubber]:
    client = boto3.client(
        "connect", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return ContactStarter(client), Stubber(client)


def test_connect_refusing_the_files_raises_attachments_rejected_with_its_reason(
    connect: tuple[ContactStarter, Stubber],
) -> None:
    starter, stubber = connect
    stubber.add_client_error(
        "start_email_contact",
        service_error_code="InvalidRequestException",
        service_message="Attachment too large",
        http_status_code=400,
        modeled_fields={"Reason": {"AttachedFileInvalidRequestExceptionReason": "INVALID_FILE_SIZE"}},
    )
    with stubber, pytest.raises(AttachmentsRejected) as raised:
        starter.start(REQUEST)
    assert (raised.value.code, raised.value.reason, raised.value.retryable) == (
        "InvalidRequestException",
        "INVALID_FILE_SIZE",
        False,
    )
    assert str(raised.value) == "StartEmailContact failed: InvalidRequestException: Attachment too large"


def test_connect_errors_keep_their_kind_code_and_retryability(
    connect: tuple[ContactStarter, Stubber],
) -> None:
    starter, stubber = connect
    stubber.add_client_error(
        "start_email_contact", service_error_code="IdempotencyException", http_status_code=409
    )
    stubber.add_client_error(
        "start_email_contact", service_error_code="ThrottlingException", http_status_code=429
    )
    stubber.add_client_error(
        "start_email_contact", service_error_code="ResourceNotFoundException", http_status_code=404
    )
    caught: list[BridgeError] = []
    with stubber:
        for _ in range(3):
            with pytest.raises(DeliveryError) as raised:
                starter.start(REQUEST)
            caught.append(raised.value)
    assert [(type(e).__name__, e.code, e.retryable) for e in caught] == [
        ("IdempotencyConflict", "IdempotencyException", False),
        ("DeliveryError", "ThrottlingException", True),
        ("DeliveryError", "ResourceNotFoundException", False),
    ]
    assert isinstance(caught[0], IdempotencyConflict)


def test_a_request_botocore_refuses_to_send_is_a_permanent_delivery_error(
    connect: tuple[ContactStarter, Stubber],
) -> None:
    starter, _ = connect
    with pytest.raises(DeliveryError) as raised:
        starter.start(cast("StartEmailContactRequestTypeDef", {**REQUEST, "NotAParameter": "x"}))
    assert (raised.value.code, raised.value.retryable) == ("ParamValidationError", False)
    assert isinstance(raised.value.__cause__, ParamValidationError)


def test_a_200_answer_without_contact_id_is_a_retryable_delivery_error(
    connect: tuple[ContactStarter, Stubber],
) -> None:
    starter, stubber = connect
    stubber.add_response("start_email_contact", {}, dict(REQUEST))
    with stubber, pytest.raises(DeliveryError) as raised:
        starter.start(REQUEST)
    assert (raised.value.code, raised.value.retryable) == ("MissingContactId", True)


def test_the_pipeline_imports_no_adapter() -> None:
    """The core depends on ports.py's Protocols; only the handler wires adapters in."""
    tree = ast.parse(Path(pipeline.__file__).read_text(encoding="utf-8"))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    ]
    assert "ses_to_connect.ports" in imported
    assert [name for name in imported if "adapters" in name] == []
