"""The stack's customer managed KMS key.

It always encrypts the alarm topic: CloudWatch alarms cannot publish to a topic encrypted with
the AWS managed ``alias/aws/sns`` key, so an encrypted alarm topic needs a key whose policy lets
``cloudwatch.amazonaws.com`` use it. With ``mailEncryption: kms`` the same key also encrypts the
mail bucket (SSE-KMS, bucket key on), the failure queue and the tables. It is never given to the
SES S3 action as ``KmsKeyArn`` (client-side encryption that a plain ``get_object`` cannot read):
SES writes through the action's IAM role instead (:mod:`ses_to_connect_cdk.receipt_rule`), whose own policy
grants the key, so the key policy names no SES principal.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

__all__ = ["StackKey", "StackKeyProps", "allow_cloudwatch_alarms"]


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


def allow_cloudwatch_alarms(key: kms.IKey) -> bool:
    """Let CloudWatch alarms of this account and region publish to a topic encrypted with ``key``.

    The conditions keep the service principal from acting for anyone else's alarms (the confused
    deputy); alarm names are generated, so the alarm ARN is matched by pattern. Returns False for an
    imported key, whose policy this app cannot change: its owner adds the statement.
    """
    stack = cdk.Stack.of(key)
    alarms = stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name="*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    return key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToUseTheKey",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": alarms},
            },
        )
    ).statement_added
