"""Deployment configuration: read from CDK context, validated once, frozen.

Every setting comes from ``cdk.json`` context and can be overridden on the command line with
``-c KEY=VALUE`` (values given with ``-c`` arrive as strings; lists and objects are then JSON).
:meth:`BridgeConfig.from_context` collects *every* problem and raises one :class:`ConfigError`
that names each key and says why, so a bad deploy needs one fix-and-retry.

Each key is declared once, as a :class:`~ses_to_connect.settings.Setting`: the function's own
in ``ses_to_connect.settings`` (the function cannot import this package), the stack's below.
The declarations give this reader its types, defaults and ranges, :class:`BridgeConfig` its
defaults, and ``docs/infrastructure.md`` its tables (``make docs``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from ses_to_connect.errors import SettingsError
from ses_to_connect.flows import read_contact_flow_id
from ses_to_connect.limits import ATTRIBUTE_KEY_PATTERN, EMAIL_PATTERN, MAX_CONTACT_FLOW_ID
from ses_to_connect.settings import (
    DEFAULT_POLICY,
    FUNCTION_SETTINGS,
    Action,
    BodyPreference,
    ConnectAddress,
    Setting,
    Settings,
    normalized_extensions,
)
from ses_to_connect.timing import connect_call_seconds

__all__ = [
    "CONTEXT_KEYS",
    "MAX_ATTACHMENT_URL_EXPIRY_SECONDS",
    "SES_OPT_IN_REGIONS",
    "SES_RECEIVING_REGIONS",
    "BridgeConfig",
    "ConfigError",
    "MailEncryption",
    "RemovalMode",
    "RuleSetMode",
    "TlsPolicy",
    "connect_call_seconds",
    "default_timeout_seconds",
    "recipient_covers",
    "timeout_budget_seconds",
]


class ConfigError(ValueError):
    """The CDK context is unusable; the message lists every problem, one key per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "invalid deployment configuration (cdk.json context; override with -c KEY=VALUE):\n  - "
            + "\n  - ".join(problems)
        )


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
# A URL pre-signed with the function's role session stops working when the session's credentials
# expire, whatever X-Amz-Expires says (S3 user guide). How long Lambda's sessions last is not
# documented, so the lifetime is capped at an hour rather than promising days the session may not keep.
MAX_ATTACHMENT_URL_EXPIRY_SECONDS = 3600
# Besides Connect, one invocation reads the raw message and stores its attachments: one attempt of
# each (connect + read timeout) is allowed for in the timeout budget.
OTHER_AWS_CALLS_IN_BUDGET = 2
MAX_ATTRIBUTE_BYTES = 32768  # all contact attributes together
MAX_LAMBDA_TIMEOUT_SECONDS = 900  # Lambda's ceiling

