"""What the Lambda service does around the handler for an asynchronous (SES ``Event``) invocation.

Each attempt gets a fresh context; a function error is retried up to ``max_retry_attempts``
more times (Lambda waits about 1 and then 2 minutes; the waits are injectable and default to
none here), and when the attempts are exhausted the on-failure destination record is sent to
the SQS queue. That record is built here from AWS's documentation, not with the function's own
``failure_record``, so that tests can compare the two.
"""

from __future__ import annotations

import json
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
RETRY_DELAYS_SECONDS = (60.0, 120.0)


@dataclass
class LambdaContext:
    """The attributes Powertools and the handler read from Lambda's context object."""

    function_name: str = "ses-to-connect"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:111122223333:function:ses-to-connect"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 60.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/ses-to-connect"
    log_stream_name: str = "local"
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


class ReportedError(Exception):
    """A failure that reaches Lambda with an ``errorType`` of its own, not a Python class name:
    a sandbox killed at a limit, or an exception from a handler run in another process."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []


@dataclass
class Invocation:
    attempts: int
    result: dict[str, Any] | None
    error: BaseException | None = None
    destination_record: dict[str, Any] | None = None


class AsyncLambda:
    def __init__(
        self,
        handler: Handler,
        *,
        sqs_client: Any,
        failure_queue_url: str,
        max_retry_attempts: int = 2,
        sleep: Callable[[float], None] = lambda _seconds: None,
    ) -> None:
        self._handler = handler
        self._sqs = sqs_client
        self._queue_url = failure_queue_url
        self._max_retry_attempts = max_retry_attempts
        self._sleep = sleep

    def invoke(self, event: dict[str, Any]) -> Invocation:
        error: BaseException | None = None
        attempts = 1 + self._max_retry_attempts
        for attempt in range(attempts):
            if attempt:
                self._sleep(RETRY_DELAYS_SECONDS[min(attempt, len(RETRY_DELAYS_SECONDS)) - 1])
            context = LambdaContext()
            try:
                return Invocation(attempt + 1, self._handler(event, context))
            except Exception as exc:  # noqa: BLE001 (Lambda records any function error)
                error = exc
        assert error is not None  # noqa: S101 (the loop ran at least once and failed)
        record = invocation_record(event, error, attempts=attempts, context=context)
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(record))
        return Invocation(attempts, None, error, record)


def invocation_record(
    event: dict[str, Any], error: BaseException, *, attempts: int, context: LambdaContext
) -> dict[str, Any]:
    """The record Lambda sends to an on-failure destination once the retries are exhausted.

    Its format is the one the Lambda developer guide documents ("Capturing records of Lambda
    asynchronous invocations", the invocation record example); ``responsePayload`` is the error
    object the Python runtime reports for an unhandled exception (awslambdaric's ``make_error``:
    message, type, request id and the formatted traceback frames).
    """
    if isinstance(error, ReportedError):
        error_type, stack_trace = error.error_type, error.stack_trace
    else:
        error_type = type(error).__name__
        stack_trace = traceback.format_list(traceback.extract_tb(error.__traceback__))
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": context.aws_request_id,
            "functionArn": f"{context.invoked_function_arn}:{context.function_version}",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": context.function_version,
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": str(error),
            "errorType": error_type,
            "requestId": context.aws_request_id,
            "stackTrace": stack_trace,
        },
    }
