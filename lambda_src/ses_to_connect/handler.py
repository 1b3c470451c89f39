"""The Lambda entry point: wires settings, clients and the pipeline; holds no logic of its own."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from ses_to_connect.adapters.connect import ContactStarter
from ses_to_connect.adapters.s3 import AttachmentStore, MailStore
from ses_to_connect.errors import PermanentDeliveryError
from ses_to_connect.pipeline import Adapters, Pipeline, RecordResult
from ses_to_connect.ses_event import records
from ses_to_connect.settings import Settings

logger = Logger()
metrics = Metrics()


@cache
def pipeline() -> Pipeline:
    """Settings read and validated once, clients created once, per container."""
    settings = Settings.from_env(os.environ)
    connect_config = Config(
        retries={"mode": settings.connect_retry_mode, "total_max_attempts": settings.connect_max_attempts},
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.connect_timeout_seconds,
    )
    s3 = boto3.client("s3", config=Config(retries={"mode": "standard"}, signature_version="s3v4"))
    adapters = Adapters(
        store=MailStore(s3, settings.mail_bucket),
        attachments=AttachmentStore(s3, settings.mail_bucket, settings.attachment_url_expiry_seconds),
        contacts=ContactStarter(boto3.client("connect", config=connect_config)),
    )
    if settings.idempotency_table or settings.threads_table:
        dynamodb = boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))
        if settings.idempotency_table:
            from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer  # noqa: PLC0415

            from ses_to_connect.adapters.ledger import ContactLedger  # noqa: PLC0415

            persistence = DynamoDBPersistenceLayer(
                table_name=settings.idempotency_table, boto3_client=dynamodb
            )
            adapters.ledger = ContactLedger(persistence, settings.idempotency_ttl_seconds)
        if settings.threads_table:
            from ses_to_connect.adapters.threads import ThreadIndex  # noqa: PLC0415

            adapters.threads = ThreadIndex(dynamodb, settings.threads_table, settings.thread_ttl_days)
    return Pipeline(settings, adapters)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="Records[0].ses.mail.messageId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bridge = pipeline()
    if bridge.io.ledger is not None:
        bridge.io.ledger.register_context(context)
    results = []
    for record in records(event):
        try:
            result = bridge.process(record)
        except PermanentDeliveryError as exc:
            metrics.add_metric(name="PermanentFailures", unit=MetricUnit.Count, value=1)
            logger.error(
                "permanent delivery failure; the event goes to the failure destination",
                extra={"code": exc.code},
            )
            raise
        _record_metrics(result)
        results.append(result.as_json())
    # "disposition" matters only to a RequestResponse invocation; SES ignores it otherwise.
    return {"disposition": "CONTINUE", "messages": results}


def _record_metrics(result: RecordResult) -> None:
    if result.outcome == "contact" and not result.duplicate:
        metrics.add_metric(name="ContactsCreated", unit=MetricUnit.Count, value=len(result.contact_ids))
    elif result.outcome == "quarantine":
        metrics.add_metric(name="Quarantined", unit=MetricUnit.Count, value=1)
        if not is_metrics_disabled():  # single_metric ignores POWERTOOLS_METRICS_DISABLED by itself
            with single_metric(name="QuarantinedByReason", unit=MetricUnit.Count, value=1) as by_reason:
                by_reason.add_dimension(name="reason", value=result.reason or "unknown")
    if result.duplicate:
        metrics.add_metric(name="DuplicateInvocations", unit=MetricUnit.Count, value=1)
    if result.attachments_sent:
        metrics.add_metric(name="AttachmentsSent", unit=MetricUnit.Count, value=result.attachments_sent)
    if result.attachments_skipped:
        metrics.add_metric(
            name="AttachmentsSkipped", unit=MetricUnit.Count, value=result.attachments_skipped.total()
        )
    if result.defects:
        metrics.add_metric(name="MessagesWithDefects", unit=MetricUnit.Count, value=1)
