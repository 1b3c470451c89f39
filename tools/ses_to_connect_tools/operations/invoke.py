"""Running an event through the bridge: the deployed function, or the handler in this process."""

from __future__ import annotations

import json
from typing import Any, Protocol


class InvocationFailed(Exception):
    """The function raised; the event did not reach an outcome."""


class Invoker(Protocol):
    def invoke(self, event: dict[str, Any]) -> dict[str, Any]: ...


class LambdaInvoker:
    """Synchronous (RequestResponse) invocation: no Lambda retries, no on-failure destination."""

    def __init__(self, client: Any, function_name: str) -> None:
        self._client = client
        self._function_name = function_name

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        response = self._client.invoke(
            FunctionName=self._function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            message = payload.get("errorMessage", "") if isinstance(payload, dict) else payload
            raise InvocationFailed(f"{response['FunctionError']}: {message}")
        return payload if isinstance(payload, dict) else {}


class LocalInvoker:
    """The handler in this process, configured by this process's environment (e.g. ``local_aws``)."""

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        from ses_to_connect import handler  # noqa: PLC0415 (reads the environment when first used)
        from ses_to_connect_tools.local_pipeline.lambda_runtime import LambdaContext  # noqa: PLC0415

        try:
            result: dict[str, Any] = handler.lambda_handler(event, LambdaContext())
        except Exception as exc:  # any function error is a failed invocation
            raise InvocationFailed(f"{type(exc).__name__}: {exc}") from exc
        return result
