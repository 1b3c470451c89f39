"""The failure queue: the stack's on-failure destination, written to directly for permanent errors.

A permanent error (a wrong flow id, a deleted object, an event that is not SES's) will fail
the same way on every retry, so the handler sends the event straight to the queue in the
shape Lambda itself uses for on-failure destination records; ``ses-to-connect
redrive`` reads both kinds the same way.
"""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime
from typing import Any

from ses_to_connect.adapters.aws_errors import translated


def failure_record(
    event: Any, error: BaseException, *, condition: str, attempts: int, request_id: str, function_arn: str
) -> dict[str, Any]:
    """A record shaped as Lambda's on-failure destination record (``requestPayload`` = the event;
    ``responsePayload`` = the Python runtime's error object)."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
        },
    }


class FailureQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, record: dict[str, Any]) -> None:
        with translated("cannot write to the failure queue"):
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(record))
