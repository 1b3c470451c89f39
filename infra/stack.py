"""The stack: composes one construct per concern, wires them, and exports the names operators need.

A concern that the function needs (like the state tables) is one more construct here, with its
statements passed to the function through ``extra_statements``.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.alarms import BridgeAlarms, BridgeAlarmsProps
from infra.config import BridgeConfig, MailEncryption, RemovalMode, RuleSetMode, RuntimeResources
from infra.custom_resources import describe_provider, provider_log_group
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
    ``receipt``, ``alarms``, ``dashboard``, ``outputs`` (name -> CfnOutput)."""

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

        self.key = StackKey(self, "Key", StackKeyProps(removal_policy=removal))
        self.key.allow_cloudwatch_alarms()
        data_key = self.key.key if config.mail_encryption is MailEncryption.KMS else None
        needs_deploy_calls = (
            config.lambda_reserved_concurrency is not None
            or config.rule_set_mode is RuleSetMode.CREATE_AND_ACTIVATE
        )
        deploy_call_logs = (
            provider_log_group(
                self, retention=log_retention(config.log_retention_days), removal_policy=removal
            )
            if needs_deploy_calls
            else None
        )

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
                custom_resource_log_group=deploy_call_logs,
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
                mail_key=data_key,
                custom_resource_log_group=deploy_call_logs,
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

        describe_provider(self)
        self.outputs = {
            name: cdk.CfnOutput(self, name, value=value, description=description)
            for name, (value, description) in self._outputs().items()
        }

    def _outputs(self) -> dict[str, tuple[str, str]]:
        """What an operator needs after the deploy: where mail goes, what runs, where to look."""
        config = self.config
        active = {
            RuleSetMode.EXISTING: f"unchanged: the rule was added to '{config.rule_set_name}', which this "
            "stack does not activate (the preflight checks that it is the active set)",
            RuleSetMode.CREATE_INACTIVE: f"false: activate with aws ses set-active-receipt-rule-set "
            f"--rule-set-name {config.rule_set_name} (replaces the active set)",
            RuleSetMode.CREATE_AND_ACTIVATE: "true: this stack made it the region's active rule set",
        }[config.rule_set_mode]
        reservation = config.lambda_reserved_concurrency
        outputs = {
            "MxHost": (
                config.mx_host,
                "Point the receiving domain's MX record here (e.g. 10 inbound-smtp.REGION.amazonaws.com)",
            ),
            "MailBucketName": (self.mail.bucket.bucket_name, "Bucket SES stores raw mail in"),
            "FunctionName": (self.bridge.function.function_name, "Bridge function"),
            "LogGroupName": (self.bridge.log_group.log_group_name, "The bridge function's logs"),
            "FailureQueueUrl": (self.failure_queue.queue.queue_url, "On-failure destination of the function"),
            "IdempotencyTableName": (self.tables.idempotency.table_name, "Contacts created, by ClientToken"),
            "ThreadsTableName": (
                self.tables.threads.table_name,
                "Message-ID to ContactId, for reply threading",
            ),
            "RuleSetName": (config.rule_set_name, f"Receipt rule set ({config.rule_set_mode.value})"),
            "RuleName": (config.rule_name, "Receipt rule"),
            "RuleSetActive": (active, "Whether the rule set holding the rule is the active one"),
            "ConnectInstanceArn": (config.connect_instance_arn, "Where contacts are created (its region)"),
            "ReservedConcurrency": (
                f"{reservation} requested" if reservation is not None else "none",
                "Applied only where the account's concurrency quota leaves 100 unreserved "
                "(aws lambda get-function-concurrency shows it)",
            ),
            "AlarmTopicArn": (self.alarms.topic.topic_arn, "SNS topic of the alarms"),
            "DashboardUrl": (self.dashboard.url, "CloudWatch dashboard of the bridge"),
        }
        if config.mail_encryption is MailEncryption.KMS:
            outputs["MailKeyArn"] = (self.key.key.key_arn, "KMS key of the mail bucket, queue and tables")
        return outputs
