"""The AWS side of the local pipeline: moto's server and the Connect emulator on 127.0.0.1.

:class:`LocalAws` starts both, creates what the stack would create (mail bucket, the
idempotency and thread tables, the failure queue) and points the handler at them through
the environment: botocore's ``AWS_ENDPOINT_URL_<SERVICE>`` variables, fake credentials and
the same settings variables the CDK stack sets. Nothing it starts listens beyond loopback.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from ses_to_connect_cdk.config import BridgeConfig, RuntimeResources
from ses_to_connect_cdk.keys import DEFAULTS
from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator, SigningKey
from ses_to_connect_tools.local_pipeline.fault_proxy import FaultProxy

REGION = "us-east-1"
ACCOUNT = "111122223333"
INSTANCE_ID = "00000000-0000-4000-8000-000000000000"
BUCKET = "ses-to-connect-mail"
IDEMPOTENCY_TABLE = "ses-to-connect-idempotency"
THREADS_TABLE = "ses-to-connect-threads"
FAILURE_QUEUE = "ses-to-connect-failures"
SUPPORT_ADDRESS = "support@example.com"
DEFAULT_ADDRESSES = (SUPPORT_ADDRESS,)
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
    s3_proxy: FaultProxy | None = None  # in front of moto's S3 when faults were asked for
    async_retry_attempts: int = 2  # Lambda's retries of a failed asynchronous invocation

    def client(self, service: str) -> Any:
        url = self.connect_url if service == "connect" else self.moto_url
        return boto3.client(service, endpoint_url=url, region_name=REGION, **_credential_kwargs())

    @property
    def failure_queue_url(self) -> str:
        return self.env["FAILURE_QUEUE_URL"]

    def failure_records(self) -> list[dict[str, Any]]:
        """Every record in the failure queue (read without consuming them)."""
        sqs = self.client("sqs")
        records: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            response = sqs.receive_message(
                QueueUrl=self.failure_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
            )
            new = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not new:
                return records
            for message in new:
                seen.add(message["MessageId"])
                records.append(json.loads(message["Body"]))


METRICS_NAMESPACE = DEFAULTS["metrics_namespace"]  # the stack's default metricsNamespace


def local_config(addresses: tuple[str, ...]) -> BridgeConfig:
    """The deployment the local services stand for when none is given: the emulator's instance with
    ``addresses``, every other key at its default but Connect's calls (3 attempts of 5 s, so that a
    test of a failing Connect ends soon)."""
    return BridgeConfig.from_context(
        {
            "connectInstanceArn": f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/{INSTANCE_ID}",
            "connectAddresses": [{"address": address} for address in addresses],
            "ruleSetMode": "create-inactive",
            "connectMaxAttempts": 3,
            "connectTimeoutSeconds": 5,
        }
    )


def handler_env(
    moto_url: str, connect_url: str, config: BridgeConfig, failure_queue_url: str, **overrides: str
) -> dict[str, str]:
    """The environment the deployed function gets from ``config`` (the stack's own rendering), naming the
    local bucket, tables and queue and pointed at the local services. The log level is WARNING: the
    function's INFO lines would bury the simulation's table."""
    resources = RuntimeResources(BUCKET, IDEMPOTENCY_TABLE, THREADS_TABLE, failure_queue_url)
    env = {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": moto_url,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
        "AWS_ENDPOINT_URL_SQS": moto_url,
        "AWS_ENDPOINT_URL_CONNECT": connect_url,
        "AWS_LAMBDA_FUNCTION_NAME": "ses-to-connect",
        **config.lambda_environment(resources),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",  # keep EMF lines out of the simulation's table
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
    s3_faults: bool = False,
    config: BridgeConfig | None = None,
) -> Iterator[LocalAws]:
    """Start moto (and the emulator, unless ``connect_endpoint`` names another), set the env.

    With ``s3_faults`` the handler reaches S3 through a :class:`FaultProxy` (``aws.s3_proxy``).
    With ``config`` the function gets the environment the stack renders from it (its instance,
    addresses, flows, policy, body preference, attributes, limits) instead of ``addresses``.
    """
    config = config or local_config(addresses)
    instance_id = config.connect_instance_id
    addresses = tuple(a.address for a in config.function.connect_addresses)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    emulator: ConnectEmulator | None = None
    proxy: FaultProxy | None = None
    try:
        host, port = moto.get_host_and_port()
        moto_url = f"http://{host}:{port}"
        # moto keeps its state per process: start from nothing, whatever ran here before.
        reset = http.client.HTTPConnection(host, port, timeout=10)
        reset.request("POST", "/moto-api/reset")
        reset.getresponse().read()
        reset.close()
        if connect_endpoint is None:
            emulator = ConnectEmulator(
                instances={instance_id: addresses},
                rate=connect_tps,
                burst=max(1, int(connect_tps or 1)),
                # Attachment URLs must be signed by the function's own (fake) credentials.
                signing_keys={
                    FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]: SigningKey(
                        FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
                    )
                },
            )
            emulator.start()
            connect_endpoint = emulator.url
        aws = LocalAws(moto_url, connect_endpoint, emulator, addresses)
        queue_url = create_resources(aws)
        if s3_faults:
            proxy = aws.s3_proxy = FaultProxy(moto_url).start()
        aws.async_retry_attempts = config.async_retry_attempts
        overrides = dict(env_overrides or {})
        if proxy is not None:
            overrides["AWS_ENDPOINT_URL_S3"] = proxy.url
        aws.env = handler_env(moto_url, connect_endpoint, config, queue_url, **overrides)
        with _environment(aws.env):
            yield aws
    finally:
        if proxy is not None:
            proxy.stop()
        if emulator is not None:
            emulator.stop()
        moto.stop()


def create_resources(aws: LocalAws) -> str:
    """What the CDK stack creates, with the same key schemas; returns the failure queue's URL."""
    aws.client("s3").create_bucket(Bucket=BUCKET)
    dynamodb = aws.client("dynamodb")
    for table, key in ((IDEMPOTENCY_TABLE, "id"), (THREADS_TABLE, "messageId")):
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    url: str = aws.client("sqs").create_queue(QueueName=FAILURE_QUEUE)["QueueUrl"]
    return url


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
