"""Deployment configuration: read from CDK context, validated once, frozen.

Every setting comes from ``cdk.json`` context and can be overridden on the command line with
``-c KEY=VALUE`` (values given with ``-c`` arrive as strings; lists and objects are then JSON).
:meth:`BridgeConfig.from_context` collects *every* problem and raises one :class:`ConfigError`
that names each key and says why, so a bad deploy needs one fix-and-retry.

The keys, types and defaults are listed in ``docs/infrastructure.md``; :data:`CONTEXT_KEYS`
is the authoritative list (a key in the context that looks like a misspelling of one of them
is reported as an error rather than silently ignored).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from ses_to_connect.errors import SettingsError
from ses_to_connect.limits import ATTRIBUTE_KEY_PATTERN, EMAIL_PATTERN, MAX_CONTACT_FLOW_ID
from ses_to_connect.settings import (
    DEFAULT_POLICY,
    MAX_EXPIRY_MINUTES,
    Action,
    BodyPreference,
    ConnectAddress,
    Settings,
)

__all__ = [
    "CONTEXT_KEYS",
    "MAX_ATTACHMENT_URL_EXPIRY_SECONDS",
    "SES_RECEIVING_REGIONS",
    "BridgeConfig",
    "ConfigError",
    "MailEncryption",
    "RemovalMode",
    "RuleSetMode",
    "TlsPolicy",
    "connect_call_seconds",
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
# Reference (SES endpoints and quotas) as last checked. SES invokes only a function in its own
# region, so a stack anywhere else can never receive mail: synth refuses it. A region AWS has
# added since is accepted through the extraReceivingRegions key.
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
        "ap-southeast-3",
        "ap-northeast-1",
    }
)
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731),
    *(1096, 1827, 2192, 2557, 2922, 3288, 3653),
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_SES_RECIPIENTS = 100  # per receipt rule
# A URL pre-signed with the function's role session stops working when the session's credentials
# expire, whatever X-Amz-Expires says (S3 user guide). How long Lambda's sessions last is not
# documented, so the lifetime is capped at an hour rather than promising days the session may not keep.
MAX_ATTACHMENT_URL_EXPIRY_SECONDS = 3600
# botocore's standard and adaptive retry modes wait at most min(2 ** i, 20) s before retry i + 1
# (botocore/retries/standard.py, ExponentialBackoff).
RETRY_BACKOFF_CAP_SECONDS = 20
# Besides Connect, one invocation reads the raw message and stores its attachments: one attempt of
# each (connect + read timeout) is allowed for in the timeout budget.
OTHER_AWS_CALLS_IN_BUDGET = 2
MAX_ATTRIBUTE_BYTES = 32768  # all contact attributes together

_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):connect:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):"
    r"(?P<account>\d{12}):instance/(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ACCOUNT = re.compile(r"^\d{12}$")
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


def connect_call_seconds(attempts: int, timeout_seconds: int) -> int:
    """The longest one Connect call can take: every attempt times out connecting, then reading
    (both ``timeout_seconds``), with the longest backoff between attempts."""
    backoff = sum(min(1 << retry, RETRY_BACKOFF_CAP_SECONDS) for retry in range(attempts - 1))
    return attempts * 2 * timeout_seconds + backoff


def timeout_budget_seconds(
    *, destinations: int, connect_attempts: int, connect_timeout_seconds: int, aws_timeout_seconds: int
) -> int:
    """What the function's timeout must cover: one worst-case Connect call per destination (one per
    configured Connect address at most, made one after another) plus one attempt of each other AWS
    call the invocation waits on."""
    other = OTHER_AWS_CALLS_IN_BUDGET * 2 * aws_timeout_seconds
    return destinations * connect_call_seconds(connect_attempts, connect_timeout_seconds) + other


_T = TypeVar("_T")
_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True)
class KeySpec:
    """One context key: its JSON type and default as documented (the docs table mirrors this)."""

    key: str
    type: str
    default: Any
    description: str


# The authoritative list of context keys. ``None`` as default means "not set".
CONTEXT_KEYS: tuple[KeySpec, ...] = (
    KeySpec("stackName", "string", "SesToConnect", "CloudFormation stack name"),
    KeySpec("connectInstanceArn", "string", None, "Connect instance ARN (or give connectInstanceId)"),
    KeySpec("connectInstanceId", "string", None, "Connect instance id; needs region and account"),
    KeySpec("account", "string", None, "12-digit account id; default: from connectInstanceArn"),
    KeySpec(
        "region",
        "string",
        None,
        "region that receives mail (SES receiving); default: from connectInstanceArn, whose region "
        "the function calls Connect in",
    ),
    KeySpec("extraReceivingRegions", "list", [], "SES receiving regions added since the built-in list"),
    KeySpec("connectAddresses", "list", None, 'required: [{"address": ..., "contactFlowId": ...}]'),
    KeySpec(
        "sesRecipients", "list", None, "addresses/domains the rule accepts; default: the Connect addresses"
    ),
    KeySpec("ruleSetMode", "string", "existing", "existing | create-inactive | create-and-activate"),
    KeySpec("ruleSetName", "string", None, "rule set; required for existing, default 'ses-to-connect'"),
    KeySpec("ruleName", "string", "ses-to-connect", "receipt rule name"),
    KeySpec("ruleAfter", "string", None, "existing rule to insert this rule after; default: first"),
    KeySpec("tlsPolicy", "string", "Require", "Require | Optional"),
    KeySpec("verdictPolicy", "object", {}, "overrides of the verdict policy, rule -> deliver|quarantine"),
    KeySpec("bodyPreference", "string", "html", "html | text"),
    KeySpec("preferReplyTo", "boolean", False, "customer address from Reply-To"),
    KeySpec("staticAttributes", "object", {}, "extra contact attributes, string -> string"),
    KeySpec("contactExpiryMinutes", "integer", None, "1..20160; default: Connect's own expiry"),
    KeySpec("inboundPrefix", "string", "inbound/", "key prefix of the raw mail SES stores"),
    KeySpec("attachmentsPrefix", "string", "attachments/", "key prefix of extracted attachments"),
    KeySpec("quarantinePrefix", "string", "quarantine/", "key prefix of quarantined raw mail"),
    KeySpec("inboundRetentionDays", "integer", 30, "days raw mail is kept"),
    KeySpec("attachmentsRetentionDays", "integer", 7, "days attachments are kept"),
    KeySpec("quarantineRetentionDays", "integer", 90, "days quarantined mail is kept"),
    KeySpec("noncurrentVersionRetentionDays", "integer", 7, "days overwritten/deleted versions are kept"),
    KeySpec("accessLogRetentionDays", "integer", 90, "days S3 server access logs are kept"),
    KeySpec("logRetentionDays", "integer", 30, "CloudWatch Logs retention (an allowed value)"),
    KeySpec("alarmEmail", "string", None, "e-mail subscribed to the alarm topic"),
    KeySpec("quarantineAlarmThreshold", "integer", 10, "quarantined messages per hour that alarm"),
    KeySpec("lambdaMemoryMb", "integer", 256, "128..10240; 256 fits a 40 MB message (docs/performance.md)"),
    KeySpec("lambdaTimeoutSeconds", "integer", 300, "1..900; must cover the retry budget"),
    KeySpec(
        "lambdaReservedConcurrency",
        "integer",
        2,
        '1..1000, or "none"; applied at deploy when the account\'s concurrency quota allows it',
    ),
    KeySpec("asyncRetryAttempts", "integer", 2, "0..2 retries of a failed asynchronous invocation"),
    KeySpec("asyncMaxEventAgeSeconds", "integer", 21600, "60..21600"),
    KeySpec("connectRetryMode", "string", "standard", "standard | adaptive"),
    KeySpec("connectMaxAttempts", "integer", 5, "1..10 botocore attempts per Connect call"),
    KeySpec("connectTimeoutSeconds", "integer", 10, "1..60 per attempt"),
    KeySpec("awsTimeoutSeconds", "integer", 10, "1..60 connect/read timeout of S3 and DynamoDB calls"),
    KeySpec("attachmentUrlExpirySeconds", "integer", 3600, "60..3600 lifetime of attachment URLs"),
    KeySpec("attachmentUploads", "integer", 4, "1..10 attachments stored to S3 at once"),
    KeySpec(
        "idempotencyTtlSeconds", "integer", 604800, "3600..31536000 how long created contacts are remembered"
    ),
    KeySpec("threadTtlDays", "integer", 365, "1..3650 how long a message can be replied to and still thread"),
    KeySpec("mailEncryption", "string", "s3-managed", "s3-managed | kms"),
    KeySpec("removalPolicy", "string", "retain", "retain | destroy (buckets, key, log groups)"),
    KeySpec("serviceName", "string", "ses-to-connect", "POWERTOOLS_SERVICE_NAME / metric dimension"),
    KeySpec("metricsNamespace", "string", "SesToConnect", "POWERTOOLS_METRICS_NAMESPACE"),
    KeySpec("logLevel", "string", "INFO", "DEBUG | INFO | WARNING | ERROR | CRITICAL"),
    KeySpec("powertoolsLayerArn", "string", None, "explicit layer ARN instead of the public SSM parameter"),
    KeySpec("tracing", "boolean", False, "X-Ray active tracing with Powertools Tracer (costs cold start)"),
    KeySpec(
        "noContactsAlarmHours", "integer", None, "1..24: alarm when mail arrives but no contact is created"
    ),
)
_SPECS = {spec.key: spec for spec in CONTEXT_KEYS}


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
DEFAULT_RULE_SET_NAME = "ses-to-connect"


@dataclass(frozen=True)
class BridgeConfig:
    """Everything the stack needs, validated. Build with :meth:`from_context`."""

    account: str
    region: str
    partition: str
    connect_instance_id: str
    connect_region: str
    connect_addresses: tuple[ConnectAddress, ...]
    ses_recipients: tuple[str, ...]
    rule_set_mode: RuleSetMode
    rule_set_name: str
    stack_name: str = "SesToConnect"
    rule_name: str = "ses-to-connect"
    rule_after: str | None = None
    tls_policy: TlsPolicy = TlsPolicy.REQUIRE
    verdict_policy: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    body_preference: BodyPreference = BodyPreference.HTML
    prefer_reply_to: bool = False
    static_attributes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    contact_expiry_minutes: int | None = None
    inbound_prefix: str = "inbound/"
    attachments_prefix: str = "attachments/"
    quarantine_prefix: str = "quarantine/"
    inbound_retention_days: int = 30
    attachments_retention_days: int = 7
    quarantine_retention_days: int = 90
    noncurrent_version_retention_days: int = 7
    access_log_retention_days: int = 90
    log_retention_days: int = 30
    alarm_email: str | None = None
    quarantine_alarm_threshold: int = 10
    lambda_memory_mb: int = 256
    lambda_timeout_seconds: int = 300
    lambda_reserved_concurrency: int | None = 2
    async_retry_attempts: int = 2
    async_max_event_age_seconds: int = 21600
    connect_retry_mode: str = "standard"
    connect_max_attempts: int = 5
    connect_timeout_seconds: int = 10
    aws_timeout_seconds: int = 10
    attachment_url_expiry_seconds: int = 3600
    attachment_uploads: int = 4
    idempotency_ttl_seconds: int = 604_800
    thread_ttl_days: int = 365
    mail_encryption: MailEncryption = MailEncryption.S3_MANAGED
    removal_policy: RemovalMode = RemovalMode.RETAIN
    service_name: str = "ses-to-connect"
    metrics_namespace: str = "SesToConnect"
    log_level: str = "INFO"
    powertools_layer_arn: str | None = None
    extra_receiving_regions: tuple[str, ...] = ()
    tracing: bool = False
    no_contacts_alarm_hours: int | None = None

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

        ``CONTACT_EXPIRY_MINUTES`` is left out when unset, which the settings read as "Connect's default";
        ``TRACING`` only appears when tracing is on.
        """
        addresses = [
            {"address": a.address, **({"contactFlowId": a.contact_flow_id} if a.contact_flow_id else {})}
            for a in self.connect_addresses
        ]
        env = {
            "CONNECT_INSTANCE_ID": self.connect_instance_id,
            "CONNECT_REGION": self.connect_region,
            "CONNECT_ADDRESSES": json.dumps(addresses, separators=(",", ":")),
            "MAIL_BUCKET": resources.mail_bucket,
            "IDEMPOTENCY_TABLE": resources.idempotency_table,
            "IDEMPOTENCY_TTL_SECONDS": str(self.idempotency_ttl_seconds),
            "THREADS_TABLE": resources.threads_table,
            "THREAD_TTL_DAYS": str(self.thread_ttl_days),
            "FAILURE_QUEUE_URL": resources.failure_queue_url,
            "ATTACHMENT_URL_EXPIRY_SECONDS": str(self.attachment_url_expiry_seconds),
            "ATTACHMENT_UPLOADS": str(self.attachment_uploads),
            "AWS_TIMEOUT_SECONDS": str(self.aws_timeout_seconds),
            "INBOUND_PREFIX": self.inbound_prefix,
            "QUARANTINE_PREFIX": self.quarantine_prefix,
            "ATTACHMENTS_PREFIX": self.attachments_prefix,
            "BODY_PREFERENCE": self.body_preference.value,
            "PREFER_REPLY_TO": "true" if self.prefer_reply_to else "false",
            "STATIC_ATTRIBUTES": json.dumps(
                dict(self.static_attributes), separators=(",", ":"), sort_keys=True
            ),
            "VERDICT_POLICY": json.dumps(dict(self.verdict_policy), separators=(",", ":"), sort_keys=True),
            "CONNECT_RETRY_MODE": self.connect_retry_mode,
            "CONNECT_MAX_ATTEMPTS": str(self.connect_max_attempts),
            "CONNECT_TIMEOUT_SECONDS": str(self.connect_timeout_seconds),
            "POWERTOOLS_SERVICE_NAME": self.service_name,
            "POWERTOOLS_METRICS_NAMESPACE": self.metrics_namespace,
            "POWERTOOLS_LOG_LEVEL": self.log_level,
            # One glibc malloc arena: without it each attachment-upload thread gets its own and
            # resident memory for a 10 MB message rises from 1.5x to 2.1x its size (docs/performance.md).
            "MALLOC_ARENA_MAX": "1",
        }
        if self.contact_expiry_minutes is not None:
            env["CONTACT_EXPIRY_MINUTES"] = str(self.contact_expiry_minutes)
        if self.tracing:
            env["TRACING"] = "true"
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
        addresses = reader.connect_addresses("connectAddresses")
        recipients = reader.recipients("sesRecipients", addresses)
        mode = reader.choice("ruleSetMode", RuleSetMode)
        rule_set_name = reader.rule_set_name(mode)
        kwargs: dict[str, Any] = {
            "account": account,
            "region": region,
            "partition": partition,
            "connect_instance_id": instance_id,
            "connect_region": connect_region,
            "connect_addresses": addresses,
            "ses_recipients": recipients,
            "rule_set_mode": mode,
            "rule_set_name": rule_set_name,
            "stack_name": reader.pattern(
                "stackName", _STACK_NAME, "letters, digits and '-', starting with a letter"
            ),
            "rule_name": reader.pattern("ruleName", _RULE_NAME, _RULE_NAME_RULE),
            "rule_after": reader.optional_pattern("ruleAfter", _RULE_NAME, _RULE_NAME_RULE),
            "tls_policy": reader.choice("tlsPolicy", TlsPolicy),
            "verdict_policy": reader.verdict_policy("verdictPolicy"),
            "body_preference": reader.choice("bodyPreference", BodyPreference),
            "prefer_reply_to": reader.boolean("preferReplyTo"),
            "static_attributes": reader.static_attributes("staticAttributes"),
            "contact_expiry_minutes": reader.optional_int("contactExpiryMinutes", 1, MAX_EXPIRY_MINUTES),
            "inbound_prefix": reader.prefix("inboundPrefix"),
            "attachments_prefix": reader.prefix("attachmentsPrefix"),
            "quarantine_prefix": reader.prefix("quarantinePrefix"),
            "inbound_retention_days": reader.integer("inboundRetentionDays", 1, 3650),
            "attachments_retention_days": reader.integer("attachmentsRetentionDays", 1, 3650),
            "quarantine_retention_days": reader.integer("quarantineRetentionDays", 1, 3650),
            "noncurrent_version_retention_days": reader.integer("noncurrentVersionRetentionDays", 1, 3650),
            "access_log_retention_days": reader.integer("accessLogRetentionDays", 1, 3650),
            "log_retention_days": reader.log_retention("logRetentionDays"),
            "alarm_email": reader.optional_email("alarmEmail"),
            "quarantine_alarm_threshold": reader.integer("quarantineAlarmThreshold", 1, 100000),
            "lambda_memory_mb": reader.integer("lambdaMemoryMb", 128, 10240),
            "lambda_timeout_seconds": reader.integer("lambdaTimeoutSeconds", 1, 900),
            "lambda_reserved_concurrency": reader.optional_int(
                "lambdaReservedConcurrency", 1, 1000, none_disables=True
            ),
            "async_retry_attempts": reader.integer("asyncRetryAttempts", 0, 2),
            "async_max_event_age_seconds": reader.integer("asyncMaxEventAgeSeconds", 60, 21600),
            "connect_retry_mode": reader.one_of("connectRetryMode", ("standard", "adaptive")),
            "connect_max_attempts": reader.integer("connectMaxAttempts", 1, 10),
            "connect_timeout_seconds": reader.integer("connectTimeoutSeconds", 1, 60),
            "aws_timeout_seconds": reader.integer("awsTimeoutSeconds", 1, 60),
            "attachment_url_expiry_seconds": reader.integer(
                "attachmentUrlExpirySeconds", 60, MAX_ATTACHMENT_URL_EXPIRY_SECONDS
            ),
            "attachment_uploads": reader.integer("attachmentUploads", 1, 10),
            "idempotency_ttl_seconds": reader.integer("idempotencyTtlSeconds", 3600, 31_536_000),
            "thread_ttl_days": reader.integer("threadTtlDays", 1, 3650),
            "mail_encryption": reader.choice("mailEncryption", MailEncryption),
            "removal_policy": reader.choice("removalPolicy", RemovalMode),
            "service_name": reader.pattern(
                "serviceName", _SERVICE_NAME, "1-128 letters, digits, '.', '_' or '-'"
            ),
            "metrics_namespace": reader.namespace("metricsNamespace"),
            "log_level": reader.one_of("logLevel", LOG_LEVELS, upper=True),
            "powertools_layer_arn": reader.optional_pattern(
                "powertoolsLayerArn", _LAYER_ARN, "a Lambda layer version ARN ending in ':<version>'"
            ),
            "extra_receiving_regions": reader.regions("extraReceivingRegions"),
            "tracing": reader.boolean("tracing"),
            "no_contacts_alarm_hours": reader.optional_int("noContactsAlarmHours", 1, 24),
        }
        _cross_checks(kwargs, problems)
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


