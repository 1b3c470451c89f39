"""check_request: one violation per limit in docs/connect-limits.md, and a valid request passes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pytest

from ses_to_connect.limits import check_request

if TYPE_CHECKING:
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

VALID: dict[str, Any] = {
    "InstanceId": "i-1",
    "FromEmailAddress": {"EmailAddress": "a@example.org", "DisplayName": "A"},
    "DestinationEmailAddress": "support@example.com",
    "Name": "n",
    "Description": "d",
    "References": {"raw": {"Type": "STRING", "Value": "s3://b/k"}},
    "EmailMessage": {
        "MessageSourceType": "RAW",
        "RawMessage": {
            "Subject": "s",
            "Body": "b",
            "ContentType": "text/plain",
            "Headers": {"MESSAGE_ID": "<a@b>"},
        },
    },
    "AdditionalRecipients": {"ToAddresses": [{"EmailAddress": "b@example.org"}]},
    "Attachments": [{"FileName": "a.pdf", "S3Url": "https://example.com/a.pdf"}],
    "ContactFlowId": "flow",
    "RelatedContactId": "c-1",
    "Attributes": {"key_1-x": "v"},
    "SegmentAttributes": {"connect:ContactExpiry": {"ValueMap": {"ExpiryDuration": {"ValueInteger": 60}}}},
    "ClientToken": "t",
}


def checked(request: dict[str, Any]) -> list[str]:
    """check_request on a request that may break the API's shape on purpose."""
    return check_request(cast("StartEmailContactRequestTypeDef", request))


def _raw(r: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = r["EmailMessage"]["RawMessage"]
    return raw


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(request: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = request
        for part in parents:
            target = target[part]
        target[last] = value

    return apply


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("instance id too long", _set("InstanceId", "i" * 101), "InstanceId: length 101"),
    ("address pattern", _set("DestinationEmailAddress", "support@localhost"), "does not match"),
    ("address too long", _set("DestinationEmailAddress", "a" * 250 + "@b.com"), "length 256"),
    ("display name too long", _set("FromEmailAddress.DisplayName", "x" * 257), "DisplayName: length 257"),
    ("display name control chars", _set("FromEmailAddress.DisplayName", "a\r\nb"), "control characters"),
    ("subject too long", lambda r: _raw(r).update(Subject="s" * 999), "Subject: length 999"),
    ("empty body", lambda r: _raw(r).update(Body=""), "Body: length 0"),
    ("body too long", lambda r: _raw(r).update(Body="b" * 5_242_881), "Body: length 5242881"),
    ("content type", lambda r: _raw(r).update(ContentType="text/rtf"), "is not text/plain or text/html"),
    ("header key", lambda r: _raw(r).update(Headers={"X_OTHER": "v"}), "key 'X_OTHER' is not allowed"),
    ("header value length", lambda r: _raw(r).update(Headers={"REFERENCES": "r" * 20_001}), "length 20001"),
    ("empty header value", lambda r: _raw(r).update(Headers={"REFERENCES": ""}), "REFERENCES: length 0"),
    ("name too long", _set("Name", "n" * 1025), "Name: length 1025"),
    ("description too long", _set("Description", "d" * 4097), "Description: length 4097"),
    (
        "reference type",
        _set("References", {"x": {"Type": "ATTACHMENT", "Value": "v"}}),
        "not allowed at creation",
    ),
    ("references bytes", _set("References", {"x": {"Type": "STRING", "Value": "é" * 2048}}), "over 4096"),
    (
        "recipients over 50",
        _set(
            "AdditionalRecipients",
            {"ToAddresses": [{"EmailAddress": f"u{i}@example.org"} for i in range(50)]},
        ),
        "51 addresses",
    ),
    ("empty recipient list", _set("AdditionalRecipients", {"CcAddresses": []}), "0 entries"),
    ("too many attachments", _set("Attachments", [{"FileName": "a.pdf", "S3Url": "u"}] * 11), "11 entries"),
    ("attachment extension", _set("Attachments", [{"FileName": "a.exe", "S3Url": "u"}]), "extension"),
    ("attachment name length", _set("Attachments", [{"FileName": "a" * 254 + ".pdf", "S3Url": "u"}]), "258"),
    ("attachment name controls", _set("Attachments", [{"FileName": "a\n.pdf", "S3Url": "u"}]), "control"),
    ("attachment name format", _set("Attachments", [{"FileName": "a\u202e.pdf", "S3Url": "u"}]), "Unicode C"),
    ("attachment url length", _set("Attachments", [{"FileName": "a.pdf", "S3Url": "u" * 2001}]), "2001"),
    ("flow id too long", _set("ContactFlowId", "f" * 501), "ContactFlowId: length 501"),
    ("related contact empty", _set("RelatedContactId", ""), "RelatedContactId: length 0"),
    ("attribute key", _set("Attributes", {"bad key": "v"}), "may hold only"),
    ("attributes bytes", _set("Attributes", {"k": "é" * 16_384}), "over 32768"),
    ("segment key too long", _set("SegmentAttributes", {"k" * 129: {"ValueString": "v"}}), "length 129"),
    ("segment string too long", _set("SegmentAttributes", {"k": {"ValueString": "v" * 1025}}), "length 1025"),
    ("client token too long", _set("ClientToken", "t" * 501), "ClientToken: length 501"),
    ("message source type", _set("EmailMessage.MessageSourceType", "TEMPLATE"), "must be RAW"),
]


def test_a_valid_request_passes() -> None:
    assert checked(VALID) == []


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_limit_is_enforced(case: str, mutate: Callable[[dict[str, Any]], None], expected: str) -> None:
    request = copy.deepcopy(VALID)
    mutate(request)
    problems = checked(request)
    assert len(problems) == 1, problems
    assert expected in problems[0]
