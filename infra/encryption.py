"""The stack's customer managed KMS key.

It always encrypts the alarm topic: CloudWatch alarms cannot publish to a topic encrypted with
the AWS managed ``alias/aws/sns`` key, so an encrypted alarm topic needs a key whose policy lets
``cloudwatch.amazonaws.com`` use it. With ``mailEncryption: kms`` the same key also encrypts the
mail bucket (SSE-KMS, bucket key on) and the failure queue. It is never given to the SES S3
action (``KmsKeyArn`` means client-side encryption that a plain ``get_object`` cannot read).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

__all__ = ["StackKey", "StackKeyProps"]


@dataclass(frozen=True)
class StackKeyProps:
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN
    description: str = "SES to Connect bridge: alarm topic (and mail data when mailEncryption is kms)"


class StackKey(Construct):
    """A rotated symmetric key. ``key`` is the created :class:`aws_kms.Key`."""

    def __init__(self, scope: Construct, construct_id: str, props: StackKeyProps | None = None) -> None:
        super().__init__(scope, construct_id)
        self.props = props or StackKeyProps()
        self.key = kms.Key(
            self,
            "Key",
            description=self.props.description,
            enable_key_rotation=True,
            removal_policy=self.props.removal_policy,
        )

    def allow_cloudwatch_alarms(self) -> None:
        """Let CloudWatch alarms publish to a topic encrypted with this key (CloudWatch user guide)."""
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )

    def allow_ses_delivery(self, *, account: str, receipt_rule_arn: str) -> None:
        """Let SES write objects into a bucket whose default encryption is this key.

        S3 asks KMS for a data key on behalf of the writer (SES), so the key policy must allow it,
        scoped like the bucket policy to this account and this receipt rule.
        """
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSesToWriteMailWithTheKey",
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={
                    "StringEquals": {"aws:SourceAccount": account, "aws:SourceArn": receipt_rule_arn},
                },
            )
        )
