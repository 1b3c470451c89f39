"""The project's stack: one :class:`ses_to_connect_cdk.construct.SesToConnect` built from the cdk.json
context, and the outputs operators need."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from ses_to_connect_cdk.config import BridgeConfig, MailEncryption, RuleSetMode
from ses_to_connect_cdk.construct import SesToConnect, SesToConnectProps

__all__ = ["SesToConnectStack"]

# CDK leaves a construct named "Default" out of logical ids: every resource keeps the id it had when
# the stack held it directly, so a deployed stack's bucket and tables are not replaced.
CONSTRUCT_ID = "Default"


class SesToConnectStack(cdk.Stack):
    """Public attributes: ``config``, ``ses_to_connect`` (the construct), ``outputs`` (name -> CfnOutput)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: BridgeConfig, **kwargs: Any) -> None:
        kwargs.setdefault("env", cdk.Environment(account=config.account, region=config.region))
        kwargs.setdefault(
            "description",
            "Inbound email bridge: SES receipt rule -> S3 -> Lambda -> Amazon Connect email contacts",
        )
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.ses_to_connect = SesToConnect(self, CONSTRUCT_ID, SesToConnectProps(config=config))
        self.outputs = {
            name: cdk.CfnOutput(self, name, value=value, description=description)
            for name, (value, description) in self._outputs().items()
        }

    def _outputs(self) -> dict[str, tuple[str, str]]:
        """What an operator needs after the deploy: where mail goes, what runs, where to look."""
        config, construct = self.config, self.ses_to_connect
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
            "MailBucketName": (construct.mail_bucket.bucket_name, "Bucket SES stores raw mail in"),
            "FunctionName": (construct.bridge.function.function_name, "Bridge function"),
            "LogGroupName": (construct.bridge.log_group.log_group_name, "The bridge function's logs"),
            "FailureQueueUrl": (construct.failure_queue.queue_url, "On-failure destination of the function"),
            "IdempotencyTableName": (
                construct.tables.idempotency.table_name,
                "Contacts created, by ClientToken",
            ),
            "ThreadsTableName": (
                construct.tables.threads.table_name,
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
            "AlarmTopicArn": (construct.alarms.topic.topic_arn, "SNS topic of the alarms"),
            "DashboardUrl": (construct.dashboard.url, "CloudWatch dashboard of the bridge"),
        }
        if config.mail_encryption is MailEncryption.KMS:
            outputs["MailKeyArn"] = (construct.key.key_arn, "KMS key of the mail bucket, queue and tables")
        return outputs
