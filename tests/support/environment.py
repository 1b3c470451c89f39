"""The function's environment in tests, rendered by the stack's own configuration.

A test names the cdk.json keys it cares about; :func:`function_environment` reads them with
:meth:`BridgeConfig.from_context` and renders them with :meth:`BridgeConfig.lambda_environment`, as
a deployment does. So every test runs the handler with the variables the deployed function gets, a
value the stack would refuse fails the test's set-up, and a new setting reaches every test through
its declaration instead of a hand-written dictionary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ses_to_connect.setting_rules import render
from ses_to_connect_cdk.config import BridgeConfig, RuntimeResources
from ses_to_connect_cdk.keys import SPECS

ACCOUNT = "111122223333"
REGION = "us-east-1"
# What a test's stack would create but the test does not: the function then runs without them.
_RESOURCE_VARIABLES = ("IDEMPOTENCY_TABLE", "THREADS_TABLE", "FAILURE_QUEUE_URL")


def function_environment(
    context: Mapping[str, Any],
    *,
    bucket: str,
    idempotency_table: str | None = None,
    threads_table: str | None = None,
    failure_queue_url: str | None = None,
) -> dict[str, str]:
    """The function's variables for ``context`` (cdk.json keys; ``connectInstanceId`` is enough for the
    instance, in the test account and region). A resource left ``None`` is left out, as the function
    runs without a table or queue it is not told about."""
    config = BridgeConfig.from_context(
        {"account": ACCOUNT, "region": REGION, "ruleSetMode": "create-inactive", **context}
    )
    resources = RuntimeResources(
        bucket, idempotency_table or "", threads_table or "", failure_queue_url or ""
    )
    environment = config.lambda_environment(resources)
    for name in _RESOURCE_VARIABLES:
        if not environment[name]:
            del environment[name]
    return environment


def variables(**context: Any) -> dict[str, str]:
    """Only the variables of the given cdk.json keys, each value read by its key's rule: overrides for an
    environment built by :func:`function_environment` (or by the local pipeline)."""
    rendered: dict[str, str] = {}
    for key, value in context.items():
        spec = SPECS[key]
        reading = spec.read(value)
        if reading.problems:
            raise ValueError(f"{key}: {'; '.join(reading.problems)}")
        rendered[spec.env] = render(reading.value)
    return rendered
