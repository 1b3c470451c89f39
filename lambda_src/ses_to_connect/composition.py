"""The composition root: the pipeline built from validated settings and the clients it talks through.

Nothing here creates a client, as Powertools' persistence layer takes a ``boto3_client``: the
handler passes the runtime's (``handler.aws_clients``), a test passes moto's or a stubbed one.
Which adapters exist follows the settings: the ledger and the thread index with their tables,
the failure queue with its URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ses_to_connect.adapters.connect import ContactStarter
from ses_to_connect.adapters.failures import FailureQueue
from ses_to_connect.adapters.s3 import AttachmentStore, MailStore
from ses_to_connect.pipeline import Adapters, Pipeline
from ses_to_connect.settings import Settings
from ses_to_connect.timing import in_progress_lock_seconds


@dataclass(frozen=True)
class Clients:
    """boto3 clients (or anything with their methods); those the settings do not need may be None."""

    s3: Any
    connect: Any
    dynamodb: Any = None  # with an idempotency or threads table
    sqs: Any = None  # with a failure queue


def build_pipeline(settings: Settings, clients: Clients) -> Pipeline:
    adapters = Adapters(
        store=MailStore(clients.s3, settings.mail_bucket),
        attachments=AttachmentStore(
            clients.s3,
            settings.mail_bucket,
            settings.attachment_url_expiry_seconds,
            uploads=settings.attachment_uploads,
        ),
        contacts=ContactStarter(clients.connect),
    )
    if settings.failure_queue_url:
        adapters.failures = FailureQueue(
            _needed(clients.sqs, "sqs", "a failure queue"), settings.failure_queue_url
        )
    if settings.idempotency_table:
        # Imported only when configured: Powertools' idempotency utility costs cold-start time.
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer  # noqa: PLC0415

        from ses_to_connect.adapters.ledger import ContactLedger  # noqa: PLC0415

        dynamodb = _needed(clients.dynamodb, "dynamodb", "an idempotency table")
        adapters.ledger = ContactLedger(
            DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb),
            settings.idempotency_ttl_seconds,
            client=dynamodb,
            table=settings.idempotency_table,
            in_progress_seconds=in_progress_lock_seconds(
                settings.connect_max_attempts,
                settings.connect_timeout_seconds,
                adaptive=settings.connect_retry_mode == "adaptive",
            ),
        )
    if settings.threads_table:
        from ses_to_connect.adapters.agent_replies import AgentReplies  # noqa: PLC0415
        from ses_to_connect.adapters.threads import ThreadIndex  # noqa: PLC0415

        dynamodb = _needed(clients.dynamodb, "dynamodb", "a threads table")
        adapters.threads = ThreadIndex(dynamodb, settings.threads_table, settings.thread_ttl_days)
        adapters.replies = AgentReplies(clients.connect, settings.instance_id)
    return Pipeline(settings, adapters)


def _needed(client: Any, name: str, feature: str) -> Any:
    if client is None:
        raise ValueError(f"the settings name {feature}: Clients.{name} is needed")
    return client