_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):connect:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):"
    r"(?P<account>\d{12}):instance/(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_EXTENSION = re.compile(r"^\.?[A-Za-z0-9_-]{1,10}$")  # Connect's FileExtension, optionally with its dot
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
_DOMAIN = re.compile(r"^\.?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
# SES: letters, digits, '_', '-' (rules also '.'), start and end alphanumeric, under 64 characters.
_RULE_SET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
_RULE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(?:/[A-Za-z0-9!_.*'()-]+)*/$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9._/#: -]{1,255}$")
_LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
_STACK_NAME_RULE = "letters, digits and '-', starting with a letter"
_RULE_NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting and ending with a letter or digit"
_SERVICE_NAME_RULE = "1-128 letters, digits, '.', '_' or '-'"
DEFAULT_RULE_SET_NAME = "ses-to-connect"


def timeout_budget_seconds(
    *, destinations: int, connect_attempts: int, connect_timeout_seconds: int, aws_timeout_seconds: int
) -> int:
    """What the function's timeout must cover: one worst-case Connect call per destination (one per
    configured Connect address at most, made one after another) plus one attempt of each other AWS
    call the invocation waits on."""
    other = OTHER_AWS_CALLS_IN_BUDGET * 2 * aws_timeout_seconds
    return destinations * connect_call_seconds(connect_attempts, connect_timeout_seconds) + other


def default_timeout_seconds(budget: int) -> int:
    """The function's timeout when ``lambdaTimeoutSeconds`` is unset: the budget rounded up to a whole
    minute (the margin covers the work between calls), so adding an address needs no tuning; at most
    Lambda's 900 s (a budget beyond it is refused with what to change)."""
    return min(-(-budget // 60) * 60, MAX_LAMBDA_TIMEOUT_SECONDS)


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
            doc="Regions where AWS has added SES email receiving since the list above was checked (the "
                "AWS General Reference's \"Email receiving endpoints\" table); accepted as `region`, except "
                "an opt-in region (see [Regions](#regions))."),
    Setting("stack_name", "string", "SesToConnect", key="stackName", example="SesToConnect-prod",
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
            doc=f"{_RULE_NAME_RULE}."),
    Setting("rule_after", "string", None, key="ruleAfter", default_text="unset: the rule goes first",
            example="spam-filter", doc="An existing rule in the same set after which this rule is placed."),
    Setting("tls_policy", "string", TlsPolicy.REQUIRE, key="tlsPolicy", choices=tuple(TlsPolicy),
            example="Optional", doc="`Require` rejects mail not sent over TLS."),
    Setting("smoke_mailbox", "string", None, key="smokeMailbox", example="smoke@example.com",
            doc="An address on the receiving domain that is no Connect address: the rule stores its mail "
                "(added to the default `sesRecipients`; an explicit list must cover it) and the function "
                "hands none of it to Connect. `smoke` has the agent's reply sent there (see operations.md)."),
)
# The function's keys as the stack reads them, and the Powertools variables it renders.
FUNCTION_KEYS: tuple[Setting, ...] = (
    *(
        # The stack caps the URL lifetime below SigV4's limit: see MAX_ATTACHMENT_URL_EXPIRY_SECONDS.
        s._replace(high=MAX_ATTACHMENT_URL_EXPIRY_SECONDS, doc=f"{s.doc} At most an hour (see below).")
        if s.key == "attachmentUrlExpirySeconds" else s
        for s in FUNCTION_SETTINGS if s.key
    ),
    Setting("service_name", "string", "ses-to-connect", key="serviceName", env="POWERTOOLS_SERVICE_NAME",
            example="mail-bridge",
            doc=f"{_SERVICE_NAME_RULE}; also the `service` dimension of the quarantine alarm."),
    Setting("metrics_namespace", "string", "SesToConnect", key="metricsNamespace",
            env="POWERTOOLS_METRICS_NAMESPACE", example="Mail/Bridge",
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
            default_text="unset: the public SSM parameter",
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
            example="90", doc="CloudWatch Logs retention."),
    Setting("alarm_email", "string", None, key="alarmEmail", example="ops@example.com",
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
_SPECS = {spec.key: spec for spec in CONTEXT_KEYS}
# The keys by attribute name: BridgeConfig's defaults and MailBucketProps' come from here.
DECLARED = {spec.name: spec for spec in CONTEXT_KEYS}
DEFAULTS = {spec.name: spec.default for spec in CONTEXT_KEYS}


_T = TypeVar("_T")


@dataclass(frozen=True)
class RuntimeResources:
    """Names of the stack's resources the function is told about (tokens until deploy)."""

    mail_bucket: str
    idempotency_table: str
    threads_table: str
    failure_queue_url: str


# Stand-ins with valid shapes, for validating the rendered environment at synth time.
PLACEHOLDER_RESOURCES = RuntimeResources(
    "placeholder-bucket", "placeholder-idempotency", "placeholder-threads", "https://sqs.invalid/placeholder"
)


@dataclass(frozen=True)
class BridgeConfig:
    """Everything the stack needs, validated. Build with :meth:`from_context`; each field with a
    default is declared in :data:`CONTEXT_KEYS`."""

    account: str
    region: str
    partition: str
    connect_instance_id: str
    connect_region: str
    connect_addresses: tuple[ConnectAddress, ...]
    ses_recipients: tuple[str, ...]
    rule_set_mode: RuleSetMode
    rule_set_name: str
    stack_name: str = DEFAULTS["stack_name"]
    rule_name: str = DEFAULTS["rule_name"]
    rule_after: str | None = DEFAULTS["rule_after"]
    tls_policy: TlsPolicy = DEFAULTS["tls_policy"]
    verdict_policy: Mapping[str, str] = DEFAULTS["policy"]  # VERDICT_POLICY's: no overrides
    body_preference: BodyPreference = DEFAULTS["body_preference"]
    prefer_reply_to: bool = DEFAULTS["prefer_reply_to"]
    static_attributes: Mapping[str, str] = DEFAULTS["static_attributes"]
    contact_expiry_minutes: int | None = DEFAULTS["contact_expiry_minutes"]
    inbound_prefix: str = DEFAULTS["inbound_prefix"]
    attachments_prefix: str = DEFAULTS["attachments_prefix"]
    quarantine_prefix: str = DEFAULTS["quarantine_prefix"]
    inbound_retention_days: int = DEFAULTS["inbound_retention_days"]
    attachments_retention_days: int = DEFAULTS["attachments_retention_days"]
    quarantine_retention_days: int = DEFAULTS["quarantine_retention_days"]
    noncurrent_version_retention_days: int = DEFAULTS["noncurrent_version_retention_days"]
    access_log_retention_days: int = DEFAULTS["access_log_retention_days"]
    log_retention_days: int = DEFAULTS["log_retention_days"]
    alarm_email: str | None = DEFAULTS["alarm_email"]
    smoke_mailbox: str | None = DEFAULTS["smoke_mailbox"]
    quarantine_alarm_threshold: int = DEFAULTS["quarantine_alarm_threshold"]
    lambda_memory_mb: int = DEFAULTS["lambda_memory_mb"]
    lambda_timeout_seconds: int = DEFAULTS["lambda_timeout_seconds"]
    lambda_reserved_concurrency: int | None = DEFAULTS["lambda_reserved_concurrency"]
    async_retry_attempts: int = DEFAULTS["async_retry_attempts"]
    async_max_event_age_seconds: int = DEFAULTS["async_max_event_age_seconds"]
    connect_retry_mode: str = DEFAULTS["connect_retry_mode"]
    connect_max_attempts: int = DEFAULTS["connect_max_attempts"]
    connect_timeout_seconds: int = DEFAULTS["connect_timeout_seconds"]
    aws_timeout_seconds: int = DEFAULTS["aws_timeout_seconds"]
    attachment_url_expiry_seconds: int = DEFAULTS["attachment_url_expiry_seconds"]
    attachment_uploads: int = DEFAULTS["attachment_uploads"]
    attachment_extensions: tuple[str, ...] = DEFAULTS["attachment_extensions"]
    attachment_max_bytes: int = DEFAULTS["attachment_max_bytes"]
    inline_image_min_bytes: int = DEFAULTS["inline_image_min_bytes"]
    idempotency_ttl_seconds: int = DEFAULTS["idempotency_ttl_seconds"]
    thread_ttl_days: int = DEFAULTS["thread_ttl_days"]
    mail_encryption: MailEncryption = DEFAULTS["mail_encryption"]
    removal_policy: RemovalMode = DEFAULTS["removal_policy"]
    service_name: str = DEFAULTS["service_name"]
    metrics_namespace: str = DEFAULTS["metrics_namespace"]
    log_level: str = DEFAULTS["log_level"]
    powertools_layer_arn: str | None = DEFAULTS["powertools_layer_arn"]
    extra_receiving_regions: tuple[str, ...] = DEFAULTS["extra_receiving_regions"]
    tracing: bool = DEFAULTS["tracing"]
    no_contacts_alarm_hours: int | None = DEFAULTS["no_contacts_alarm_hours"]
    # What the reader took from a value it accepted in another form (a flow ARN for its id): printed at synth.
    notes: tuple[str, ...] = field(default=(), compare=False)

    # ---- derived values -------------------------------------------------------------------

    @property
    def connect_instance_arn(self) -> str:
        return (
            f"arn:{self.partition}:connect:{self.connect_region}:{self.account}:"
            f"instance/{self.connect_instance_id}"
        )

    @property
    def mx_host(self) -> str:
        """Where the domain's MX record points: SES's inbound endpoint of the receiving region."""
        return f"inbound-smtp.{self.region}.amazonaws.com"

    @property
    def timeout_budget_seconds(self) -> int:
        """The longest one invocation can legitimately take (see :func:`timeout_budget_seconds`)."""
        return timeout_budget_seconds(
            destinations=len(self.connect_addresses),
            connect_attempts=self.connect_max_attempts,
            connect_timeout_seconds=self.connect_timeout_seconds,
            aws_timeout_seconds=self.aws_timeout_seconds,
        )

    @property
    def rule_set_arn(self) -> str:
        return f"arn:{self.partition}:ses:{self.region}:{self.account}:receipt-rule-set/{self.rule_set_name}"

    @property
    def receipt_rule_arn(self) -> str:
        """The exact ARN SES presents as ``aws:SourceArn``; built from names, so no token cycle."""
        return f"{self.rule_set_arn}:receipt-rule/{self.rule_name}"

    def lambda_environment(self, resources: RuntimeResources) -> dict[str, str]:
        """The function's environment, exactly per ``ses_to_connect.settings`` (the names are the contract).

        Every key with a variable is rendered from its field; one left unset (``CONTACT_EXPIRY_MINUTES``,
        which the settings read as "Connect's default") is left out, and ``TRACING`` only appears when
        tracing is on.
        """
        addresses = [
            {"address": a.address, **({"contactFlowId": a.contact_flow_id} if a.contact_flow_id else {})}
            for a in self.connect_addresses
        ]
        env = {
            "CONNECT_INSTANCE_ID": self.connect_instance_id,
            "CONNECT_REGION": self.connect_region,
            "CONNECT_ADDRESSES": json.dumps(addresses, separators=(",", ":")),
            "VERDICT_POLICY": _env_value(self.verdict_policy),
            "MAIL_BUCKET": resources.mail_bucket,
            "IDEMPOTENCY_TABLE": resources.idempotency_table,
            "THREADS_TABLE": resources.threads_table,
            "FAILURE_QUEUE_URL": resources.failure_queue_url,
            # One glibc malloc arena: without it each attachment-upload thread gets its own and
            # resident memory for a 10 MB message rises from 1.5x to 2.1x its size (docs/performance.md).
            "MALLOC_ARENA_MAX": "1",
        }
        for spec in FUNCTION_KEYS:
            if spec.env not in env and getattr(self, spec.name) is not None:
                env[spec.env] = _env_value(getattr(self, spec.name))
        if not self.tracing:
            del env["TRACING"]
        return env

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> BridgeConfig:
        """Validate ``context`` (all CDK context, feature flags included) and build the config.

        Raises :class:`ConfigError` listing every problem found.
        """
        problems: list[str] = []
        reader = _Reader(context, problems)
        _report_misspelled_keys(context, problems)

        partition, account, region, connect_region, instance_id = _connect_instance(reader, problems)
        addresses = reader.connect_addresses(
            "connectAddresses", instance_id, account=account, region=connect_region
        )
        mode = reader.choice("ruleSetMode")
        # The keys that need more than their declared type and range, each with a reader of its own.
        kwargs: dict[str, Any] = {
            "account": account,
            "region": region,
            "partition": partition,
            "connect_instance_id": instance_id,
            "connect_region": connect_region,
            "connect_addresses": addresses,
            "ses_recipients": reader.recipients("sesRecipients", addresses),
            "rule_set_mode": mode,
            "rule_set_name": reader.rule_set_name(mode),
            "stack_name": reader.pattern("stackName", _STACK_NAME, _STACK_NAME_RULE),
            "rule_name": reader.pattern("ruleName", _RULE_NAME, _RULE_NAME_RULE),
            "rule_after": reader.optional_pattern("ruleAfter", _RULE_NAME, _RULE_NAME_RULE),
            "verdict_policy": reader.verdict_policy("verdictPolicy"),
            "static_attributes": reader.static_attributes("staticAttributes"),
            "inbound_prefix": reader.prefix("inboundPrefix"),
            "attachments_prefix": reader.prefix("attachmentsPrefix"),
            "quarantine_prefix": reader.prefix("quarantinePrefix"),
            "log_retention_days": reader.log_retention("logRetentionDays"),
            "alarm_email": reader.optional_email("alarmEmail"),
            "smoke_mailbox": reader.optional_email("smokeMailbox"),
            "lambda_reserved_concurrency": reader.integer("lambdaReservedConcurrency", none_disables=True),
            "service_name": reader.pattern("serviceName", _SERVICE_NAME, _SERVICE_NAME_RULE),
            "metrics_namespace": reader.namespace("metricsNamespace"),
            "powertools_layer_arn": reader.optional_pattern(
                "powertoolsLayerArn", _LAYER_ARN, "a Lambda layer version ARN ending in ':<version>'"
            ),
            "extra_receiving_regions": reader.strings(
                "extraReceivingRegions", _REGION, "AWS region names such as 'eu-west-3'"
            ),
            # As Connect's attached-files configuration lists them (no dot), or with the dot.
            "attachment_extensions": normalized_extensions(
                reader.strings(
                    "attachmentExtensions", _EXTENSION, "file extensions (1-10 letters, digits, '-' or '_')"
                )
            ),
        }
        # Every other field is a whole number in its range, true or false, or one of its choices.
        names = {f.name for f in fields(cls)}
        for spec in CONTEXT_KEYS:
            if spec.name in names and spec.name not in kwargs:
                kwargs[spec.name] = reader.declared(spec)
        kwargs["notes"] = tuple(reader.notes)
        _cross_checks(kwargs, problems)
        _smoke_mailbox(kwargs, explicit_recipients=reader.raw("sesRecipients") is not None, problems=problems)
        if not problems:
            # The function's own settings are the contract: validate the rendered environment with them.
            candidate = cls(**kwargs)
            try:
                Settings.from_env(candidate.lambda_environment(PLACEHOLDER_RESOURCES))
            except SettingsError as exc:
                problems.extend(
                    f"Lambda settings rejected the rendered environment: {p}" for p in exc.problems
                )
        if problems:
            raise ConfigError(problems)
        return cls(**kwargs)


def _report_misspelled_keys(context: Mapping[str, Any], problems: list[str]) -> None:
    known = list(_SPECS)
    lowered = {k.lower(): k for k in known}
    for key in context:
        if key in _SPECS or key.startswith(("@", "aws:", "cdk")):
            continue
        match = lowered.get(key.lower()) or next(
            iter(difflib.get_close_matches(key, known, n=1, cutoff=0.8)), None
        )
        if match:
            problems.append(f"{key}: unknown key; did you mean {match!r}?")


def _connect_instance(reader: _Reader, problems: list[str]) -> tuple[str, str, str, str, str]:
    """(partition, account, region, connect region, id) from connectInstanceArn, or connectInstanceId +
    account + region.

    ``region`` (where the stack receives mail) defaults to the instance's region and may differ from
    it: the function then calls Connect across regions.
    """
    arn = reader.optional_str("connectInstanceArn")
    instance_id = reader.optional_str("connectInstanceId")
    account = reader.optional_str("account")
    region = reader.optional_str("region")
    partition = "aws"
    if account is not None and not _ACCOUNT.fullmatch(account):
        problems.append(f"account: {account!r} must be a 12-digit AWS account id")
    if region is not None and not _REGION.fullmatch(region):
        problems.append(f"region: {region!r} is not an AWS region name such as 'us-east-1'")
        region = None
    if arn is not None:
        match = _ARN.fullmatch(arn)
        if not match:
            problems.append(
                f"connectInstanceArn: {arn!r} is not a Connect instance ARN "
                "(arn:aws:connect:REGION:ACCOUNT:instance/INSTANCE-ID)"
            )
            return partition, account or "", region or "", region or "", instance_id or ""
        partition = match["partition"]
        if instance_id is not None and instance_id != match["id"]:
            problems.append(
                f"connectInstanceId: {instance_id!r} differs from the id in connectInstanceArn "
                f"({match['id']!r})"
            )
        if account is not None and account != match["account"]:
            problems.append(
                f"account: {account!r} differs from the account of connectInstanceArn "
                f"({match['account']!r}); "
                "the Connect instance must be in the deployment account"
            )
        return partition, match["account"], region or match["region"], match["region"], match["id"]
    if instance_id is None:
        problems.append(
            "connectInstanceArn is required (or connectInstanceId together with account and region)"
        )
        return partition, account or "", region or "", region or "", ""
    if not _UUID.fullmatch(instance_id):
        problems.append(f"connectInstanceId: {instance_id!r} is not a Connect instance id (a lowercase UUID)")
    if account is None:
        problems.append("account is required when connectInstanceId is given instead of connectInstanceArn")
    if region is None:
        problems.append("region is required when connectInstanceId is given instead of connectInstanceArn")
    return partition, account or "", region or "", region or "", instance_id


def _smoke_mailbox(kwargs: dict[str, Any], *, explicit_recipients: bool, problems: list[str]) -> None:
    """The rule must store the smoke mailbox's mail, and the function must not take it for Connect's."""
    mailbox: str | None = kwargs["smoke_mailbox"]
    if mailbox is None:
        return
    if mailbox.lower() in {a.address.lower() for a in kwargs["connect_addresses"]}:
        problems.append(
            f"smokeMailbox: {mailbox!r} is a Connect address; name an address Connect does not own"
        )
    elif not explicit_recipients:
        kwargs["ses_recipients"] = (*kwargs["ses_recipients"], mailbox)
        if len(kwargs["ses_recipients"]) > MAX_SES_RECIPIENTS:
            problems.append(f"smokeMailbox: the rule would match more than {MAX_SES_RECIPIENTS} recipients")
    elif not any(recipient_covers(r, mailbox) for r in kwargs["ses_recipients"]):
        problems.append(
            f"sesRecipients: no entry covers smokeMailbox {mailbox!r}; the rule would not store its mail"
        )


def _cross_checks(kwargs: dict[str, Any], problems: list[str]) -> None:
    prefixes = {
        "inboundPrefix": kwargs["inbound_prefix"],
        "attachmentsPrefix": kwargs["attachments_prefix"],
        "quarantinePrefix": kwargs["quarantine_prefix"],
    }
    names = list(prefixes)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = prefixes[first], prefixes[second]
            if a and b and (a.startswith(b) or b.startswith(a)):
                problems.append(
                    f"{first} and {second}: {a!r} and {b!r} overlap; the prefixes must be disjoint so that "
                    "each IAM grant covers one kind of object"
                )
    if kwargs["connect_addresses"]:
        _check_timeout(kwargs, problems)
    region = kwargs["region"]
    receiving = SES_RECEIVING_REGIONS | set(kwargs["extra_receiving_regions"])
    if region in SES_OPT_IN_REGIONS:
        problems.append(
            f"region: {region!r} is an opt-in region, where SES does not write received mail to an S3 "
            f"bucket of the region; receive in one of {', '.join(sorted(SES_RECEIVING_REGIONS))} with -c "
            "region=..., and the function calls Connect in the instance's region"
        )
    elif region and region not in receiving:
        problems.append(
            f"region: {region!r} has no SES email receiving, and SES invokes only a function in its own "
            f"region; deploy to a receiving region ({', '.join(sorted(receiving))}) with -c region=..., "
            "and the function calls Connect in the instance's region"
        )
    expiry, kept_days = kwargs["attachment_url_expiry_seconds"], kwargs["attachments_retention_days"]
    if expiry and kept_days and kept_days * 86_400 < expiry:
        problems.append(
            f"attachmentsRetentionDays: {kept_days} days is shorter than attachmentUrlExpirySeconds "
            f"({expiry}); a URL Connect was given would point at a deleted object"
        )
    if kwargs["rule_after"] and kwargs["rule_after"] == kwargs["rule_name"]:
        problems.append("ruleAfter: a rule cannot be placed after itself")


def _check_timeout(kwargs: dict[str, Any], problems: list[str]) -> None:
    """Derive an unset lambdaTimeoutSeconds from the budget; refuse a timeout that cannot cover it."""
    addresses, attempts = len(kwargs["connect_addresses"]), kwargs["connect_max_attempts"]
    connect_timeout, aws_timeout = kwargs["connect_timeout_seconds"], kwargs["aws_timeout_seconds"]
    budget = timeout_budget_seconds(
        destinations=addresses,
        connect_attempts=attempts,
        connect_timeout_seconds=connect_timeout,
        aws_timeout_seconds=aws_timeout,
    )
    explicit = kwargs["lambda_timeout_seconds"] is not None
    if not explicit:
        kwargs["lambda_timeout_seconds"] = default_timeout_seconds(budget)
    timeout = kwargs["lambda_timeout_seconds"]
    if timeout >= budget:
        return
    how = (
        f"{addresses} Connect address(es) x {attempts} attempts x 2 x connectTimeoutSeconds "
        f"{connect_timeout} + backoff, + {OTHER_AWS_CALLS_IN_BUDGET} x 2 x awsTimeoutSeconds {aws_timeout}"
    )
    if budget <= MAX_LAMBDA_TIMEOUT_SECONDS:
        problems.append(
            f"lambdaTimeoutSeconds: {timeout} s is shorter than the retry budget of {budget} s ({how}); "
            f"raise it to at least {budget} (max {MAX_LAMBDA_TIMEOUT_SECONDS}), leave it unset to derive "
            "it, or lower connectMaxAttempts / connectTimeoutSeconds"
        )
        return
    per_call = connect_call_seconds(attempts, connect_timeout)
    fits = (MAX_LAMBDA_TIMEOUT_SECONDS - OTHER_AWS_CALLS_IN_BUDGET * 2 * aws_timeout) // per_call
    problems.append(
        f"lambdaTimeoutSeconds: the retry budget is {budget} s ({how}), more than Lambda's "
        f"{MAX_LAMBDA_TIMEOUT_SECONDS} s; lower connectMaxAttempts or connectTimeoutSeconds (each address's "
        f"worst call now takes {per_call} s; at these settings {fits} address(es) fit), or split the "
        "addresses across two stacks"
    )


class _Reader:
    """Typed reads of context values, appending problems instead of raising.

    Values may be native JSON (from cdk.json) or strings (from ``-c``), so every reader accepts both.
    """

    def __init__(self, context: Mapping[str, Any], problems: list[str]) -> None:
        self.context = context
        self.problems = problems
        self.notes: list[str] = []

    def raw(self, key: str) -> Any:
        """The value, or the key's default when it is absent, null, or "" / "null" (from ``-c``)."""
        value = self.context.get(key)
        if _is_null(value):
            return _SPECS[key].default
        return value

    def _fail(self, key: str, why: str, fallback: _T) -> _T:
        self.problems.append(f"{key}: {why}")
        return fallback

    def optional_str(self, key: str) -> str | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str):
            return self._fail(key, f"must be a string, not {json.dumps(value)}", None)
        return value.strip()

    def string(self, key: str) -> str:
        value = self.optional_str(key)
        return "" if value is None else value

    def pattern(self, key: str, regex: re.Pattern[str], rule: str) -> str:
        value = self.string(key)
        if not regex.fullmatch(value):
            self.problems.append(f"{key}: {value!r} is not valid ({rule})")
        return value

    def optional_pattern(self, key: str, regex: re.Pattern[str], rule: str) -> str | None:
        value = self.optional_str(key)
        if value is not None and not regex.fullmatch(value):
            self.problems.append(f"{key}: {value!r} is not valid ({rule})")
        return value

    def declared(self, spec: Setting) -> Any:
        """A key read by its declaration alone: one of its choices, true or false, or a whole number."""
        if spec.choices:
            return self.choice(spec.key)
        if spec.type == "boolean":
            return self.boolean(spec.key)
        if spec.type == "integer":
            return self.integer(spec.key)
        raise TypeError(f"{spec.key}: a {spec.type} without choices needs a reader of its own")

    def choice(self, key: str) -> Any:
        """One of the key's declared choices, matched case-insensitively, as declared."""
        spec = _SPECS[key]
        value = self.raw(key)
        if isinstance(value, str):
            for choice in spec.choices:
                if choice.lower() == value.strip().lower():
                    return choice
        allowed = ", ".join(repr(str(c)) for c in spec.choices)
        return self._fail(key, f"must be one of {allowed}, not {json.dumps(value)}", spec.default)

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
            return value.strip().lower() == "true"
        return self._fail(key, f"must be true or false, not {json.dumps(value)}", bool(_SPECS[key].default))

    def _int(self, key: str, value: Any) -> int | None:
        if isinstance(value, bool):
            return self._fail(key, f"must be a whole number, not {json.dumps(value)}", None)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        return self._fail(key, f"must be a whole number, not {json.dumps(value)}", None)

    def integer(self, key: str, *, none_disables: bool = False) -> int | None:
        """A whole number in the key's declared range, else its default (None: unset).

        With ``none_disables`` the string "none" gives None (not JSON null: a null context value cannot
        be told apart from an absent one through jsii).
        """
        spec = _SPECS[key]
        value = self.context.get(key)
        if none_disables and isinstance(value, str) and value.strip().lower() == "none":
            return None
        default: int | None = spec.default
        value = self.raw(key)
        number = None if value is None else self._int(key, value)
        if number is None:
            return default
        if not spec.within(number):
            extra = ', or "none"' if none_disables else ""
            why = spec.below_low(number) or f"must be between {spec.low} and {spec.high}{extra}, not {number}"
            return self._fail(key, why, default)
        return number

    def log_retention(self, key: str) -> int:
        spec = _SPECS[key]
        number = self.integer(key)
        if number is None or number not in spec.choices:
            allowed = ", ".join(str(d) for d in spec.choices)
            why = f"{number} is not a CloudWatch Logs retention period; use one of {allowed}"
            return self._fail(key, why, int(spec.default))
        return number

    def optional_email(self, key: str) -> str | None:
        value = self.optional_str(key)
        if value is not None and not EMAIL_PATTERN.fullmatch(value):
            self.problems.append(f"{key}: {value!r} is not an email address")
        return value

    def prefix(self, key: str) -> str:
        value = self.string(key)
        if not _PREFIX.fullmatch(value):
            self.problems.append(
                f"{key}: {value!r} must be a relative S3 key prefix ending in '/' (SES concatenates "
                "prefix and message id), without empty segments"
            )
            return ""
        return value

    def namespace(self, key: str) -> str:
        value = self.string(key)
        if not _NAMESPACE.fullmatch(value) or value.startswith(("AWS/", ":")):
            self.problems.append(
                f"{key}: {value!r} is not a CloudWatch namespace of your own (1-255 letters, digits, "
                "'.', '-', '_', '/', '#', ':' or spaces, not starting with 'AWS/')"
            )
        return value

    def json_value(self, key: str, kind: type[_T]) -> _T | None:
        """A list or object given natively or as a JSON string; ``None`` when unset or invalid."""
        value = self.context.get(key)
        if _is_null(value):
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                return self._fail(key, f"is not valid JSON: {exc.msg} at position {exc.pos}", None)
        if not isinstance(value, kind):
            article = "a list" if kind is list else "an object"
            return self._fail(key, f"must be {article} (JSON), not {json.dumps(value)}", None)
        return value

    def strings(self, key: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
        """A list of strings, each matching ``pattern`` (``what`` names them in a problem), or the default."""
        items = self.json_value(key, list)
        if items is None:
            return tuple(_SPECS[key].default)
        bad = [item for item in items if not isinstance(item, str) or not pattern.fullmatch(item)]
        if bad:
            return self._fail(key, f"{json.dumps(bad)} are not {what}", ())
        return tuple(items)

    def connect_addresses(
        self, key: str, instance_id: str, *, account: str, region: str
    ) -> tuple[ConnectAddress, ...]:
        items = self.json_value(key, list)
        if items is None:
            if _is_null(self.context.get(key)):
                self.problems.append(f'{key} is required: a list of {{"address": ..., "contactFlowId": ...}}')
            return ()
        if not items:
            return self._fail(key, "must name at least one Connect email address", ())
        result: list[ConnectAddress] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("address"), str):
                self.problems.append(f'{where}: must be an object {{"address": ..., "contactFlowId": ...}}')
                continue
            unknown = sorted(set(item) - {"address", "contactFlowId"})
            if unknown:
                self.problems.append(
                    f"{where}: unknown field(s) {', '.join(unknown)}; use address, contactFlowId"
                )
            address = item["address"].strip()
            if not EMAIL_PATTERN.fullmatch(address) or len(address) > 255:
                self.problems.append(f"{where}: {address!r} is not an email address")
            if address.lower() in seen:
                self.problems.append(f"{where}: {address!r} is listed twice")
            seen.add(address.lower())
            flow = item.get("contactFlowId")
            if flow is not None and (not isinstance(flow, str) or not 1 <= len(flow) <= MAX_CONTACT_FLOW_ID):
                self.problems.append(
                    f"{where}: contactFlowId must be a string of 1-{MAX_CONTACT_FLOW_ID} characters"
                )
                flow = None
            elif flow is not None:
                reading = read_contact_flow_id(
                    flow, instance_id, account=account or None, region=region or None
                )
                if reading.problem:
                    self.problems.append(f"{where}.contactFlowId: {reading.problem}")
                if reading.note:
                    self.notes.append(f"{where}.{reading.note}")
                flow = reading.flow_id
            result.append(ConnectAddress(address, flow or None))
        return tuple(result)

    def recipients(self, key: str, addresses: tuple[ConnectAddress, ...]) -> tuple[str, ...]:
        if self.raw(key) is None:
            return tuple(a.address for a in addresses)
        items = self.json_value(key, list)
        if items is None:
            return ()
        if not items or len(items) > MAX_SES_RECIPIENTS:
            return self._fail(
                key, f"must list 1-{MAX_SES_RECIPIENTS} addresses or domains, not {len(items)}", ()
            )
        result: list[str] = []
        for index, item in enumerate(items):
            if not isinstance(item, str) or not (EMAIL_PATTERN.fullmatch(item) or _DOMAIN.fullmatch(item)):
                self.problems.append(
                    f"{key}[{index}]: {json.dumps(item)} is not an email address or a domain (example.com, "
                    ".example.com for subdomains)"
                )
                continue
            if item.lower() in {r.lower() for r in result}:
                self.problems.append(f"{key}[{index}]: {item!r} is listed twice")
            result.append(item)
        for address in addresses:
            if not any(recipient_covers(r, address.address) for r in result):
                self.problems.append(
                    f"{key}: no entry covers the Connect address {address.address!r}; mail to it would never "
                    "reach the function (add the address or its domain)"
                )
        return tuple(result)

    def rule_set_name(self, mode: RuleSetMode) -> str:
        value = self.optional_str("ruleSetName")
        if value is None:
            if mode is RuleSetMode.EXISTING:
                self.problems.append(
                    "ruleSetName is required when ruleSetMode is 'existing': name the rule set to add the "
                    "rule to (the active one: aws ses describe-active-receipt-rule-set)"
                )
                return ""
            return DEFAULT_RULE_SET_NAME
        if not _RULE_SET_NAME.fullmatch(value):
            self.problems.append(
                f"ruleSetName: {value!r} is not valid (1-64 letters, digits, '_' or '-', starting and ending "
                "with a letter or digit)"
            )
        return value

    def verdict_policy(self, key: str) -> Mapping[str, str]:
        overrides = self.json_value(key, dict)
        if overrides is None:
            default: Mapping[str, str] = _SPECS[key].default
            return default
        actions = [a.value for a in Action]
        result: dict[str, str] = {}
        for rule, action in overrides.items():
            if rule not in DEFAULT_POLICY:
                self.problems.append(
                    f"{key}: unknown rule {rule!r}; known rules: {', '.join(DEFAULT_POLICY)}"
                )
            elif action not in actions:
                self.problems.append(
                    f"{key}: rule {rule!r} has action {json.dumps(action)}; "
                    f"use {' or '.join(map(repr, actions))}"
                )
            else:
                result[rule] = action
        return MappingProxyType(result)

    def static_attributes(self, key: str) -> Mapping[str, str]:
        attributes = self.json_value(key, dict)
        if attributes is None:
            default: Mapping[str, str] = _SPECS[key].default
            return default
        result: dict[str, str] = {}
        for name, value in attributes.items():
            if not ATTRIBUTE_KEY_PATTERN.fullmatch(name):
                self.problems.append(f"{key}: key {name!r} may hold only letters, digits, '-' and '_'")
            elif not isinstance(value, str):
                self.problems.append(f"{key}: value of {name!r} must be a string, not {json.dumps(value)}")
            else:
                result[name] = value
        size = sum(len(k.encode()) + len(v.encode()) for k, v in result.items())
        if size > MAX_ATTRIBUTE_BYTES:
            self.problems.append(
                f"{key}: {size} UTF-8 bytes; all contact attributes together allow {MAX_ATTRIBUTE_BYTES}"
            )
        return MappingProxyType(result)


def _env_value(value: Any) -> str:
    """A field as the function's variable spells it: true or false, compact sorted JSON, or its text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return json.dumps(dict(value), separators=(",", ":"), sort_keys=True)
    if isinstance(value, tuple):
        return json.dumps(list(value), separators=(",", ":"))
    return str(value)


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in {"", "null"})


def recipient_covers(recipient: str, address: str) -> bool:
    """SES matching: a full address, a domain (exact), or '.domain' (any subdomain)."""
    recipient, address = recipient.lower(), address.lower()
    domain = address.rpartition("@")[2]
    if "@" in recipient:
        return recipient == address
    if recipient.startswith("."):
        return domain.endswith(recipient)
    return domain == recipient
