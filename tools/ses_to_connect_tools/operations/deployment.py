"""What the operators' checks know about a deployment: its configuration, clients and stack outputs.

The configuration is the stack's own (:mod:`ses_to_connect_tools.configuration`): ``cdk.json``
context with ``-c KEY=VALUE`` overrides, validated exactly as ``cdk synth`` does, so the checks look
at the account the stack will be (or was) deployed to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ses_to_connect_cdk.config import BridgeConfig
from ses_to_connect_tools.configuration import load_config  # the checks' configuration is every command's

__all__ = ["Clients", "aws_error", "error_code", "load_config", "stack_outputs"]


@dataclass(frozen=True)
class Clients:
    """boto3 clients (or anything with their methods); Connect's in the instance's region."""

    connect: Any
    ses: Any
    ssm: Any
    lambda_: Any
    cloudformation: Any
    s3: Any
    dynamodb: Any

    @classmethod
    def for_config(cls, config: BridgeConfig) -> Clients:
        in_stack_region = {
            field: boto3.client(service, region_name=config.region) for field, service in _SERVICES.items()
        }
        return cls(connect=boto3.client("connect", region_name=config.connect_region), **in_stack_region)


# Clients field -> service, all in the stack's region (Connect's is the instance's).
_SERVICES = {
    "ses": "ses",
    "ssm": "ssm",
    "lambda_": "lambda",
    "cloudformation": "cloudformation",
    "s3": "s3",
    "dynamodb": "dynamodb",
}


def error_code(exc: ClientError) -> str:
    """The service's error code (``NoSuchKey``, ``ResourceNotFoundException``...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def aws_error(exc: Exception) -> str:
    """``Code: message`` of a botocore error, for one line of output."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    if isinstance(exc, BotoCoreError):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)


def stack_outputs(cloudformation: Any, stack_name: str) -> Mapping[str, str] | None:
    """The deployed stack's outputs by key, or None when the stack does not exist."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    outputs = stacks[0].get("Outputs", []) if stacks else []
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}
