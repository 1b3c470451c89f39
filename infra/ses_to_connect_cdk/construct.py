"""``SesToConnect``: the whole bridge as one construct, for this project's stack or a team's own.

In the manner of AWS Solutions Constructs: one props object, every prop documented with its
default, secure defaults, "bring your own resource" for the bucket, the KMS key and the failure
queue, all prop problems reported together, and what it creates exposed as public attributes.

Props (:class:`SesToConnectProps`):

========================  ==========================================================================
``config``                required: a validated :class:`ses_to_connect_cdk.config.BridgeConfig`
                          (``BridgeConfig.from_context({...})``, the keys of docs/infrastructure.md)
``existing_bucket_obj``   default: a new mail bucket (and its access-log bucket). A bucket of yours
                          (``s3.IBucket``): SES stores raw mail under ``inboundPrefix``; the function
                          reads and writes under the three prefixes. Its lifecycle is yours, so the
                          retention settings must stay at their defaults.
``existing_key_obj``      default: a new rotated key. A key of yours (``kms.IKey``, needs
                          ``mailEncryption: kms``): it encrypts the alarm topic and the mail data
                          (bucket when created, queue when created, tables).
``existing_queue_obj``    default: a new encrypted, SSL-only queue. A queue of yours (``sqs.IQueue``)
                          as the function's on-failure destination.
========================  ==========================================================================

What the construct grants on a brought resource, and what it cannot (an imported resource's
policy belongs to its owner), is in docs/infrastructure.md, "Use it inside your own CDK app".
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ses_to_connect_cdk.alarms import BridgeAlarms, BridgeAlarmsProps
from ses_to_connect_cdk.config import BridgeConfig, MailEncryption, RemovalMode, RuntimeResources
from ses_to_connect_cdk.dashboard import BridgeDashboard, BridgeDashboardProps
from ses_to_connect_cdk.encryption import StackKey, StackKeyProps, allow_cloudwatch_alarms
from ses_to_connect_cdk.failure_queue import FailureQueue, FailureQueueProps
from ses_to_connect_cdk.function import BridgeFunction, BridgeFunctionProps, MailPrefixes, log_retention
from ses_to_connect_cdk.keys import DECLARED, DEFAULTS
from ses_to_connect_cdk.mail_bucket import RETENTION_SETTINGS, MailBucket, MailBucketProps
from ses_to_connect_cdk.paths import powertools_version
from ses_to_connect_cdk.receipt_rule import InboundReceiptRule, InboundReceiptRuleProps
from ses_to_connect_cdk.state_tables import StateTables, StateTablesProps

__all__ = ["SesToConnect", "SesToConnectProps"]


@dataclass(frozen=True)
class SesToConnectProps:
    """What to build; see the module docstring for each prop, its default and its conditions."""

    config: BridgeConfig
    existing_bucket_obj: s3.IBucket | None = None
    existing_key_obj: kms.IKey | None = None
    existing_queue_obj: sqs.IQueue | None = None


class SesToConnect(Construct):
    """SES receipt rule -> S3 -> Lambda -> Amazon Connect, with its state, alarms and dashboard.

    Public attributes:

    * ``config``: the :class:`BridgeConfig` it was built from
    * ``key``: the KMS key of the alarm topic (and of the mail data with ``mailEncryption: kms``),
      created or brought; ``key_policy_allows_alarms`` is False when an imported key's policy
      must be given the CloudWatch statement by its owner
    * ``mail_key``: the key of the mail data (None with ``s3-managed``)
    * ``mail_bucket`` (``s3.IBucket``) and ``mail`` (the created :class:`MailBucket`, None when brought)
    * ``failure_queue`` (``sqs.IQueue``), created or brought
    * ``tables``, ``bridge`` (function, role, policy, log group), ``receipt``, ``alarms``, ``dashboard``

    Raises ``ValueError`` naming every conflicting prop at once.
    """

    def __init__(self, scope: Construct, construct_id: str, props: SesToConnectProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        self.config = config = props.config
        problems = _problems(props, cdk.Stack.of(self))
        if problems:
            raise ValueError("SesToConnectProps: " + "; ".join(problems))
        removal = (
            cdk.RemovalPolicy.RETAIN
            if config.removal_policy is RemovalMode.RETAIN
            else cdk.RemovalPolicy.DESTROY
        )
        brought_bucket = props.existing_bucket_obj

        self.key = props.existing_key_obj or StackKey(self, "Key", StackKeyProps(removal_policy=removal)).key
        self.key_policy_allows_alarms = allow_cloudwatch_alarms(self.key)
        bucket_key = brought_bucket.encryption_key if brought_bucket is not None else None
        self.mail_key = (
            (props.existing_key_obj or bucket_key or self.key)
            if config.mail_encryption is MailEncryption.KMS
            else None
        )

        self.mail: MailBucket | None = None
        self.mail_bucket: s3.IBucket
        if brought_bucket is None:
            self.mail = MailBucket(self, "Mail", self._mail_bucket_props(removal))
            self.mail_bucket = self.mail.bucket
        else:
            self.mail_bucket = brought_bucket
        self.failure_queue: sqs.IQueue = (
            props.existing_queue_obj
            or FailureQueue(self, "FailureQueue", FailureQueueProps(encryption_key=self.mail_key)).queue
        )
        self.tables = StateTables(
            self, "State", StateTablesProps(encryption_key=self.mail_key, removal_policy=removal)
        )
        resources = RuntimeResources(
            mail_bucket=self.mail_bucket.bucket_name,
            idempotency_table=self.tables.idempotency.table_name,
            threads_table=self.tables.threads.table_name,
            failure_queue_url=self.failure_queue.queue_url,
        )

        self.bridge = BridgeFunction(
            self,
            "Bridge",
            BridgeFunctionProps(
                environment=config.lambda_environment(resources),
                connect_instance_arn=config.connect_instance_arn,
                mail_bucket=self.mail_bucket,
                prefixes=MailPrefixes(
                    config.function.inbound_prefix,
                    config.function.attachments_prefix,
                    config.function.quarantine_prefix,
                ),
                failure_queue=self.failure_queue,
                powertools_version=powertools_version(),
                powertools_layer_arn=config.powertools_layer_arn,
                data_keys=self._data_keys(),
                memory_mb=config.lambda_memory_mb,
                timeout_seconds=config.lambda_timeout_seconds,
                reserved_concurrency=config.lambda_reserved_concurrency,
                retry_attempts=config.async_retry_attempts,
                max_event_age_seconds=config.async_max_event_age_seconds,
                log_retention_days=config.log_retention_days,
                removal_policy=removal,
                extra_statements=self.tables.statements(),
                tracing=config.function.tracing,
            ),
        )

        self.receipt = InboundReceiptRule(
            self,
            "Receipt",
            InboundReceiptRuleProps(
                mode=config.rule_set_mode,
                rule_set_name=config.rule_set_name,
                rule_name=config.rule_name,
                recipients=config.ses_recipients,
                receipt_rule_arn=config.receipt_rule_arn,
                account=config.account,
                mail_bucket=self.mail_bucket,
                inbound_prefix=config.function.inbound_prefix,
                function=self.bridge.function,
                tls_policy=config.tls_policy,
                rule_after=config.rule_after,
                mail_key=self.mail_key,
                log_retention=log_retention(config.log_retention_days),
                removal_policy=removal,
            ),
        )

        self.alarms = BridgeAlarms(
            self,
            "Alarms",
            BridgeAlarmsProps(
                function=self.bridge.function,
                failure_queue=self.failure_queue,
                topic_key=self.key,
                account=config.account,
                metrics_namespace=config.metrics_namespace,
                service_name=config.service_name,
                quarantine_threshold=config.quarantine_alarm_threshold,
                alarm_email=config.alarm_email,
                max_event_age_seconds=config.async_max_event_age_seconds,
                no_contacts_hours=config.no_contacts_alarm_hours,
            ),
        )
        self.dashboard = BridgeDashboard(
            self,
            "Dashboard",
            BridgeDashboardProps(
                function=self.bridge.function,
                failure_queue=self.failure_queue,
                metrics_namespace=config.metrics_namespace,
                service_name=config.service_name,
                alarms=self.alarms.alarms,
                reserved_concurrency=config.lambda_reserved_concurrency,
            ),
        )

    def _mail_bucket_props(self, removal: cdk.RemovalPolicy) -> MailBucketProps:
        config = self.config
        return MailBucketProps(
            inbound_prefix=config.function.inbound_prefix,
            attachments_prefix=config.function.attachments_prefix,
            quarantine_prefix=config.function.quarantine_prefix,
            inbound_retention_days=config.inbound_retention_days,
            attachments_retention_days=config.attachments_retention_days,
            quarantine_retention_days=config.quarantine_retention_days,
            noncurrent_version_retention_days=config.noncurrent_version_retention_days,
            access_log_retention_days=config.access_log_retention_days,
            encryption_key=self.mail_key,
            removal_policy=removal,
        )

    def _data_keys(self) -> tuple[kms.IKey, ...]:
        """The keys the function encrypts and decrypts with: the mail key, and a brought queue's own."""
        keys = [self.mail_key, self.failure_queue.encryption_master_key]
        unique = {key.key_arn: key for key in keys if key is not None}
        return tuple(unique.values())


