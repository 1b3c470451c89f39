"""BridgeConfig.from_context: defaults, derived values, and one clear message per bad key."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ses_to_connect.limits import ALLOWED_ATTACHMENT_EXTENSIONS
from ses_to_connect.settings import (
    DEFAULT_POLICY,
    FUNCTION_SETTINGS,
    Action,
    BodyPreference,
    ConnectAddress,
    Settings,
)
from ses_to_connect_cdk.config import (
    CONTEXT_KEYS,
    PLACEHOLDER_RESOURCES,
    SES_RECEIVING_REGIONS,
    BridgeConfig,
    ConfigError,
    MailEncryption,
    RemovalMode,
    RuleSetMode,
    RuntimeResources,
    TlsPolicy,
    connect_call_seconds,
    default_timeout_seconds,
    timeout_budget_seconds,
)
from ses_to_connect_cdk.paths import REPO_ROOT
from tests.infra.infra_support import cdk_json_context

ARN = "arn:aws:connect:us-east-1:111122223333:instance/00000000-0000-0000-0000-000000000000"
FLOW = "846ec553-a005-41c0-8341-0123456789ab"
MINIMAL: dict[str, Any] = {
    "connectInstanceArn": ARN,
    "connectAddresses": [{"address": "support@example.com"}],
    "ruleSetName": "default-rule-set",
}


def build(**overrides: Any) -> BridgeConfig:
    return BridgeConfig.from_context({**MINIMAL, **overrides})


def problems_of(**overrides: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        build(**overrides)
    return caught.value.problems


def test_minimal_context_gets_the_documented_defaults() -> None:
    config = build()
    assert (config.account, config.region, config.partition) == ("111122223333", "us-east-1", "aws")
    assert config.connect_region == "us-east-1"  # the instance's, and by default also the stack's
    assert config.extra_receiving_regions == ()
    assert config.connect_instance_id == "00000000-0000-0000-0000-000000000000"
    assert config.connect_instance_arn == ARN
    assert config.function.connect_addresses == (ConnectAddress("support@example.com"),)
    assert config.ses_recipients == ("support@example.com",)  # default: the Connect addresses
    assert config.rule_set_mode is RuleSetMode.EXISTING
    assert config.rule_name == "ses-to-connect"
    assert config.rule_after is None
    assert config.tls_policy is TlsPolicy.REQUIRE
    assert config.function.policy == DEFAULT_POLICY  # no overrides
    assert config.function.body_preference is BodyPreference.HTML
    assert config.function.prefer_reply_to is False
    assert dict(config.function.static_attributes) == {}
    assert config.function.contact_expiry_minutes is None
    assert (
        config.function.inbound_prefix,
        config.function.attachments_prefix,
        config.function.quarantine_prefix,
    ) == (
        "inbound/",
        "attachments/",
        "quarantine/",
    )
    assert (
        config.inbound_retention_days,
        config.attachments_retention_days,
        config.quarantine_retention_days,
    ) == (
        30,
        7,
        90,
    )
    assert config.noncurrent_version_retention_days == 7
    assert config.access_log_retention_days == 90
    assert config.log_retention_days == 30
    assert config.alarm_email is None
    assert config.quarantine_alarm_threshold == 10
    assert (config.lambda_memory_mb, config.lambda_timeout_seconds, config.lambda_reserved_concurrency) == (
        512,
        180,  # one address: its budget of 155 s, rounded up to a whole minute
        2,
    )
    assert (config.async_retry_attempts, config.async_max_event_age_seconds) == (2, 21600)
    assert (
        config.function.connect_retry_mode,
        config.function.connect_max_attempts,
        config.function.connect_timeout_seconds,
    ) == (
        "standard",
        5,
        10,
    )
    assert config.mail_encryption is MailEncryption.S3_MANAGED
    assert config.removal_policy is RemovalMode.RETAIN
    assert (config.service_name, config.metrics_namespace, config.log_level) == (
        "ses-to-connect",
        "SesToConnect",
        "INFO",
    )
    assert config.function.attachment_url_expiry_seconds == 3600
    assert config.powertools_layer_arn is None
    assert config.stack_name == "SesToConnect"
    assert config.mx_host == "inbound-smtp.us-east-1.amazonaws.com"


def test_defaults_in_code_match_the_key_table() -> None:
    config = build()
    table = {spec.key: spec.default for spec in CONTEXT_KEYS}
    assert table["lambdaMemoryMb"] == config.lambda_memory_mb
    assert table["lambdaTimeoutSeconds"] is None  # derived from the budget
    assert table["attachmentUrlExpirySeconds"] == config.function.attachment_url_expiry_seconds
    assert table["lambdaReservedConcurrency"] == config.lambda_reserved_concurrency
    assert table["inboundRetentionDays"] == config.inbound_retention_days
    assert table["quarantineAlarmThreshold"] == config.quarantine_alarm_threshold
    assert table["ruleSetMode"] == config.rule_set_mode.value
    assert table["tlsPolicy"] == config.tls_policy.value


def test_the_config_is_frozen() -> None:
    config = build()
    with pytest.raises(AttributeError):
        config.rule_name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.function.policy["spam:FAIL"] = Action.DELIVER  # type: ignore[index]


def test_receipt_rule_arn_is_built_from_the_names() -> None:
    config = build(ruleSetName="inbound-set", ruleName="to-connect")
    assert config.rule_set_arn == "arn:aws:ses:us-east-1:111122223333:receipt-rule-set/inbound-set"
    assert config.receipt_rule_arn == (
        "arn:aws:ses:us-east-1:111122223333:receipt-rule-set/inbound-set:receipt-rule/to-connect"
    )


def test_instance_id_with_account_and_region_instead_of_arn() -> None:
    config = BridgeConfig.from_context(
        {
            "connectInstanceId": "12345678-90ab-cdef-1234-567890abcdef",
            "account": "444455556666",
            "region": "eu-west-2",
            "connectAddresses": [{"address": "help@example.org"}],
            "ruleSetMode": "create-inactive",
        }
    )
    assert config.connect_instance_arn == (
        "arn:aws:connect:eu-west-2:444455556666:instance/12345678-90ab-cdef-1234-567890abcdef"
    )
    assert config.rule_set_name == "ses-to-connect"  # the default when the stack creates the set


def test_values_given_with_dash_c_arrive_as_strings_and_are_parsed() -> None:
    config = build(
        connectAddresses=f'[{{"address": "a@example.com", "contactFlowId": "{FLOW}"}}]',
        sesRecipients='["example.com"]',
        verdictPolicy='{"spam:FAIL": "deliver"}',
        staticAttributes='{"team": "billing"}',
        preferReplyTo="true",
        lambdaMemoryMb="1024",
        lambdaReservedConcurrency="none",
        contactExpiryMinutes="",
        tlsPolicy="optional",
        logLevel="debug",
        ruleSetMode="CREATE-INACTIVE",
    )
    assert config.function.connect_addresses == (ConnectAddress("a@example.com", FLOW),)
    assert config.ses_recipients == ("example.com",)
    assert config.function.policy == {**DEFAULT_POLICY, "spam:FAIL": Action.DELIVER}
    assert dict(config.function.static_attributes) == {"team": "billing"}
    assert config.function.prefer_reply_to is True
    assert config.lambda_memory_mb == 1024
    assert config.lambda_reserved_concurrency is None
    assert config.function.contact_expiry_minutes is None
    assert config.tls_policy is TlsPolicy.OPTIONAL
    assert config.log_level == "DEBUG"
    assert config.rule_set_mode is RuleSetMode.CREATE_INACTIVE


def test_lambda_environment_is_exactly_the_settings_contract() -> None:
    config = build(
        connectAddresses=[
            {"address": "a@example.com", "contactFlowId": FLOW},
            {"address": "b@example.com"},
        ],
        verdictPolicy={"spf:FAIL": "quarantine"},
        staticAttributes={"team": "billing"},
        contactExpiryMinutes=120,
        preferReplyTo=True,
        bodyPreference="text",
        attachmentUploads=2,
    )
    env = config.lambda_environment(
        RuntimeResources("my-mail-bucket", "ledger-table", "threads-table", "https://sqs.example/q")
    )
    assert env == {
        "CONNECT_INSTANCE_ID": "00000000-0000-0000-0000-000000000000",
        "CONNECT_REGION": "us-east-1",
        "CONNECT_ADDRESSES": f'[{{"address":"a@example.com","contactFlowId":"{FLOW}"}},'
        '{"address":"b@example.com"}]',
        "MAIL_BUCKET": "my-mail-bucket",
        "IDEMPOTENCY_TABLE": "ledger-table",
        "IDEMPOTENCY_TTL_SECONDS": "604800",
        "THREADS_TABLE": "threads-table",
        "THREAD_TTL_DAYS": "365",
        "FAILURE_QUEUE_URL": "https://sqs.example/q",
        "ATTACHMENT_URL_EXPIRY_SECONDS": "3600",
        "ATTACHMENT_UPLOADS": "2",
        "ATTACHMENT_EXTENSIONS": json.dumps(sorted(ALLOWED_ATTACHMENT_EXTENSIONS), separators=(",", ":")),
        "ATTACHMENT_MAX_BYTES": "20000000",
        "INLINE_IMAGE_MIN_BYTES": "2048",
        "AWS_TIMEOUT_SECONDS": "10",
        "INBOUND_PREFIX": "inbound/",
        "QUARANTINE_PREFIX": "quarantine/",
        "ATTACHMENTS_PREFIX": "attachments/",
        "BODY_PREFERENCE": "text",
        "PREFER_REPLY_TO": "true",
        "CONTACT_EXPIRY_MINUTES": "120",
        "STATIC_ATTRIBUTES": '{"team":"billing"}',
        "VERDICT_POLICY": '{"spf:FAIL":"quarantine"}',
        "CONNECT_RETRY_MODE": "standard",
        "CONNECT_MAX_ATTEMPTS": "5",
        "CONNECT_TIMEOUT_SECONDS": "10",
        "POWERTOOLS_SERVICE_NAME": "ses-to-connect",
        "POWERTOOLS_METRICS_NAMESPACE": "SesToConnect",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "MALLOC_ARENA_MAX": "1",
    }
    settings = Settings.from_env(env)  # the function accepts what the stack renders
    assert settings.instance_id == config.connect_instance_id
    assert settings.connect_region == "us-east-1"
    assert settings.connect_addresses == config.function.connect_addresses
    assert settings.contact_expiry_minutes == 120
    assert settings.attachment_uploads == 2
    assert settings.policy["spf:FAIL"].value == "quarantine"


def test_unset_contact_expiry_is_left_out_of_the_environment() -> None:
    env = build().lambda_environment(PLACEHOLDER_RESOURCES)
    assert "CONTACT_EXPIRY_MINUTES" not in env
    assert Settings.from_env(env).contact_expiry_minutes is None


def test_the_committed_cdk_json_example_is_valid() -> None:
    config = BridgeConfig.from_context(cdk_json_context())
    assert config.rule_set_mode is RuleSetMode.EXISTING
    assert config.rule_set_name == "default-rule-set"
    assert [a.address for a in config.function.connect_addresses] == [
        "support@example.com",
        "billing@example.com",
    ]


def test_cdk_json_turns_off_notices_and_telemetry() -> None:
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))
    assert cdk_json["notices"] is False
    assert cdk_json["context"]["cli-telemetry"] is False
    assert cdk_json["app"] == ".venv/bin/python app.py"


def test_every_context_key_is_documented() -> None:
    doc = (REPO_ROOT / "docs" / "infrastructure.md").read_text(encoding="utf-8")
    missing = [spec.key for spec in CONTEXT_KEYS if f"`{spec.key}`" not in doc]
    assert missing == []


def test_cdk_json_example_sets_every_key() -> None:
    context = cdk_json_context()
    assert [spec.key for spec in CONTEXT_KEYS if spec.key not in context] == [
        "connectInstanceId",
        "account",
        "region",
    ]


# ---- regions ------------------------------------------------------------------------------------

SEOUL_ARN = ARN.replace("us-east-1", "ap-northeast-2")


def test_a_region_without_ses_receiving_is_refused_naming_the_receiving_regions() -> None:
    problems = problems_of(connectInstanceArn=ARN.replace("us-east-1", "eu-north-1"))
    assert problems == [
        "region: 'eu-north-1' has no SES email receiving, and SES invokes only a function in its own "
        f"region; deploy to a receiving region ({', '.join(sorted(SES_RECEIVING_REGIONS))}) with "
        "-c region=..., and the function calls Connect in the instance's region"
    ]
    assert "ap-northeast-1, ap-southeast-1" in problems[0]


def test_an_instance_outside_the_receiving_regions_is_reached_from_one_that_receives() -> None:
    refused = problems_of(connectInstanceArn=SEOUL_ARN)
    assert refused[0].startswith("region: 'ap-northeast-2' has no SES email receiving")

    config = build(connectInstanceArn=SEOUL_ARN, region="ap-northeast-1")
    assert (config.region, config.connect_region) == ("ap-northeast-1", "ap-northeast-2")
    assert config.connect_instance_arn == SEOUL_ARN
    assert config.receipt_rule_arn.startswith("arn:aws:ses:ap-northeast-1:111122223333:")
    assert config.mx_host == "inbound-smtp.ap-northeast-1.amazonaws.com"
    env = config.lambda_environment(PLACEHOLDER_RESOURCES)
    assert env["CONNECT_REGION"] == "ap-northeast-2"
    assert Settings.from_env(env).connect_region == "ap-northeast-2"


def test_a_receiving_region_added_since_can_be_named() -> None:
    config = build(
        connectInstanceArn=ARN.replace("us-east-1", "eu-west-3"), extraReceivingRegions='["eu-west-3"]'
    )
    assert config.region == "eu-west-3"
    assert config.extra_receiving_regions == ("eu-west-3",)


# ---- timeout and retry budget -------------------------------------------------------------------


def test_one_connect_call_takes_at_most_every_attempt_timing_out_plus_the_capped_backoff() -> None:
    assert connect_call_seconds(1, 10) == 20
    assert connect_call_seconds(5, 10) == 5 * 20 + (1 + 2 + 4 + 8)
    assert connect_call_seconds(10, 1) == 10 * 2 + (1 + 2 + 4 + 8 + 16 + 20 + 20 + 20 + 20)


def test_the_budget_covers_every_destination_and_the_other_calls() -> None:
    assert (
        timeout_budget_seconds(
            destinations=2, connect_attempts=5, connect_timeout_seconds=10, aws_timeout_seconds=10
        )
        == 2 * 115 + 2 * 2 * 10
    )


def test_the_default_timeout_covers_the_budget_of_the_example_configuration() -> None:
    config = BridgeConfig.from_context(cdk_json_context())
    assert len(config.function.connect_addresses) == 2
    assert config.timeout_budget_seconds == 270
    assert config.lambda_timeout_seconds >= config.timeout_budget_seconds


def test_a_timeout_below_the_budget_is_refused_with_the_numbers() -> None:
    addresses = [{"address": f"a{i}@example.com"} for i in range(3)]
    assert problems_of(connectAddresses=addresses, lambdaTimeoutSeconds=300) == [
        "lambdaTimeoutSeconds: 300 s is shorter than the retry budget of 385 s (3 Connect address(es) x 5 "
        "attempts x 2 x connectTimeoutSeconds 10 + backoff, + 2 x 2 x awsTimeoutSeconds 10); raise it to "
        "at least 385 (max 900), leave it unset to derive it, or lower connectMaxAttempts / "
        "connectTimeoutSeconds"
    ]
    assert build(connectAddresses=addresses, lambdaTimeoutSeconds=385).timeout_budget_seconds == 385
    assert build(connectAddresses=addresses, connectMaxAttempts=3).timeout_budget_seconds == 3 * 63 + 40


@pytest.mark.parametrize(
    ("addresses", "budget", "timeout"), [(1, 155, 180), (2, 270, 300), (3, 385, 420), (7, 845, 900)]
)
def test_an_unset_timeout_is_the_budget_rounded_up_to_a_minute(
    addresses: int, budget: int, timeout: int
) -> None:
    config = build(connectAddresses=[{"address": f"a{i}@example.com"} for i in range(addresses)])
    assert (config.timeout_budget_seconds, config.lambda_timeout_seconds) == (budget, timeout)
    assert default_timeout_seconds(budget) == timeout


def test_three_addresses_synthesize_with_the_shipped_defaults() -> None:
    """cdk.json as shipped plus one more address, as a user would add it with -c: no timeout to tune."""
    context = cdk_json_context()
    context["connectAddresses"] = json.dumps([*context["connectAddresses"], {"address": "sales@example.com"}])
    config = BridgeConfig.from_context(context)
    assert (len(config.function.connect_addresses), config.lambda_timeout_seconds) == (3, 420)


def test_a_budget_beyond_lambdas_900_seconds_says_what_to_change() -> None:
    addresses = [{"address": f"a{i}@example.com"} for i in range(8)]  # 8 x 115 + 40 = 960 s
    (problem,) = problems_of(connectAddresses=addresses)
    assert problem.startswith("lambdaTimeoutSeconds: the retry budget is 960 s (8 Connect address(es) x 5")
    assert problem.endswith(
        "more than Lambda's 900 s; lower connectMaxAttempts or connectTimeoutSeconds (each address's worst "
        "call now takes 115 s; at these settings 7 address(es) fit), or split the addresses across two stacks"
    )
    assert (
        build(connectAddresses=addresses, connectMaxAttempts=3).lambda_timeout_seconds == 600
    )  # 8 x 63 + 40
    assert problems_of(connectAddresses=addresses, lambdaTimeoutSeconds=900)[0].startswith(
        "lambdaTimeoutSeconds: the retry budget is 960 s"
    )


VALID_FLOW = "f" * 500


def test_a_flow_arn_of_this_instance_gives_its_id_with_a_note() -> None:
    config = build(
        connectAddresses=[{"address": "a@example.com", "contactFlowId": f"{ARN}/contact-flow/{FLOW}"}]
    )
    assert config.function.connect_addresses == (ConnectAddress("a@example.com", FLOW),)
    assert config.notes == (
        f"connectAddresses[0].contactFlowId '{ARN}/contact-flow/{FLOW}' is a flow ARN; its id {FLOW} is used",
    )
    assert json.loads(config.lambda_environment(PLACEHOLDER_RESOURCES)["CONNECT_ADDRESSES"])[0] == {
        "address": "a@example.com",
        "contactFlowId": FLOW,
    }


OTHER_INSTANCE = "11111111-2222-3333-4444-555555555555"
INSTANCE = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("flow", "why"),
    [
        pytest.param(
            "Default inbound flow", "'Default inbound flow' is not a flow id (a lowercase UUID", id="name"
        ),
        pytest.param(FLOW.upper(), "is not a flow id", id="uppercase"),
        pytest.param(
            f"arn:aws:connect:us-east-1:111122223333:instance/{OTHER_INSTANCE}/contact-flow/{FLOW}",
            f"is a flow of another instance (instance '{OTHER_INSTANCE}', not '{INSTANCE}')",
            id="other-instance",
        ),
        pytest.param(
            f"arn:aws:connect:eu-west-2:444455556666:instance/00000000-0000-0000-0000-000000000000/contact-flow/{FLOW}",
            "(account '444455556666', not '111122223333'; region 'eu-west-2', not 'us-east-1')",
            id="other-account-and-region",
        ),
        pytest.param(f"{ARN}/contact-flow/{FLOW}:$SAVED", "names a flow version or alias", id="alias"),
    ],
)
def test_a_flow_that_is_not_an_id_of_this_instance_is_refused(flow: str, why: str) -> None:
    (problem,) = problems_of(connectAddresses=[{"address": "a@example.com", "contactFlowId": flow}])
    assert problem.startswith("connectAddresses[0].contactFlowId: ")
    assert why in problem


UNVERSIONED_LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"connectInstanceArn": None},
            "connectInstanceArn is required (or connectInstanceId together with account and region)",
        ),
        (
            {"connectInstanceArn": "arn:aws:connect:us-east-1:111122223333:instance"},
            "connectInstanceArn: 'arn:aws:connect:us-east-1:111122223333:instance' is not a Connect "
            "instance ARN "
            "(arn:aws:connect:REGION:ACCOUNT:instance/INSTANCE-ID)",
        ),
        ({"region": "us-east"}, "region: 'us-east' is not an AWS region name such as 'us-east-1'"),
        (
            {"extraReceivingRegions": ["Paris"]},
            "extraReceivingRegions: [\"Paris\"] are not AWS region names such as 'eu-west-3'",
        ),
        (
            {"account": "999999999999"},
            "account: '999999999999' differs from the account of connectInstanceArn ('111122223333'); "
            "the Connect instance must be in the deployment account",
        ),
        ({"account": "12345"}, "account: '12345' must be a 12-digit AWS account id"),
        (
            {
                "connectInstanceArn": None,
                "connectInstanceId": "not-a-uuid",
                "account": "111122223333",
                "region": "us-east-1",
            },
            "connectInstanceId: 'not-a-uuid' is not a Connect instance id (a lowercase UUID)",
        ),
        (
            {"connectInstanceArn": None, "connectInstanceId": "00000000-0000-0000-0000-000000000000"},
            "account is required when connectInstanceId is given instead of connectInstanceArn",
        ),
        (
            {"connectAddresses": None},
            'connectAddresses is required: a list of {"address": ..., "contactFlowId": ...}',
        ),
        ({"connectAddresses": []}, "connectAddresses: must name at least one Connect email address"),
        ({"connectAddresses": "[oops"}, "connectAddresses: is not valid JSON: Expecting value at position 1"),
        (
            {"connectAddresses": {"address": "a@example.com"}},
            'connectAddresses: must be a list (JSON), not {"address": "a@example.com"}',
        ),
        (
            {"connectAddresses": [{"address": "not-an-address"}]},
            "connectAddresses[0]: 'not-an-address' is not an email address",
        ),
        (
            {"connectAddresses": ["a@example.com"]},
            'connectAddresses[0]: must be an object {"address": ..., "contactFlowId": ...}',
        ),
        (
            {"connectAddresses": [{"address": "a@example.com"}, {"address": "A@example.com"}]},
            "connectAddresses[1]: 'A@example.com' is listed twice",
        ),
        (
            {"connectAddresses": [{"address": "a@example.com", "flow": "x"}]},
            "connectAddresses[0]: unknown field(s) flow; use address, contactFlowId",
        ),
        (
            {"connectAddresses": [{"address": "a@example.com", "contactFlowId": VALID_FLOW + "f"}]},
            "connectAddresses[0]: contactFlowId must be a string of 1-500 characters",
        ),
        (
            {"sesRecipients": ["other.example"]},
            "sesRecipients: no entry covers the Connect address 'support@example.com'; mail to it "
            "would never "
            "reach the function (add the address or its domain)",
        ),
        (
            {"sesRecipients": ["not a domain"]},
            'sesRecipients[0]: "not a domain" is not an email address or a domain (example.com, '
            ".example.com for "
            "subdomains)",
        ),
        ({"sesRecipients": []}, "sesRecipients: must list 1-100 addresses or domains, not 0"),
        (
            {"ruleSetName": None},
            "ruleSetName is required when ruleSetMode is 'existing': name the rule set to add the rule to "
            "(the active one: aws ses describe-active-receipt-rule-set)",
        ),
        (
            {"ruleSetName": "bad name!"},
            "ruleSetName: 'bad name!' is not valid (1-64 letters, digits, '_' or '-', starting and "
            "ending with a "
            "letter or digit)",
        ),
        (
            {"ruleName": "-starts-with-dash"},
            "ruleName: '-starts-with-dash' is not valid (1-64 letters, digits, '.', '_' or '-', starting and "
            "ending with a letter or digit)",
        ),
        ({"ruleAfter": "ses-to-connect"}, "ruleAfter: a rule cannot be placed after itself"),
        (
            {"ruleSetMode": "activate"},
            "ruleSetMode: must be one of 'existing', 'create-inactive', 'create-and-activate', not "
            '"activate"',
        ),
        ({"tlsPolicy": "Always"}, "tlsPolicy: must be one of 'Require', 'Optional', not \"Always\""),
        (
            {"verdictPolicy": {"spam:MAYBE": "deliver"}},
            "verdictPolicy: unknown rule 'spam:MAYBE'; known rules: virus:FAIL, virus:GRAY",
        ),
        (
            {"verdictPolicy": {"spam:FAIL": "drop"}},
            "verdictPolicy: rule 'spam:FAIL' has action 'drop'; use 'deliver' or 'quarantine'",
        ),
        ({"verdictPolicy": ["spam:FAIL"]}, 'verdictPolicy: must be an object (JSON), not ["spam:FAIL"]'),
        ({"bodyPreference": "markdown"}, "bodyPreference: must be one of 'html', 'text', not \"markdown\""),
        ({"preferReplyTo": "yes"}, 'preferReplyTo: must be true or false, not "yes"'),
        (
            {"staticAttributes": {"bad key": "x"}},
            "staticAttributes: key 'bad key' may hold only letters, digits, '-' and '_'",
        ),
        ({"staticAttributes": {"n": 1}}, "staticAttributes: value of 'n' must be a string, not 1"),
        (
            {"staticAttributes": {"big": "x" * 16382}},
            "staticAttributes: 16385 UTF-8 bytes; at most 16384 (half of Connect's attribute budget: the "
            "bridge's own attributes use the rest)",
        ),
        ({"contactExpiryMinutes": 0}, "contactExpiryMinutes: must be between 1 and 20160, not 0"),
        ({"contactExpiryMinutes": 1.5}, "contactExpiryMinutes: must be a whole number, not 1.5"),
        (
            {"inboundPrefix": "inbound"},
            "inboundPrefix: 'inbound' must be a relative S3 key prefix ending in '/' (SES "
            "concatenates prefix and "
            "message id), without empty segments",
        ),
        (
            {"quarantinePrefix": "/quarantine/"},
            "quarantinePrefix: '/quarantine/' must be a relative S3 key prefix ending in '/' (SES "
            "concatenates "
            "prefix and message id), without empty segments",
        ),
        (
            {"quarantinePrefix": "inbound/quarantine/"},
            "inboundPrefix and quarantinePrefix: 'inbound/' and 'inbound/quarantine/' overlap; the "
            "prefixes must "
            "be disjoint so that each IAM grant covers one kind of object",
        ),
        ({"inboundRetentionDays": 0}, "inboundRetentionDays: must be between 1 and 3650, not 0"),
        (
            {"attachmentsRetentionDays": "seven"},
            'attachmentsRetentionDays: must be a whole number, not "seven"',
        ),
        ({"quarantineRetentionDays": True}, "quarantineRetentionDays: must be a whole number, not true"),
        (
            {"logRetentionDays": 10},
            "logRetentionDays: 10 is not a CloudWatch Logs retention period; use one of 1, 3, 5, 7, 14, 30,",
        ),
        ({"alarmEmail": "ops"}, "alarmEmail: 'ops' is not an email address"),
        ({"lambdaMemoryMb": 64}, "lambdaMemoryMb: must be between 128 and 10240, not 64"),
        ({"lambdaTimeoutSeconds": 901}, "lambdaTimeoutSeconds: must be between 1 and 900, not 901"),
        (
            {"lambdaTimeoutSeconds": 60},
            "lambdaTimeoutSeconds: 60 s is shorter than the retry budget of 155 s",
        ),
        (
            {"attachmentUrlExpirySeconds": 7200},
            "attachmentUrlExpirySeconds: must be between 480 and 3600, not 7200",
        ),
        (  # the replay margin and Lambda's two retry waits, named in the message
            {"attachmentUrlExpirySeconds": 300},
            "attachmentUrlExpirySeconds: must be at least 480: the 300 s replay margin + Lambda's retry "
            "waits (60 + 120 s), or a retry signs the URLs again and a lost answer's contact id is lost; "
            "not 300",
        ),
        (
            {"lambdaReservedConcurrency": 0},
            'lambdaReservedConcurrency: must be between 1 and 1000, or "none", not 0',
        ),
        ({"asyncRetryAttempts": 3}, "asyncRetryAttempts: must be between 0 and 2, not 3"),
        ({"asyncMaxEventAgeSeconds": 30}, "asyncMaxEventAgeSeconds: must be between 60 and 21600, not 30"),
        (
            {"connectRetryMode": "legacy"},
            "connectRetryMode: must be one of 'standard', 'adaptive', not \"legacy\"",
        ),
        ({"connectMaxAttempts": 11}, "connectMaxAttempts: must be between 1 and 10, not 11"),
        ({"attachmentUploads": 0}, "attachmentUploads: must be between 1 and 10, not 0"),
        ({"attachmentUploads": 11}, "attachmentUploads: must be between 1 and 10, not 11"),
        ({"mailEncryption": "sse-c"}, "mailEncryption: must be one of 's3-managed', 'kms', not \"sse-c\""),
        (
            {"removalPolicy": "snapshot"},
            "removalPolicy: must be one of 'retain', 'destroy', not \"snapshot\"",
        ),
        (
            {"serviceName": "has space"},
            "serviceName: 'has space' is not valid (1-128 letters, digits, '.', '_' or '-')",
        ),
        (
            {"metricsNamespace": "AWS/Lambda"},
            "metricsNamespace: 'AWS/Lambda' is not a CloudWatch namespace of your own",
        ),
        (
            {"logLevel": "TRACE"},
            "logLevel: must be one of 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL', not \"TRACE\"",
        ),
        (
            {"powertoolsLayerArn": UNVERSIONED_LAYER},
            f"powertoolsLayerArn: {UNVERSIONED_LAYER!r} is not valid (a Lambda layer version ARN ending in "
            "':<version>')",
        ),
        (
            {"stackName": "1stack"},
            "stackName: '1stack' is not valid (letters, digits and '-', starting with a letter)",
        ),
        ({"lambdaMemroyMb": 1024}, "lambdaMemroyMb: unknown key; did you mean 'lambdaMemoryMb'?"),
        ({"rulesetmode": "existing"}, "rulesetmode: unknown key; did you mean 'ruleSetMode'?"),
    ],
)
def test_bad_configuration_is_rejected_with_a_message_naming_the_key(
    overrides: dict[str, Any], expected: str
) -> None:
    problems = problems_of(**overrides)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        build(lambdaMemoryMb=1, ruleSetMode="x", alarmEmail="y", connectAddresses=[])
    message = str(caught.value)
    assert message.startswith(
        "invalid deployment configuration (cdk.json context; override with -c KEY=VALUE):\n  - "
    )
    lines = message.splitlines()[1:]
    assert [re.sub(r":.*", "", line.strip("- ")) for line in lines] == [
        "connectAddresses",
        "ruleSetMode",
        "lambdaMemoryMb",
        "alarmEmail",
    ]


def test_unrelated_context_keys_are_ignored() -> None:
    config = BridgeConfig.from_context(
        {**MINIMAL, "@aws-cdk/core:enablePartitionLiterals": True, "cli-telemetry": False, "somethingElse": 1}
    )
    assert config.rule_name == "ses-to-connect"


def test_the_function_gets_the_declared_default_of_every_key_left_unset() -> None:
    settings = Settings.from_env(build().lambda_environment(PLACEHOLDER_RESOURCES))
    for setting in FUNCTION_SETTINGS:
        if setting.key and setting.key not in MINIMAL and setting.name != "policy":
            assert getattr(settings, setting.name) == setting.default, setting.key
    assert settings.policy == DEFAULT_POLICY


def test_attachment_extensions_are_read_as_connect_lists_them_with_or_without_the_dot() -> None:
    config = build(attachmentExtensions='["PDF", ".zip", "pdf"]', attachmentMaxBytes="104857600")
    assert (config.function.attachment_extensions, config.function.attachment_max_bytes) == (
        (".pdf", ".zip"),
        104_857_600,
    )
    env = config.lambda_environment(PLACEHOLDER_RESOURCES)
    assert (env["ATTACHMENT_EXTENSIONS"], env["ATTACHMENT_MAX_BYTES"]) == ('[".pdf",".zip"]', "104857600")
    assert Settings.from_env(env).attachment_extensions == (".pdf", ".zip")
    assert build().function.attachment_extensions == tuple(sorted(ALLOWED_ATTACHMENT_EXTENSIONS))
    assert problems_of(attachmentExtensions=["tar.gz"]) == [
        "attachmentExtensions: [\"tar.gz\"] are not file extensions (1-10 letters, digits, '-' or '_')"
    ]
    assert problems_of(attachmentMaxBytes=104_857_601) == [
        "attachmentMaxBytes: must be between 1 and 104857600, not 104857601"
    ]


def test_an_opt_in_region_is_refused_as_the_receiving_region_even_when_added() -> None:
    expected = (
        "region: 'ap-southeast-3' is an opt-in region, where SES does not write received mail to an S3 "
        "bucket of the region; receive in one of"
    )
    for extra in ([], ["ap-southeast-3"]):
        (problem,) = problems_of(region="ap-southeast-3", extraReceivingRegions=extra)
        assert problem.startswith(expected)
    assert "ap-southeast-3" not in SES_RECEIVING_REGIONS
