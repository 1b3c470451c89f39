"""The Lambda entry point: wires settings, clients and the pipeline; holds no logic of its own."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from ses_to_connect.adapters.connect import ContactStarter
from ses_to_connect.adapters.s3 import MailStore
from ses_to_connect.errors import PermanentDeliveryError
from ses_to_connect.pipeline import Pipeline, RecordResult
from ses_to_connect.ses_event import records
from ses_to_connect.settings import Settings

logger = Logger()
metrics = Metrics()


@cache
def pipeline() -> Pipeline:
    """Settings read and validated once, clients created once, per container."""
    settings = Settings.from_env(os.environ)
    connect_config = Config(
        retries={"mode": settings.connect_retry_mode, "max_attempts": settings.connect_max_attempts},
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.connect_timeout_seconds,
    )
    s3 = boto3.client("s3", config=Config(retries={"mode": "standard"}))
    connect = boto3.client("connect", config=connect_config)
    return Pipeline(settings, MailStore(s3, settings.mail_bucket), ContactStarter(connect))


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="Records[0].ses.mail.messageId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    results = []
    for record in records(event):
        try:
            result = pipeline().process(record)
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
    if result.outcome == "contact":
        metrics.add_metric(name="ContactsCreated", unit=MetricUnit.Count, value=len(result.contact_ids))
    elif result.outcome == "quarantine":
        metrics.add_metric(name="Quarantined", unit=MetricUnit.Count, value=1)
    if result.defects:
        metrics.add_metric(name="MessagesWithDefects", unit=MetricUnit.Count, value=1)
