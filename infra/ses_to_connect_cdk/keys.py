"""The stack's cdk.json keys, each declared once as a :class:`~ses_to_connect.settings.Setting`.

The function's own keys are declared in ``ses_to_connect.settings`` (the function cannot import this
package) and taken from there; the stack's keys are declared here, grouped as docs/infrastructure.md
lists them. A declaration gives the reader (:mod:`ses_to_connect_cdk.context`) the key's type,
default, range and rule, :class:`~ses_to_connect_cdk.config.BridgeConfig` its default, and the docs
their tables (``make docs``).
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any

from ses_to_connect.limits import EMAIL_PATTERN
from ses_to_connect.setting_rules import Reading, Setting, integer, json_value, matching
from ses_to_connect.settings import FUNCTION_SETTINGS


class RuleSetMode(StrEnum):
    """Where the receipt rule goes. Only one rule set can be active per account and region."""

    EXISTING = "existing"  # add the rule to a named rule set that already exists (usually the active one)
    CREATE_INACTIVE = "create-inactive"  # create a new rule set and leave it inactive
    CREATE_AND_ACTIVATE = "create-and-activate"  # create it and make it THE active set (replaces the old)


class MailEncryption(StrEnum):
    S3_MANAGED = "s3-managed"  # SSE-S3 on the bucket, SSE-SQS on the failure queue
    KMS = "kms"  # a customer managed key created by the stack for the bucket and the failure queue


class RemovalMode(StrEnum):
    RETAIN = "retain"
    DESTROY = "destroy"


class TlsPolicy(StrEnum):
    REQUIRE = "Require"
    OPTIONAL = "Optional"


# Regions with SES email receiving: the "Email receiving endpoints" table of the AWS General
# Reference (SES endpoints and quotas) as reproduced in January 2024 (the page itself could not be
# read when last checked: docs/infrastructure.md, Regions). SES invokes only a function in its own
# region, so a stack anywhere else can never receive mail: synth refuses it. A region AWS has
# added since is accepted through the extraReceivingRegions key. Opt-in regions are left out (below).
SES_RECEIVING_REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "ca-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-central-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
    }
)
# Opt-in regions (disabled by default; the SNS developer guide lists ap-southeast-3, Jakarta, among
# them) where SES receives mail but does not write it to an S3 bucket of that region, so the stack's
# S3 action could never store it. Refused as `region` with this reason, even in extraReceivingRegions.
SES_OPT_IN_REGIONS = frozenset({"ap-southeast-3"})
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731),
    *(1096, 1827, 2192, 2557, 2922, 3288, 3653),
)
MAX_SES_RECIPIENTS = 100  # per receipt rule
# Besides Connect, one invocation reads the raw message and stores its attachments: one attempt of
# each (connect + read timeout) is allowed for in the timeout budget.
OTHER_AWS_CALLS_IN_BUDGET = 2
MAX_LAMBDA_TIMEOUT_SECONDS = 900  # Lambda's ceiling

INSTANCE_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):connect:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):"
    r"(?P<account>\d{12}):instance/(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
INSTANCE_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
DOMAIN = re.compile(r"^\.?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
# SES: letters, digits, '_', '-' (rules also '.'), start and end alphanumeric, under 64 characters.
RULE_SET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
_RULE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9._/#: -]{1,255}$")
_LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
_STACK_NAME_RULE = "letters, digits and '-', starting with a letter"
_RULE_NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting and ending with a letter or digit"
_SERVICE_NAME_RULE = "1-128 letters, digits, '.', '_' or '-'"
DEFAULT_RULE_SET_NAME = "ses-to-connect"


def _integer_or_none(setting: Setting, value: Any) -> Reading:
    """A whole number in range, or the string "none" for no value (not JSON null: a null context value
    cannot be told apart from an absent one through jsii)."""
    if isinstance(value, str) and value.strip().lower() == "none":
        return Reading(None)
    reading = integer(setting, value)
    if reading.problems and reading.problems[0].startswith("must be between"):
        return Reading(setting.default, (reading.problems[0].replace(", not", ', or "none", not', 1),))
    return reading


def _retention_period(setting: Setting, value: Any) -> Reading:
    reading = integer(setting, value)
    if reading.problems or reading.value in setting.choices:
        return reading
    allowed = ", ".join(str(d) for d in setting.choices)
    return Reading(
        setting.default, (f"{reading.value} is not a CloudWatch Logs retention period; use one of {allowed}",)
    )


def _namespace(setting: Setting, value: Any) -> Reading:
    if not isinstance(value, str) or not _NAMESPACE.fullmatch(value) or value.startswith(("AWS/", ":")):
        return Reading(
            setting.default,
            (
                f"{value!r} is not a CloudWatch namespace of your own (1-255 letters, digits, '.', '-', '_', "
                "'/', '#', ':' or spaces, not starting with 'AWS/')",
            ),
        )
    return Reading(value)


def _region_names(setting: Setting, value: Any) -> Reading:
    reading = json_value(setting, value, list)
    if reading.problems:
        return reading
    bad = [item for item in reading.value if not isinstance(item, str) or not REGION_PATTERN.fullmatch(item)]
    if bad:
        return Reading((), (f"{json.dumps(bad)} are not AWS region names such as 'eu-west-3'",))
    return Reading(tuple(reading.value))


_EMAIL = matching(EMAIL_PATTERN, "an email address")
_STACK_NAME_VALID = matching(_STACK_NAME, f"valid ({_STACK_NAME_RULE})")
_RULE_NAME_VALID = matching(_RULE_NAME, f"valid ({_RULE_NAME_RULE})")
_SERVICE_NAME_VALID = matching(_SERVICE_NAME, f"valid ({_SERVICE_NAME_RULE})")
_LAYER_ARN_VALID = matching(_LAYER_ARN, "valid (a Lambda layer version ARN ending in ':<version>')")


# The stack's own keys, grouped as docs/infrastructure.md lists them. One key per paragraph, laid out
# by hand (fmt: off) so that each group reads as a table. ``None`` as default means "not set".
# fmt: off
TARGET_KEYS: tuple[Setting, ...] = (
    Setting("connect_instance_arn", "string", None, key="connectInstanceArn",
            default_text="required (or the id form)",
            example="arn:aws:connect:us-east-1:111122223333:instance/00000000-0000-0000-0000-000000000000",
            doc="The account and region of the stack default to the ARN's."),
    Setting("connect_instance_id", "string", None, key="connectInstanceId",
            example="00000000-0000-0000-0000-000000000000",
            doc="Instead of the ARN; then `account` and `region` are required. If both are given they "
                "must agree."),
    Setting("account", "string", None, key="account", default_text="from the ARN", example="111122223333",
            doc="12 digits; must equal the instance's account."),
    Setting("region", "string", None, key="region", default_text="from the ARN", example="ap-northeast-1",
            doc="Where the stack is deployed and mail is received. It must have SES email receiving "
                f"({', '.join(sorted(SES_RECEIVING_REGIONS))}): SES invokes only a function in its own "
                "region, so anything else is a synth error naming these regions. It may differ from the "
                "instance's region: see [Regions](#regions)."),
    Setting("extra_receiving_regions", "list", (), key="extraReceivingRegions", example='["eu-west-3"]',
            rule=_region_names,
            doc="Regions where AWS has added SES email receiving since the list above was checked (the "
                "AWS General Reference's \"Email receiving endpoints\" table); accepted as `region`, except "
                "an opt-in region (see [Regions](#regions))."),
    Setting("stack_name", "string", "SesToConnect", key="stackName", example="SesToConnect-prod",
            rule=_STACK_NAME_VALID,
            doc=f"CloudFormation stack name: {_STACK_NAME_RULE}."),
)
RULE_KEYS: tuple[Setting, ...] = (
    Setting("ses_recipients", "list", None, key="sesRecipients", default_text="the `connectAddresses`",
            example='["example.com"]',
            doc="What the rule matches: addresses, domains, or `.domain` for all subdomains; "
                f"1-{MAX_SES_RECIPIENTS} entries. Every Connect address must be covered."),
    Setting("rule_set_mode", "string", RuleSetMode.EXISTING, key="ruleSetMode", choices=tuple(RuleSetMode),
            example="create-inactive", doc="See [Rule set modes](#rule-set-modes)."),
    Setting("rule_set_name", "string", None, key="ruleSetName", example="default-rule-set",
            default_text=f"required for `existing`; `{DEFAULT_RULE_SET_NAME}` otherwise",
            doc="In `existing` mode: the set to add the rule to (usually the active one: "
                "`aws ses describe-active-receipt-rule-set`)."),
    Setting("rule_name", "string", "ses-to-connect", key="ruleName", example="to-connect",
            rule=_RULE_NAME_VALID, doc=f"{_RULE_NAME_RULE}."),
    Setting("rule_after", "string", None, key="ruleAfter", default_text="unset: the rule goes first",
            rule=_RULE_NAME_VALID,
            example="spam-filter", doc="An existing rule in the same set after which this rule is placed."),
    Setting("tls_policy", "string", TlsPolicy.REQUIRE, key="tlsPolicy", choices=tuple(TlsPolicy),
            example="Optional", doc="`Require` rejects mail not sent over TLS."),
    Setting("smoke_mailbox", "string", None, key="smokeMailbox", example="smoke@example.com", rule=_EMAIL,
            doc="An address on the receiving domain that is no Connect address: the rule stores its mail "
                "(added to the default `sesRecipients`; an explicit list must cover it) and the function "
                "hands none of it to Connect. `smoke` has the agent's reply sent there (see operations.md)."),
)
# The function's keys as the stack reads them, and the Powertools variables it renders.
FUNCTION_KEYS: tuple[Setting, ...] = (
    *(s for s in FUNCTION_SETTINGS if s.key),
    Setting("service_name", "string", "ses-to-connect", key="serviceName", env="POWERTOOLS_SERVICE_NAME",
            example="mail-bridge", rule=_SERVICE_NAME_VALID,
            doc=f"{_SERVICE_NAME_RULE}; also the `service` dimension of the quarantine alarm."),
    Setting("metrics_namespace", "string", "SesToConnect", key="metricsNamespace",
            env="POWERTOOLS_METRICS_NAMESPACE", example="Mail/Bridge", rule=_namespace,
            doc="A CloudWatch namespace of your own: not starting with `AWS/`."),
    Setting("log_level", "string", "INFO", key="logLevel", env="POWERTOOLS_LOG_LEVEL",
            choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), example="DEBUG",
            doc="The function's log level."),
)
LAMBDA_KEYS: tuple[Setting, ...] = (
    Setting("lambda_memory_mb", "integer", 512, key="lambdaMemoryMb", low=128, high=10240, example="1024",
            doc="Hostile mail up to 40 MB peaks at 276 MiB resident (a 39 MB undeclared 8-bit body), so 256 "
                "is not enough; 512 also doubles the CPU share. Measured: "
                "[performance.md](performance.md#hostile-mail-measured-worst-case)."),
    Setting("lambda_timeout_seconds", "integer", None, key="lambdaTimeoutSeconds", low=1,
            high=MAX_LAMBDA_TIMEOUT_SECONDS, example="600",
            default_text="the [timeout budget](#timeout-and-retry-budget) rounded up to a minute",
            doc="Unset, it grows with the addresses (300 s for the example's two, 420 s for three). A value "
                "given must cover the budget, or the synth stops and names the numbers."),
    Setting("lambda_reserved_concurrency", "integer", 2, key="lambdaReservedConcurrency", low=1, high=1000,
            rule=_integer_or_none,
            example='"none"',
            doc='`"none"` for no reservation (a JSON `null` means "default", like every other key). Applied '
                "at deploy time where the account's concurrency quota allows it; see "
                "[bursts](#bursts-retries-and-the-connect-quota)."),
    Setting("async_retry_attempts", "integer", 2, key="asyncRetryAttempts", low=0, high=2, example="0",
            doc="Retries of a failed asynchronous invocation."),
    Setting("async_max_event_age_seconds", "integer", 21600, key="asyncMaxEventAgeSeconds", low=60,
            high=21600, example="3600",
            doc="How long an event may wait (throttled or between retries) before it goes to the failure "
                "queue."),
    Setting("powertools_layer_arn", "string", None, key="powertoolsLayerArn",
            default_text="unset: the public SSM parameter", rule=_LAYER_ARN_VALID,
            example="arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27",
            doc="Only when `/aws/service/powertools/python/arm64/python3.13/<version>` does not exist in "
                "the region (see [Known limits](#known-limits))."),
)
STORAGE_KEYS: tuple[Setting, ...] = (
    Setting("mail_encryption", "string", MailEncryption.S3_MANAGED, key="mailEncryption",
            choices=tuple(MailEncryption), example="kms",
            doc="`s3-managed`: SSE-S3 bucket, SSE-SQS queue, tables with the AWS managed key "
                "`aws/dynamodb`. `kms`: the stack's customer managed key (rotated) for bucket (SSE-KMS "
                "with bucket key), failure queue and tables; SES then writes through the S3 action's IAM "
                "role ([Deploy](#deploy)). Never the SES action's `KmsKeyArn` (client-side encryption "
                "that `get_object` cannot read)."),
    Setting("removal_policy", "string", RemovalMode.RETAIN, key="removalPolicy", choices=tuple(RemovalMode),
            example="destroy",
            doc="Buckets, KMS key and log groups on stack deletion. `destroy` deletes only empty buckets: "
                "empty them (all versions) first."),
    Setting("inbound_retention_days", "integer", 30, key="inboundRetentionDays", low=1, high=3650,
            example="14", doc="Lifecycle expiration of `inboundPrefix`."),
    Setting("attachments_retention_days", "integer", 7, key="attachmentsRetentionDays", low=1, high=3650,
            example="3", doc="... of `attachmentsPrefix`; must outlast `attachmentUrlExpirySeconds`."),
    Setting("quarantine_retention_days", "integer", 90, key="quarantineRetentionDays", low=1, high=3650,
            example="180", doc="... of `quarantinePrefix`."),
    Setting("noncurrent_version_retention_days", "integer", 7, key="noncurrentVersionRetentionDays",
            low=1, high=3650, example="30",
            doc="Noncurrent versions (overwritten or expired objects), every prefix."),
    Setting("access_log_retention_days", "integer", 90, key="accessLogRetentionDays", low=1, high=3650,
            example="365", doc="S3 server access logs of the mail bucket."),
    Setting("log_retention_days", "integer", 30, key="logRetentionDays", choices=LOG_RETENTION_DAYS,
            rule=_retention_period,
            example="90", doc="CloudWatch Logs retention."),
    Setting("alarm_email", "string", None, key="alarmEmail", example="ops@example.com", rule=_EMAIL,
            doc="Subscribed to the alarm topic (confirm the subscription e-mail)."),
    Setting("quarantine_alarm_threshold", "integer", 10, key="quarantineAlarmThreshold", low=1, high=100000,
            example="3", doc="Quarantined messages per hour that raise the quarantine alarm."),
    Setting("no_contacts_alarm_hours", "integer", None, key="noContactsAlarmHours", low=1, high=24,
            default_text="unset: no such alarm", example="24",
            doc="The `NoContacts` alarm fires when mail reached the function in that many hours but no "
                "contact was created (all quarantined or failed). Off by default: a quiet or spam-only day "
                "would raise it."),
)
# fmt: on
# The authoritative list of context keys (a key in the context that looks like a misspelling of one
# of them is reported as an error rather than silently ignored).
CONTEXT_KEYS = TARGET_KEYS + RULE_KEYS + FUNCTION_KEYS + LAMBDA_KEYS + STORAGE_KEYS
SPECS = {spec.key: spec for spec in CONTEXT_KEYS}
# The keys by attribute name: BridgeConfig's defaults come from here.
DECLARED = {spec.name: spec for spec in CONTEXT_KEYS}
DEFAULTS = {spec.name: spec.default for spec in CONTEXT_KEYS}
