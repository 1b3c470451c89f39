"""The mail bucket: raw mail from SES, extracted attachments, quarantined mail; plus its access-log bucket."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ses_to_connect_cdk.checkov_skips import skip_checkov

__all__ = ["RETENTION_SETTINGS", "MailBucket", "MailBucketProps"]

# How long objects are kept: settings that shape only a bucket this construct creates.
RETENTION_SETTINGS = (
    "inbound_retention_days",
    "attachments_retention_days",
    "quarantine_retention_days",
    "noncurrent_version_retention_days",
    "access_log_retention_days",
)


@dataclass(frozen=True)
class MailBucketProps:
    """Key prefixes (each ending in '/') and how long objects under each are kept, in days: values the
    stack's configuration has validated (``ses_to_connect_cdk.keys`` declares their defaults and rules)."""

    inbound_prefix: str
    attachments_prefix: str
    quarantine_prefix: str
    inbound_retention_days: int
    attachments_retention_days: int
    quarantine_retention_days: int
    noncurrent_version_retention_days: int
    access_log_retention_days: int
    # None: SSE-S3. A key: SSE-KMS with an S3 bucket key (fewer KMS calls).
    encryption_key: kms.IKey | None = None
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN

    @property
    def retention_by_prefix(self) -> dict[str, int]:
        return {
            self.inbound_prefix: self.inbound_retention_days,
            self.attachments_prefix: self.attachments_retention_days,
            self.quarantine_prefix: self.quarantine_retention_days,
        }


class MailBucket(Construct):
    """Private, SSL-only, versioned, encrypted bucket with per-prefix lifecycle and access logging.

    Public attributes: ``bucket`` (the mail bucket), ``access_log_bucket``, ``props``.
    """

    def __init__(self, scope: Construct, construct_id: str, props: MailBucketProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        # Deliver access logs through a bucket policy (logging.s3.amazonaws.com, scoped to the mail
        # bucket) rather than the legacy LogDeliveryWrite ACL, which BucketOwnerEnforced forbids;
        # set here so the construct does not depend on the app's feature flags.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)

        # The access-log bucket does not log its own access (that would log every log delivery);
        # cdk-nag's S1 rule recognises a log-target bucket and reports nothing here. Versioned, so a
        # deleted or overwritten log stays recoverable for the noncurrent-version period.
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # Server access logging can only deliver to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(props.access_log_retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(props.noncurrent_version_retention_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=props.removal_policy,
        )
        skip_checkov(
            self.access_log_bucket,
            {
                "CKV_AWS_18": "This bucket is the target of the mail bucket's access logs; logging its own "
                "access would log every log delivery, without end.",
            },
        )
        lifecycle = [
            s3.LifecycleRule(
                id=f"expire-{prefix.rstrip('/').replace('/', '-')}",
                prefix=prefix,
                expiration=cdk.Duration.days(days),
                noncurrent_version_expiration=cdk.Duration.days(props.noncurrent_version_retention_days),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            )
            for prefix, days in props.retention_by_prefix.items()
        ]
        lifecycle.append(
            s3.LifecycleRule(
                id="noncurrent-versions-everywhere",
                noncurrent_version_expiration=cdk.Duration.days(props.noncurrent_version_retention_days),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            )
        )
        lifecycle.append(
            s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True)
        )

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.KMS if props.encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=props.encryption_key,
            bucket_key_enabled=True if props.encryption_key else None,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="mail-bucket/",
            lifecycle_rules=lifecycle,
            removal_policy=props.removal_policy,
        )
