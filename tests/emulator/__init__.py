"""The emulator through boto3 over real HTTP; the helpers its test modules share."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


def connect_client(url: str, region: str) -> Any:
    """A boto3 Connect client of the emulator at ``url``, which tries each call once."""
    return boto3.client(
        "connect",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def error_code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])
