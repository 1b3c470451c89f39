"""The bridge's two DynamoDB tables: the idempotency ledger and the reply-thread index.

Both are on-demand, encrypted, with point-in-time recovery and TTL, so old records go away by
themselves. Key schemas are the runtime's contract: Powertools idempotency uses ``id`` and
``expiration``; the thread index uses ``messageId`` and ``expiresAt``
(``ses_to_connect.adapters.threads``).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ses_to_connect_cdk.checkov_skips import skip_checkov

__all__ = ["StateTables", "StateTablesProps"]

# What Powertools idempotency calls on its table, and what the thread index calls on its own.
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
THREAD_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:PutItem")


@dataclass(frozen=True)
class StateTablesProps:
    # The stack's customer key when mail encryption is KMS; default: the AWS managed key aws/dynamodb.
    encryption_key: kms.IKey | None = None
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN


class StateTables(Construct):
    """Public attributes: ``idempotency``, ``threads``."""

    def __init__(self, scope: Construct, construct_id: str, props: StateTablesProps) -> None:
        super().__init__(scope, construct_id)
        self.idempotency = self._table("Idempotency", "id", "expiration", props)
        self.threads = self._table("Threads", "messageId", "expiresAt", props)

    def _table(self, name: str, key: str, ttl: str, props: StateTablesProps) -> dynamodb.Table:
        encryption = (
            dynamodb.TableEncryption.CUSTOMER_MANAGED
            if props.encryption_key is not None
            else dynamodb.TableEncryption.AWS_MANAGED
        )
        table = dynamodb.Table(
            self,
            name,
            partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=ttl,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=encryption,
            encryption_key=props.encryption_key,
            removal_policy=props.removal_policy,
        )
        if props.encryption_key is None:
            skip_checkov(
                table,
                {
                    "CKV_AWS_119": "Encrypted at rest with the AWS managed key aws/dynamodb, the choice of "
                    "mailEncryption s3-managed; mailEncryption kms uses the stack's customer managed key.",
                },
            )
        return table

    def statements(self) -> tuple[iam.PolicyStatement, ...]:
        """The function's access: exactly the calls it makes, each on its own table."""
        return (
            iam.PolicyStatement(
                sid="IdempotencyLedger",
                actions=list(IDEMPOTENCY_ACTIONS),
                resources=[self.idempotency.table_arn],
            ),
            iam.PolicyStatement(
                sid="ThreadIndex", actions=list(THREAD_ACTIONS), resources=[self.threads.table_arn]
            ),
        )