_RULE_NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting and ending with a letter or digit"


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


def _cross_checks(kwargs: Mapping[str, Any], problems: list[str]) -> None:
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
        budget = timeout_budget_seconds(
            destinations=len(kwargs["connect_addresses"]),
            connect_attempts=kwargs["connect_max_attempts"],
            connect_timeout_seconds=kwargs["connect_timeout_seconds"],
            aws_timeout_seconds=kwargs["aws_timeout_seconds"],
        )
        if kwargs["lambda_timeout_seconds"] < budget:
            problems.append(
                f"lambdaTimeoutSeconds: {kwargs['lambda_timeout_seconds']} s is shorter than the retry "
                f"budget of {budget} s ({len(kwargs['connect_addresses'])} Connect address(es) x "
                f"{kwargs['connect_max_attempts']} attempts x 2 x connectTimeoutSeconds "
                f"{kwargs['connect_timeout_seconds']} + backoff, + {OTHER_AWS_CALLS_IN_BUDGET} x 2 x "
                f"awsTimeoutSeconds {kwargs['aws_timeout_seconds']}); raise it to at least {budget} "
                "(max 900) or lower connectMaxAttempts / connectTimeoutSeconds"
            )
    region = kwargs["region"]
    receiving = SES_RECEIVING_REGIONS | set(kwargs["extra_receiving_regions"])
    if region and region not in receiving:
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


