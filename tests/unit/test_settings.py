"""Settings read once from the environment, every problem reported together."""

from __future__ import annotations

import json

import pytest

from ses_to_connect.errors import SettingsError
from ses_to_connect.settings import (
    DEFAULT_POLICY,
    Action,
    BodyPreference,
    ConnectAddress,
    Settings,
)
from ses_to_connect.timing import LAMBDA_RETRY_DELAYS_SECONDS, URL_SAFETY_MARGIN_SECONDS

FLOW = "846ec553-a005-41c0-8341-0123456789ab"
BASE = {
    "CONNECT_INSTANCE_ID": "11111111-2222-3333-4444-555555555555",
    "CONNECT_ADDRESSES": json.dumps(
        [{"address": "support@example.com"}, {"address": "b@example.com", "contactFlowId": FLOW}]
    ),
    "MAIL_BUCKET": "mail-bucket",
}


def test_defaults_and_values_from_env() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "BODY_PREFERENCE": "TEXT",
            "PREFER_REPLY_TO": "true",
            "CONTACT_EXPIRY_MINUTES": "60",
            "STATIC_ATTRIBUTES": '{"team": "x"}',
            "VERDICT_POLICY": '{"spf:FAIL": "quarantine"}',
        }
    )
    assert settings.connect_addresses == (
        ConnectAddress("support@example.com"),
        ConnectAddress("b@example.com", FLOW),
    )
    assert settings.body_preference is BodyPreference.TEXT
    assert settings.prefer_reply_to is True
    assert settings.contact_expiry_minutes == 60
    assert settings.static_attributes == {"team": "x"}
    assert settings.action("spf:FAIL") is Action.QUARANTINE
    assert settings.action("virus:FAIL") is Action.QUARANTINE
    assert (settings.inbound_prefix, settings.quarantine_prefix) == ("inbound/", "quarantine/")
    assert settings.address_for("B@EXAMPLE.COM") == ConnectAddress("b@example.com", FLOW)
    assert settings.attachment_uploads == 4


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                "CONNECT_ADDRESSES": "[{",
                "PREFER_REPLY_TO": "maybe",
                "VERDICT_POLICY": '{"spam:MAYBE": "deliver", "virus:FAIL": "drop"}',
            }
        )
    assert caught.value.problems == [
        "CONNECT_INSTANCE_ID is required",
        "CONNECT_ADDRESSES: is not valid JSON: Expecting property name enclosed in double quotes"
        " at position 2",
        "MAIL_BUCKET is required",
        'PREFER_REPLY_TO: must be true or false, not "maybe"',
        "VERDICT_POLICY: unknown rule 'spam:MAYBE'; known rules: " + ", ".join(DEFAULT_POLICY),
        "VERDICT_POLICY: rule 'virus:FAIL' has action 'drop'; use 'deliver' or 'quarantine'",
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"CONNECT_ADDRESSES": '[{"address": "not-an-address"}]'},
            "CONNECT_ADDRESSES[0]: 'not-an-address' is not an email address",
        ),
        ({"CONNECT_ADDRESSES": '[{"address": "a@b.com"}, {"address": "A@b.com"}]'}, "is listed twice"),
        ({"CONNECT_ADDRESSES": "[]"}, "must name at least one"),
        ({"MAIL_BUCKET": "Bad_Bucket"}, "MAIL_BUCKET: 'Bad_Bucket' is not a valid S3 bucket name"),
        (
            {"INBOUND_PREFIX": "inbound"},
            "INBOUND_PREFIX: 'inbound' must be a relative S3 key prefix ending in '/'",
        ),
        # A prefix given empty or padded is refused, not replaced by the default: SES would
        # write the mail under the given prefix while the function read under the default one.
        ({"INBOUND_PREFIX": ""}, "INBOUND_PREFIX: '' must be a relative S3 key prefix ending in '/'"),
        ({"ATTACHMENTS_PREFIX": " a/ "}, "ATTACHMENTS_PREFIX: ' a/ ' must be a relative S3 key prefix"),
        ({"CONNECT_RETRY_MODE": ""}, "CONNECT_RETRY_MODE: must be one of 'standard', 'adaptive', not \"\""),
        (
            {"QUARANTINE_PREFIX": "inbound/"},
            "INBOUND_PREFIX and QUARANTINE_PREFIX: 'inbound/' and 'inbound/' overlap",
        ),
        (
            {"ATTACHMENTS_PREFIX": "inbound/attachments/"},
            "INBOUND_PREFIX and ATTACHMENTS_PREFIX: 'inbound/' and 'inbound/attachments/' overlap",
        ),
        ({"CONTACT_EXPIRY_MINUTES": "0"}, "CONTACT_EXPIRY_MINUTES: must be between 1 and 20160, not 0"),
        ({"CONTACT_EXPIRY_MINUTES": "soon"}, 'CONTACT_EXPIRY_MINUTES: must be a whole number, not "soon"'),
        ({"STATIC_ATTRIBUTES": '{"bad key": "v"}'}, "STATIC_ATTRIBUTES: key 'bad key' may hold only"),
        (
            {"STATIC_ATTRIBUTES": '{"k": "' + "v" * 17000 + '"}'},
            "STATIC_ATTRIBUTES: 17001 UTF-8 bytes; at most 16384",
        ),
        ({"STATIC_ATTRIBUTES": "[1]"}, "STATIC_ATTRIBUTES: must be an object (JSON), not [1]"),
        ({"BODY_PREFERENCE": "rtf"}, "BODY_PREFERENCE: must be one of 'html', 'text', not \"rtf\""),
        (
            {"CONNECT_RETRY_MODE": "legacy"},
            "CONNECT_RETRY_MODE: must be one of 'standard', 'adaptive', not \"legacy\"",
        ),
        ({"CONNECT_MAX_ATTEMPTS": "50"}, "CONNECT_MAX_ATTEMPTS: must be between 1 and 10"),
        ({"ATTACHMENT_UPLOADS": "0"}, "ATTACHMENT_UPLOADS: must be between 1 and 10"),
        ({"ATTACHMENT_UPLOADS": "11"}, "ATTACHMENT_UPLOADS: must be between 1 and 10"),
    ],
)
def test_each_bad_value_is_named(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**BASE, **overrides})
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_connect_region_names_the_instance_region_or_is_left_to_the_function_region() -> None:
    assert Settings.from_env({**BASE, "CONNECT_REGION": "ap-northeast-2"}).connect_region == "ap-northeast-2"
    assert Settings.from_env(BASE).connect_region is None
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**BASE, "CONNECT_REGION": "Tokyo"})
    assert caught.value.problems == ["CONNECT_REGION: 'Tokyo' is not an AWS region name"]


