"""The on-failure destination of the function's asynchronous invocations."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ses_to_connect_cdk.checkov_skips import skip_checkov
from ses_to_connect_cdk.nag import acknowledge

__all__ = ["FailureQueue", "FailureQueueProps"]

MAX_SQS_RETENTION_DAYS = 14


@dataclass(frozen=True)
class FailureQueueProps:
    # None: SSE-SQS (SQS managed keys). A key: SSE-KMS with it.
    encryption_key: kms.IKey | None = None
    retention_days: int = MAX_SQS_RETENTION_DAYS

    def __post_init__(self) -> None:
        if not 1 <= self.retention_days <= MAX_SQS_RETENTION_DAYS:
            raise ValueError(f"FailureQueueProps: retention_days must be 1-{MAX_SQS_RETENTION_DAYS}")


class FailureQueue(Construct):
    """Encrypted, SSL-only queue holding events whose every attempt failed. Attribute: ``queue``."""

    def __init__(self, scope: Construct, construct_id: str, props: FailureQueueProps | None = None) -> None:
        super().__init__(scope, construct_id)
        self.props = props = props or FailureQueueProps()
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS if props.encryption_key else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=props.encryption_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(props.retention_days),
        )
        if props.encryption_key is None:
            skip_checkov(
                self.queue,
                {
                    "CKV_AWS_27": "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which the check "
                    "does not recognise; mailEncryption kms uses the stack's customer managed key instead.",
                },
            )
        acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter sink: the on-failure destination of the function's "
            "asynchronous invocations. Its records are inspected and replayed by an operator.",
        )
