"""The AWS side of the local pipeline: moto's server and the Connect emulator on 127.0.0.1.

:class:`LocalAws` starts both, creates what the stack would create (mail bucket, the
idempotency and thread tables, the failure queue) and points the handler at them through
the environment: botocore's ``AWS_ENDPOINT_URL_<SERVICE>`` variables, fake credentials and
the same settings variables the CDK stack sets. Nothing it starts listens beyond loopback.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from local_pipeline.connect_emulator import ConnectEmulator

REGION = "us-east-1"
ACCOUNT = "111122223333"
INSTANCE_ID = "00000000-0000-4000-8000-000000000000"
BUCKET = "ses-to-connect-mail"
IDEMPOTENCY_TABLE = "ses-to-connect-idempotency"
THREADS_TABLE = "ses-to-connect-threads"
FAILURE_QUEUE = "ses-to-connect-failures"
DEFAULT_ADDRESSES = ("support@example.com",)
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class LocalAws:
    """Running local services; ``env`` is what the handler's process needs to reach them."""

    moto_url: str
    connect_url: str
    emulator: ConnectEmulator | None
    addresses: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        url = self.connect_url if service == "connect" else self.moto_url
        return boto3.client(service, endpoint_url=url, region_name=REGION, **_credential_kwargs())

    @property
    def failure_queue_url(self) -> str:
        url: str = self.client("sqs").get_queue_url(QueueName=FAILURE_QUEUE)["QueueUrl"]
        return url


def handler_env(
    moto_url: str, connect_url: str, addresses: tuple[str, ...], **overrides: str
) -> dict[str, str]:
    """The environment the deployed function gets, pointed at the local services."""
    env = {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": moto_url,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
        "AWS_ENDPOINT_URL_SQS": moto_url,
        "AWS_ENDPOINT_URL_CONNECT": connect_url,
        "AWS_LAMBDA_FUNCTION_NAME": "ses-to-connect",
        "POWERTOOLS_SERVICE_NAME": "ses-to-connect",
        "POWERTOOLS_METRICS_NAMESPACE": "SesToConnect",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",  # keep EMF lines out of the simulation's table
        "CONNECT_INSTANCE_ID": INSTANCE_ID,
        "CONNECT_ADDRESSES": json.dumps([{"address": address} for address in addresses]),
        "MAIL_BUCKET": BUCKET,
        "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
        "THREADS_TABLE": THREADS_TABLE,
        "CONNECT_MAX_ATTEMPTS": "3",
        "CONNECT_TIMEOUT_SECONDS": "5",
    }
    env.update(overrides)
    return env


@contextmanager
def local_aws(
    *,
    connect_endpoint: str | None = None,
    connect_tps: float | None = None,
    addresses: tuple[str, ...] = DEFAULT_ADDRESSES,
    env_overrides: Mapping[str, str] | None = None,
) -> Iterator[LocalAws]:
    """Start moto (and the emulator, unless ``connect_endpoint`` names another), set the env."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    emulator: ConnectEmulator | None = None
    try:
        host, port = moto.get_host_and_port()
        moto_url = f"http://{host}:{port}"
        if connect_endpoint is None:
            emulator = ConnectEmulator(
                instances={INSTANCE_ID: addresses}, rate=connect_tps, burst=max(1, int(connect_tps or 1))
            )
            emulator.start()
            connect_endpoint = emulator.url
        env = handler_env(moto_url, connect_endpoint, addresses, **(env_overrides or {}))
        aws = LocalAws(moto_url, connect_endpoint, emulator, addresses, env)
        with _environment(env):
            _create_resources(aws)
            yield aws
    finally:
        if emulator is not None:
            emulator.stop()
        moto.stop()


def _create_resources(aws: LocalAws) -> None:
    """What the CDK stack creates, with the same key schemas."""
    aws.client("s3").create_bucket(Bucket=BUCKET)
    dynamodb = aws.client("dynamodb")
    for table, key in ((IDEMPOTENCY_TABLE, "id"), (THREADS_TABLE, "messageId")):
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    aws.client("sqs").create_queue(QueueName=FAILURE_QUEUE)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _credential_kwargs() -> dict[str, str]:
    return {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    }