class _Reader:
    """Typed reads of context values, appending problems instead of raising.

    Values may be native JSON (from cdk.json) or strings (from ``-c``), so every reader accepts both.
    """

    def __init__(self, context: Mapping[str, Any], problems: list[str]) -> None:
        self.context = context
        self.problems = problems

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

    def choice(self, key: str, enum: type[_E]) -> _E:
        default = enum(_SPECS[key].default)
        value = self.raw(key)
        if isinstance(value, str):
            for member in enum:
                if member.value.lower() == value.strip().lower():
                    return member
        allowed = ", ".join(repr(m.value) for m in enum)
        return self._fail(key, f"must be one of {allowed}, not {json.dumps(value)}", default)

    def one_of(self, key: str, allowed: tuple[str, ...], *, upper: bool = False) -> str:
        value = self.raw(key)
        if isinstance(value, str):
            candidate = value.strip().upper() if upper else value.strip()
            if candidate in allowed:
                return candidate
        names = ", ".join(repr(a) for a in allowed)
        return self._fail(key, f"must be one of {names}, not {json.dumps(value)}", str(_SPECS[key].default))

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

    def integer(self, key: str, low: int, high: int) -> int:
        default = int(_SPECS[key].default)
        number = self._int(key, self.raw(key))
        if number is None:
            return default
        if not low <= number <= high:
            return self._fail(key, f"must be between {low} and {high}, not {number}", default)
        return number

    def optional_int(self, key: str, low: int, high: int, *, none_disables: bool = False) -> int | None:
        """An integer or None; with ``none_disables`` the string "none" is None instead of the default.

        (Not JSON null: a null context value cannot be told apart from an absent one through jsii.)
        """
        value = self.context.get(key)
        if none_disables and isinstance(value, str) and value.strip().lower() == "none":
            return None
        value = self.raw(key)
        if value is None:
            return None
        number = self._int(key, value)
        if number is not None and not low <= number <= high:
            extra = ', or "none"' if none_disables else ""
            return self._fail(key, f"must be between {low} and {high}{extra}, not {number}", None)
        return number

    def log_retention(self, key: str) -> int:
        number = self.integer(key, 1, 3653)
        if number not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            return self._fail(
                key, f"{number} is not a CloudWatch Logs retention period; use one of {allowed}", 30
            )
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
        value = self.raw(key)
        if value is None:
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

    def regions(self, key: str) -> tuple[str, ...]:
        items = self.json_value(key, list)
        if items is None:
            return ()
        bad = [item for item in items if not isinstance(item, str) or not _REGION.fullmatch(item)]
        if bad:
            return self._fail(key, f"{json.dumps(bad)} are not AWS region names such as 'eu-west-3'", ())
        return tuple(items)

    def connect_addresses(self, key: str) -> tuple[ConnectAddress, ...]:
        items = self.json_value(key, list)
        if items is None:
            if self.raw(key) is None:
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
            return MappingProxyType({})
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
            return MappingProxyType({})
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
