"""The Lambda entry point: wires settings, clients and the pipeline; holds no logic of its own."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
import botocore
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from ses_to_connect import __version__
from ses_to_connect.adapters.failures import failure_record
from ses_to_connect.composition import Clients, build_pipeline
from ses_to_connect.errors import BridgeError, UnsupportedRuntimeError
from ses_to_connect.metric_names import MetricName
from ses_to_connect.model import DefectKind
from ses_to_connect.pipeline import Pipeline, RecordResult
from ses_to_connect.ses_event import REDRIVE_KEY, records
from ses_to_connect.settings import Settings

logger = Logger(version=__version__)  # a key of every line: which release wrote it
metrics = Metrics()
# What is imported lives as long as the container. Frozen, the collector's full passes stop
# rescanning it: the one during client creation scanned all of boto3 and Powertools (about
# 17 ms of a 235 ms cold start here, more at Lambda's CPU share). A few import-time garbage
# cycles are kept for good, which costs far less than the passes.
gc.freeze()


@cache
def pipeline() -> Pipeline:
    """Settings read and validated once, clients created once, per container."""
    settings = Settings.from_env(os.environ)
    return build_pipeline(settings, aws_clients(settings))


def aws_clients(settings: Settings) -> Clients:
    """The clients the settings need, with their timeouts and retries."""
    connect_config = Config(
        # Connect may live in another region than the function (SES receiving is in fewer regions);
        # None keeps the function's own.
        region_name=settings.connect_region,
        retries={"mode": settings.connect_retry_mode, "total_max_attempts": settings.connect_max_attempts},
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.connect_timeout_seconds,
    )
    aws_config = Config(
        retries={"mode": "standard"},
        connect_timeout=settings.aws_timeout_seconds,
        read_timeout=settings.aws_timeout_seconds,
    )
    return Clients(
        s3=boto3.client("s3", config=aws_config.merge(Config(signature_version="s3v4"))),
        connect=_connect_client(connect_config),
        dynamodb=(
            boto3.client("dynamodb", config=aws_config)
            if settings.idempotency_table or settings.threads_table
            else None
        ),
        sqs=boto3.client("sqs", config=aws_config) if settings.failure_queue_url else None,
    )


def _connect_client(config: Config) -> Any:
    """The runtime's own boto3 must know StartEmailContact, an API of late 2024 that older SDKs lack."""
    client = boto3.client("connect", config=config)
    if not hasattr(client, "start_email_contact"):
        raise UnsupportedRuntimeError(
            f"this Lambda runtime's botocore {botocore.__version__} has no Connect StartEmailContact: "
            "deploy a runtime whose SDK has it (the stack's python3.13), or bundle a newer boto3"
        )
    return client


Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def entry() -> Handler:
    """The handler's body, inside Powertools Tracer when ``TRACING`` is true (the stack's ``tracing``)."""
    return _with_tracing(pipeline().settings.tracing)


@cache
def _with_tracing(enabled: bool) -> Handler:
    """Only when tracing is on is the X-Ray SDK imported and botocore patched, so that every AWS
    call becomes a subsegment (class-wide: clients created before the patch are traced too).
    Off, tracing costs nothing at cold start; ``make bench`` measures both."""
    if not enabled:
        return _handle
    tracer = Tracer(patch_modules=["botocore"])
    # No response in the trace: it lists message and contact ids, which the logs already carry.
    return tracer.capture_lambda_handler(_handle, capture_response=False)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="Records[0].ses.mail.messageId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return entry()(event, context)


def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bridge = pipeline()
    if bridge.io.ledger is not None:
        bridge.io.ledger.register_context(context)
    results = []
    try:
        for record in records(event):
            result = bridge.process(record)
            _record_metrics(result)
            results.append(result.as_json())
    except BridgeError as exc:
        if exc.retryable:
            raise  # throttling, 5xx, timeouts: Lambda retries
        return _permanent_failure(bridge, event, exc, context)
    finally:  # URLs signed by a failed invocation count in its own metrics, not the next one's
        _record_url_lengths(bridge)
    # "disposition" matters only to a RequestResponse invocation; SES ignores it otherwise.
    return {"disposition": "CONTINUE", "messages": results}


def _permanent_failure(
    bridge: Pipeline, event: dict[str, Any], error: BridgeError, context: LambdaContext
) -> dict[str, Any]:
    """Retrying cannot help: send the event to the failure queue now rather than after retries.

    Without a configured queue, or while an operator's redrive runs the event (it keeps the
    original entry until the event succeeds), the error is raised instead.
    """
    _count(MetricName.PERMANENT_FAILURES, 1)
    code = error.code
    if bridge.io.failures is None or event.get(REDRIVE_KEY):
        logger.error("permanent failure; raised for the failure destination", extra={"code": code})
        raise error
    record = failure_record(
        event,
        error,
        condition="PermanentFailure",
        attempts=1,
        request_id=context.aws_request_id,
        function_arn=context.invoked_function_arn,
    )
    bridge.io.failures.send(record)
    logger.error("permanent failure; event sent to the failure queue", extra={"code": code})
    return {"disposition": "CONTINUE", "messages": [], "failed": {"code": code, "error": str(error)}}


def _record_url_lengths(bridge: Pipeline) -> None:
    """Each pre-signed URL's length: it carries the session token, and Connect takes 2,000 characters."""
    for length in bridge.io.attachments.take_url_lengths():
        _count(MetricName.ATTACHMENT_URL_LENGTH, length)


def _count(metric: MetricName, value: float) -> None:
    """Add to one of the function's metrics: only a :class:`MetricName`, the set the stack's alarms read."""
    metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)


def _record_metrics(result: RecordResult) -> None:
    if result.outcome == "contact" and not result.duplicate:
        if result.contact_ids:
            _count(MetricName.CONTACTS_CREATED, len(result.contact_ids))
    elif result.outcome == "quarantine":
        _count(MetricName.QUARANTINED, 1)
        if not is_metrics_disabled():  # single_metric ignores POWERTOOLS_METRICS_DISABLED by itself
            with single_metric(
                name=MetricName.QUARANTINED_BY_REASON.value, unit=MetricUnit.Count, value=1
            ) as by_reason:
                by_reason.add_dimension(name="reason", value=result.reason or "unknown")
    if result.duplicate:
        _count(MetricName.DUPLICATE_INVOCATIONS, 1)
    elif result.contacts_without_id:  # the contact exists but its id is lost: alarmed on
        _count(MetricName.CONTACTS_WITHOUT_ID, result.contacts_without_id)
    if result.attachments_sent:
        _count(MetricName.ATTACHMENTS_SENT, result.attachments_sent)
    if result.attachments_skipped:
        _count(MetricName.ATTACHMENTS_SKIPPED, sum(result.attachments_skipped.values()))
    if result.defects:
        _count(MetricName.MESSAGES_WITH_DEFECTS, 1)
    if any(defect.startswith(DefectKind.THREAD_INDEX_NOT_WRITTEN) for defect in result.defects):
        _count(MetricName.THREAD_INDEX_WRITE_FAILURES, 1)
