"""The stack: composes one construct per concern, wires them, and exports the names operators need.

A concern that the function needs (like the state tables) is one more construct here, with its
statements passed to the function through ``extra_statements``.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.alarms import BridgeAlarms, BridgeAlarmsProps
from infra.config import BridgeConfig, MailEncryption, RemovalMode, RuntimeResources
from infra.dashboard import BridgeDashboard, BridgeDashboardProps
from infra.encryption import StackKey, StackKeyProps
from infra.failure_queue import FailureQueue, FailureQueueProps
from infra.function import BridgeFunction, BridgeFunctionProps, log_retention
from infra.mail_bucket import MailBucket, MailBucketProps
from infra.paths import powertools_version
from infra.receipt_rule import InboundReceiptRule, InboundReceiptRuleProps
from infra.state_tables import StateTables, StateTablesProps

__all__ = ["SesToConnectStack"]


class SesToConnectStack(cdk.Stack):
    """Public attributes: ``config``, ``key``, ``mail``, ``failure_queue``, ``tables``, ``bridge``,
    ``receipt``, ``alarms``, ``dashboard``."""

    def __init__(self, scope: Construct, construct_id: str, *, config: BridgeConfig, **kwargs: Any) -> None:
        kwargs.setdefault("env", cdk.Environment(account=config.account, region=config.region))
        kwargs.setdefault(
            "description",
            "Inbound email bridge: SES receipt rule -> S3 -> Lambda -> Amazon Connect email contacts",
        )
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        removal = (
            cdk.RemovalPolicy.RETAIN
            if config.removal_policy is RemovalMode.RETAIN
            else cdk.RemovalPolicy.DESTROY
        )
        for warning in config.warnings:
            cdk.Annotations.of(self).add_warning_v2("ses-to-connect:config", warning)

        self.key = StackKey(self, "Key", StackKeyProps(removal_policy=removal))
        self.key.allow_cloudwatch_alarms()
        data_key = self.key.key if config.mail_encryption is MailEncryption.KMS else None
        if data_key is not None:
            self.key.allow_ses_delivery(account=config.account, receipt_rule_arn=config.receipt_rule_arn)

        self.mail = MailBucket(
            self,
            "Mail",
            MailBucketProps(
                inbound_prefix=config.inbound_prefix,
                attachments_prefix=config.attachments_prefix,
                quarantine_prefix=config.quarantine_prefix,
                inbound_retention_days=config.inbound_retention_days,
                attachments_retention_days=config.attachments_retention_days,
                quarantine_retention_days=config.quarantine_retention_days,
                noncurrent_version_retention_days=config.noncurrent_version_retention_days,
                access_log_retention_days=config.access_log_retention_days,
                encryption_key=data_key,
                removal_policy=removal,
            ),
        )
        self.failure_queue = FailureQueue(self, "FailureQueue", FailureQueueProps(encryption_key=data_key))
        self.tables = StateTables(
            self, "State", StateTablesProps(encryption_key=data_key, removal_policy=removal)
        )
        resources = RuntimeResources(
            mail_bucket=self.mail.bucket.bucket_name,
            idempotency_table=self.tables.idempotency.table_name,
            threads_table=self.tables.threads.table_name,
            failure_queue_url=self.failure_queue.queue.queue_url,
        )

        self.bridge = BridgeFunction(
            self,
            "Bridge",
            BridgeFunctionProps(
                environment=config.lambda_environment(resources),
                connect_instance_arn=config.connect_instance_arn,
                mail_bucket=self.mail,
                failure_queue=self.failure_queue.queue,
                powertools_version=powertools_version(),
                powertools_layer_arn=config.powertools_layer_arn,
                data_key=data_key,
                memory_mb=config.lambda_memory_mb,
                timeout_seconds=config.lambda_timeout_seconds,
                reserved_concurrency=config.lambda_reserved_concurrency,
                retry_attempts=config.async_retry_attempts,
                max_event_age_seconds=config.async_max_event_age_seconds,
                log_retention_days=config.log_retention_days,
                removal_policy=removal,
                extra_statements=self.tables.statements(),
                tracing=config.tracing,
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
                mail_bucket=self.mail,
                function=self.bridge.function,
                tls_policy=config.tls_policy,
                rule_after=config.rule_after,
                log_retention=log_retention(config.log_retention_days),
                removal_policy=removal,
            ),
        )

        self.alarms = BridgeAlarms(
            self,
            "Alarms",
            BridgeAlarmsProps(
                function=self.bridge.function,
                failure_queue=self.failure_queue.queue,
                topic_key=self.key.key,
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
                failure_queue=self.failure_queue.queue,
                metrics_namespace=config.metrics_namespace,
                service_name=config.service_name,
                alarms=self.alarms.alarms,
                reserved_concurrency=config.lambda_reserved_concurrency,
            ),
        )

        outputs = {
            "MailBucketName": (self.mail.bucket.bucket_name, "Bucket SES stores raw mail in"),
            "FunctionName": (self.bridge.function.function_name, "Bridge function"),
            "FailureQueueUrl": (self.failure_queue.queue.queue_url, "On-failure destination of the function"),
            "IdempotencyTableName": (self.tables.idempotency.table_name, "Contacts created, by ClientToken"),
            "ThreadsTableName": (
                self.tables.threads.table_name,
                "Message-ID to ContactId, for reply threading",
            ),
            "RuleSetName": (config.rule_set_name, f"Receipt rule set ({config.rule_set_mode.value})"),
            "RuleName": (config.rule_name, "Receipt rule"),
            "AlarmTopicArn": (self.alarms.topic.topic_arn, "SNS topic of the alarms"),
            "DashboardUrl": (self.dashboard.url, "CloudWatch dashboard of the bridge"),
        }
        for name, (value, description) in outputs.items():
            cdk.CfnOutput(self, name, value=value, description=description)
