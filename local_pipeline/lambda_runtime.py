"""What the Lambda service does around the handler for an asynchronous (SES ``Event``) invocation.

Each attempt gets a fresh context; a function error is retried up to ``max_retry_attempts``
more times (Lambda waits about 1 and then 2 minutes; the waits are injectable and default to
none here), and when the attempts are exhausted an on-failure destination record, shaped as
Lambda writes it (the original event under ``requestPayload``), is sent to the SQS queue.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ses_to_connect.adapters.failures import failure_record

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
        record = failure_record(
            event,
            error,
            condition="RetriesExhausted",
            attempts=attempts,
            request_id=context.aws_request_id,
            function_arn=f"{context.invoked_function_arn}:$LATEST",
        )
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(record))
        return Invocation(attempts, None, error, record)