def test_unset_variables_take_the_declared_defaults_the_dataclass_has_too() -> None:
    addresses = (ConnectAddress("support@example.com"), ConnectAddress("b@example.com", FLOW))
    built = Settings(BASE["CONNECT_INSTANCE_ID"], addresses, "mail-bucket")
    assert Settings.from_env(BASE) == built
    assert Settings.from_env(BASE).idempotency_ttl_seconds == 7 * 24 * 3600


def test_attachment_urls_outlive_the_replay_margin_and_both_lambda_retries() -> None:
    """Shorter (60 s, say), any retry signs the URLs again and a lost answer's contact id is lost."""
    least = URL_SAFETY_MARGIN_SECONDS + sum(LAMBDA_RETRY_DELAYS_SECONDS)
    assert least == 480
    for value in ("60", str(least - 1)):
        with pytest.raises(SettingsError) as caught:
            Settings.from_env({**BASE, "ATTACHMENT_URL_EXPIRY_SECONDS": value})
        assert caught.value.problems == [
            f"ATTACHMENT_URL_EXPIRY_SECONDS: must be at least {least}: the 300 s replay margin + "
            "Lambda's retry waits (60 + 120 s), or a retry signs the URLs again and a lost answer's "
            f"contact id is lost; not {value}"
        ]
    accepted = Settings.from_env({**BASE, "ATTACHMENT_URL_EXPIRY_SECONDS": str(least)})
    assert accepted.attachment_url_expiry_seconds == least


def test_a_flow_arn_of_the_instance_becomes_its_id_and_a_flow_name_is_refused() -> None:
    """The function reads contactFlowId by the stack's rule (ses_to_connect.flows)."""
    instance = BASE["CONNECT_INSTANCE_ID"]
    arn = f"arn:aws:connect:us-east-1:111122223333:instance/{instance}/contact-flow/{FLOW}"
    settings = Settings.from_env(
        {**BASE, "CONNECT_ADDRESSES": json.dumps([{"address": "a@x.com", "contactFlowId": arn}])}
    )
    assert settings.connect_addresses == (ConnectAddress("a@x.com", FLOW),)
    for flow, why in (
        ("Sales inbound", "'Sales inbound' is not a flow id"),
        (arn.replace(instance, "99999999-2222-3333-4444-555555555555"), "is a flow of another instance"),
    ):
        with pytest.raises(SettingsError) as caught:
            Settings.from_env(
                {**BASE, "CONNECT_ADDRESSES": json.dumps([{"address": "a@x.com", "contactFlowId": flow}])}
            )
        (problem,) = caught.value.problems
        assert problem.startswith("CONNECT_ADDRESSES[0].contactFlowId: ")
        assert why in problem
