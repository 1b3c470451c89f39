"""Deployment configuration: read from CDK context, validated once, frozen.

Every setting comes from ``cdk.json`` context and can be overridden on the command line with
``-c KEY=VALUE`` (values given with ``-c`` arrive as strings; lists and objects are then JSON).
:meth:`BridgeConfig.from_context` collects *every* problem and raises one :class:`ConfigError`
that names each key and says why, so a bad deploy needs one fix-and-retry.

The parts: the keys are declared in :mod:`ses_to_connect_cdk.keys` (the function's own in
``ses_to_connect.settings``, with the rules both readers run), read by
:mod:`ses_to_connect_cdk.context`, and checked against each other by :mod:`ses_to_connect_cdk.checks`.
This module holds the result, :class:`BridgeConfig`, and renders the function's environment from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from ses_to_connect.errors import SettingsError
from ses_to_connect.setting_rules import render
from ses_to_connect.settings import (
    FUNCTION_SETTINGS,
    MAX_ATTACHMENT_URL_EXPIRY_SECONDS,
    Settings,
    policy_with_overrides,
)
from ses_to_connect.timing import connect_call_seconds
from ses_to_connect_cdk.checks import (
    cross_checks,
    default_timeout_seconds,
    recipient_covers,
    smoke_mailbox,
    timeout_budget_seconds,
)
from ses_to_connect_cdk.context import ContextReader, connect_instance, report_misspelled_keys
from ses_to_connect_cdk.keys import (
    CONTEXT_KEYS,
    DEFAULTS,
    FUNCTION_KEYS,
    MAX_SES_RECIPIENTS,
    SES_OPT_IN_REGIONS,
    SES_RECEIVING_REGIONS,
    SPECS,
    MailEncryption,
    RemovalMode,
    RuleSetMode,
    TlsPolicy,
)

__all__ = [
    "CONTEXT_KEYS",
    "MAX_ATTACHMENT_URL_EXPIRY_SECONDS",
    "MAX_SES_RECIPIENTS",
    "PLACEHOLDER_RESOURCES",
    "SES_OPT_IN_REGIONS",
    "SES_RECEIVING_REGIONS",
    "BridgeConfig",
    "ConfigError",
    "MailEncryption",
    "RemovalMode",
    "RuleSetMode",
    "RuntimeResources",
    "TlsPolicy",
    "connect_call_seconds",
    "default_timeout_seconds",
    "recipient_covers",
    "timeout_budget_seconds",
]

# The Powertools variables: keys of the stack that the function reads through Powertools, not Settings.
POWERTOOLS_KEYS = tuple(spec for spec in FUNCTION_KEYS if spec not in FUNCTION_SETTINGS)


class ConfigError(ValueError):
    """The CDK context is unusable; the message lists every problem, one key per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "invalid deployment configuration (cdk.json context; override with -c KEY=VALUE):\n  - "
            + "\n  - ".join(problems)
        )


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
    default is declared in :data:`CONTEXT_KEYS`, and the function's settings in ``Settings``."""

    account: str
    region: str
    partition: str
    connect_instance_id: str
    connect_region: str
    # The function's settings, read from their keys by their own declarations (``Settings``' fields). The
    # stack's resources are named only at deploy time: here they are the placeholders, and
    # :meth:`lambda_environment` gives the function the real ones.
    function: Settings
    ses_recipients: tuple[str, ...]
    rule_set_mode: RuleSetMode
    rule_set_name: str
    stack_name: str = DEFAULTS["stack_name"]
    rule_name: str = DEFAULTS["rule_name"]
    rule_after: str | None = DEFAULTS["rule_after"]
    tls_policy: TlsPolicy = DEFAULTS["tls_policy"]
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
    mail_encryption: MailEncryption = DEFAULTS["mail_encryption"]
    removal_policy: RemovalMode = DEFAULTS["removal_policy"]
    service_name: str = DEFAULTS["service_name"]
    metrics_namespace: str = DEFAULTS["metrics_namespace"]
    log_level: str = DEFAULTS["log_level"]
    powertools_layer_arn: str | None = DEFAULTS["powertools_layer_arn"]
    extra_receiving_regions: tuple[str, ...] = DEFAULTS["extra_receiving_regions"]
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
            destinations=len(self.function.connect_addresses),
            connect_attempts=self.function.connect_max_attempts,
            connect_timeout_seconds=self.function.connect_timeout_seconds,
            aws_timeout_seconds=self.function.aws_timeout_seconds,
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

        The function's settings as their variables (:meth:`Settings.variables`), the stack's resources, and
        the Powertools variables; ``TRACING`` only appears when tracing is on.
        """
        env = {
            **self.function.variables(),
            "MAIL_BUCKET": resources.mail_bucket,
            "IDEMPOTENCY_TABLE": resources.idempotency_table,
            "THREADS_TABLE": resources.threads_table,
            "FAILURE_QUEUE_URL": resources.failure_queue_url,
            # One glibc malloc arena: without it each attachment-upload thread gets its own and
            # resident memory for a 10 MB message rises from 1.5x to 2.1x its size (docs/performance.md).
            "MALLOC_ARENA_MAX": "1",
        }
        for spec in POWERTOOLS_KEYS:
            env[spec.env] = render(getattr(self, spec.name))
        if not self.function.tracing:
            del env["TRACING"]
        return env

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> BridgeConfig:
        """Validate ``context`` (all CDK context, feature flags included) and build the config.

        Raises :class:`ConfigError` listing every problem found.
        """
        problems: list[str] = []
        reader = ContextReader(context, problems)
        report_misspelled_keys(context, problems)

        partition, account, region, connect_region, instance_id = connect_instance(reader, problems)
        addresses = reader.connect_addresses(instance_id, account=account, region=connect_region)
        mode = reader.declared(SPECS["ruleSetMode"])
        # The values that need more than their key's own rule: other keys, or no key of their own.
        values: dict[str, Any] = {
            "account": account,
            "region": region,
            "partition": partition,
            "connect_instance_id": instance_id,
            "connect_region": connect_region,
            "connect_addresses": addresses,
            "ses_recipients": reader.recipients(addresses),
            "rule_set_mode": mode,
            "rule_set_name": reader.rule_set_name(mode),
        }
        names = {f.name for f in fields(cls)} | {s.name for s in FUNCTION_SETTINGS}
        for spec in CONTEXT_KEYS:
            if spec.name in names and spec.name not in values:
                values[spec.name] = reader.declared(spec)
        values["notes"] = tuple(reader.notes)
        cross_checks(values, problems)
        smoke_mailbox(values, explicit_recipients=reader.given("sesRecipients"), problems=problems)
        function = _function_settings(values, problems)
        if problems or function is None:
            raise ConfigError(problems)
        return cls(function=function, **values)


def _function_settings(values: dict[str, Any], problems: list[str]) -> Settings | None:
    """The function's settings, taken out of ``values``, checked by the function's own rules too (the
    stack's resources as placeholders); None when an earlier problem leaves nothing to check."""
    read = {s.name: values.pop(s.name) for s in FUNCTION_SETTINGS if s.key}
    if problems:
        return None
    read["policy"] = MappingProxyType(policy_with_overrides(dict(read["policy"]), problems))
    try:
        return Settings(
            instance_id=values["connect_instance_id"],
            connect_region=values["connect_region"],
            mail_bucket=PLACEHOLDER_RESOURCES.mail_bucket,
            idempotency_table=PLACEHOLDER_RESOURCES.idempotency_table,
            threads_table=PLACEHOLDER_RESOURCES.threads_table,
            failure_queue_url=PLACEHOLDER_RESOURCES.failure_queue_url,
            **read,
        )
    except SettingsError as exc:
        problems.extend(f"the function's settings refused the configuration: {p}" for p in exc.problems)
        return None
