"""Functional tests: the whole path, from an SES event to StartEmailContact calls.

The handler runs for real against moto's in-process S3 (``moto.mock_aws``) with the Connect
client it created itself stubbed by ``botocore.stub.Stubber``; the offline command runs as a
subprocess. Shared constants and helpers live here; fixtures live in ``conftest.py``.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.stub import Stubber
from moto import mock_aws

from ses_to_connect import handler
from ses_to_connect.adapters.connect import ContactStarter
from tests.support.constants import INSTANCE_ID, SALES, SALES_FLOW, SUPPORT
from tests.support.environment import function_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC = REPO_ROOT / "lambda_src"

BUCKET = "ses-to-connect-mail-test"
NAMESPACE = "SesToConnectFunctionalTest"
SERVICE = "ses-to-connect-test"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:111122223333:function:ses-to-connect"

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# Variables that would point boto3 somewhere else than moto and the stubs.
AWS_ENV_TO_CLEAR = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_CONNECT")


# The deployment the functional tests run: two addresses, one with its own flow.
BRIDGE_CONTEXT: dict[str, Any] = {
    "connectInstanceId": INSTANCE_ID,
    "connectAddresses": [{"address": SUPPORT}, {"address": SALES, "contactFlowId": SALES_FLOW}],
    "staticAttributes": {"brand": "example-brand"},
    "contactExpiryMinutes": 1440,
    "serviceName": SERVICE,
    "metricsNamespace": NAMESPACE,
}


def bridge_env(**overrides: str | None) -> dict[str, str | None]:
    """The Lambda's environment as the stack renders it; ``None`` removes a variable."""
    env: dict[str, str | None] = {**function_environment(BRIDGE_CONTEXT, bucket=BUCKET)}
    env.update(overrides)
    return env


class FakeLambdaContext(LambdaContext):
    """The four fields Powertools' Logger reads from the real context."""

    def __init__(self, request_id: str = "11111111-1111-4111-8111-111111111111") -> None:
        self._request_id = request_id

    @property
    def function_name(self) -> str:
        return "ses-to-connect"

    @property
    def memory_limit_in_mb(self) -> int:
        return 256

    @property
    def invoked_function_arn(self) -> str:
        return FUNCTION_ARN

    @property
    def aws_request_id(self) -> str:
        return self._request_id


def create_ledger_table(client: Any, table: str) -> None:
    """The idempotency table as the stack makes it (key ``id``), in moto."""
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` that is a JSON object (Powertools logs and EMF blobs)."""
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.startswith("{"):
            value: Any = json.loads(line)
            if isinstance(value, dict):
                found.append(value)
    return found


def emf_metrics(stdout: str) -> dict[str, list[float]]:
    """Metric name -> values over every EMF blob printed on ``stdout``."""
    values: dict[str, list[float]] = {}
    for blob in json_lines(stdout):
        aws = blob.get("_aws")
        if not isinstance(aws, Mapping):
            continue
        for directive in aws["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            for metric in directive["Metrics"]:
                values[metric["Name"]] = blob[metric["Name"]]
    return values


def emf_blobs(stdout: str) -> list[dict[str, Any]]:
    return [blob for blob in json_lines(stdout) if "_aws" in blob]


@dataclass
class Bridge:
    """The deployed handler wired to moto S3 and a stubbed Connect client."""

    s3: Any  # a moto-backed client for arranging and inspecting the bucket
    connect: Any  # the very client the handler's pipeline calls
    stubber: Stubber
    logs: io.StringIO  # everything the Powertools Logger wrote
    sent: list[dict[str, Any]] = field(default_factory=list)  # StartEmailContact params, in order

    def store(self, raw: bytes, message_id: str) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=f"inbound/{message_id}", Body=raw)

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
        context = FakeLambdaContext(request_id) if request_id else FakeLambdaContext()
        result: dict[str, Any] = handler.lambda_handler(event, context)
        return result

    def log_records(self) -> list[dict[str, Any]]:
        return json_lines(self.logs.getvalue())

    def new_stubber(self) -> Stubber:
        """Replace the stubber (one per test when the bridge outlives a test)."""
        self.stubber.deactivate()
        self.stubber = Stubber(self.connect)
        self.stubber.activate()
        self.sent.clear()
        return self.stubber


@contextmanager
def running_bridge(env: Mapping[str, str | None]) -> Iterator[Bridge]:
    """Set the environment, start moto, create the bucket and build the handler's pipeline."""
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name in AWS_ENV_TO_CLEAR:
            patch.delenv(name, raising=False)
        for name, value in {**FAKE_AWS_ENV, **env}.items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        # Logger and Metrics were built when the handler module was first imported, maybe
        # before this environment existed: give them what the stack's environment gives them.
        patch.setattr(handler.metrics, "namespace", NAMESPACE)
        patch.setattr(handler.metrics, "service", SERVICE)
        # Powertools never clears metrics while POWERTOOLS_METRICS_DISABLED is set (the local
        # pipeline's suites set it): start from none, or they are flushed into this test's output.
        handler.metrics.clear_metrics()
        log_handler = handler.logger.registered_handler
        assert isinstance(log_handler, logging.StreamHandler)
        logs = io.StringIO()
        patch.setattr(log_handler, "stream", logs)
        level = handler.logger.log_level
        handler.logger.setLevel(logging.INFO)

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        handler.pipeline.cache_clear()
        try:
            starter = handler.pipeline().io.contacts
            assert isinstance(starter, ContactStarter)
            connect = starter._client
            bridge = Bridge(s3=s3, connect=connect, stubber=Stubber(connect), logs=logs)

            def record(params: dict[str, Any], **_: Any) -> None:
                bridge.sent.append(json.loads(json.dumps(params)))

            connect.meta.events.register("provide-client-params.connect.StartEmailContact", record)
            bridge.stubber.activate()
            yield bridge
            bridge.stubber.deactivate()
        finally:
            handler.pipeline.cache_clear()
            handler.logger.setLevel(level)