def _problems(props: SesToConnectProps, stack: cdk.Stack) -> list[str]:
    """Every conflict among the props, each saying how to resolve it."""
    config = props.config
    problems = []
    if (stack.account, stack.region) != (config.account, config.region):
        problems.append(
            f"the stack's env ({stack.account}, {stack.region}) must be the config's account and region "
            f"({config.account}, {config.region}): the receipt rule's ARN, SES's grants and the MX host "
            "are built from them (give the stack env=cdk.Environment(account=..., region=...))"
        )
    kms_mode = config.mail_encryption is MailEncryption.KMS
    key = props.existing_key_obj
    if key is not None and not kms_mode:
        problems.append(
            "existing_key_obj is given but mailEncryption is 's3-managed': set mailEncryption to 'kms' "
            "(the key then encrypts the mail data too) or leave the key out"
        )
    bucket = props.existing_bucket_obj
    if bucket is None:
        return problems
    bucket_key = bucket.encryption_key
    if bucket_key is not None and not kms_mode:
        problems.append(
            "existing_bucket_obj is encrypted with a KMS key but mailEncryption is 's3-managed': set "
            "mailEncryption to 'kms' so SES writes through a role allowed to use the key"
        )
    if kms_mode and key is None and bucket_key is None:
        problems.append(
            "mailEncryption is 'kms' with existing_bucket_obj: pass the bucket's key as existing_key_obj "
            "(the function and SES must be granted the key the bucket encrypts with)"
        )
    if key is not None and bucket_key is not None and key.key_arn != bucket_key.key_arn:
        problems.append("existing_key_obj is not the key existing_bucket_obj is encrypted with")
    # The retention settings shape only a bucket the construct creates (its lifecycle rules).
    changed = [name for name in RETENTION_SETTINGS if getattr(config, name) != DEFAULTS[name]]
    if changed:
        keys = ", ".join(DECLARED[name].key for name in changed)
        problems.append(
            f"existing_bucket_obj is given, so {keys} cannot apply (they shape the lifecycle of a bucket "
            "the construct creates): set the lifecycle on your bucket and leave these settings out"
        )
    return problems
