"""Replay one stored or quarantined message, optionally delivering what the policy quarantined.

The SES record comes from the quarantine sidecar (``quarantine/<id>.json``) when there is one,
otherwise it is rebuilt from the stored message with the envelope recipients the operator
names. The replay marker tells the handler which object to read, whether to override the
policy, and the reason, which is recorded in the contact's ``sesReplayReason`` attribute.
A replay never duplicates: the ClientToken is the same as the first attempt's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from botocore.exceptions import ClientError

from ses_to_connect.event_builder import build_ses_event
from ses_to_connect.ses_event import REPLAY_KEY
from ses_to_connect_tools.operations.invoke import Invoker

HEADER_BYTES = 256 * 1024  # enough of the message to rebuild the event's header fields


class ReplayError(Exception):
    """The replay cannot be started (no such object, no recipients known)."""


def replay_event(
    s3: Any, bucket: str, key: str, *, reason: str, deliver: bool, recipients: Sequence[str] = ()
) -> dict[str, Any]:
    if not reason.strip():
        raise ReplayError("a replay needs a reason; it is recorded on the contact")
    message_id = PurePosixPath(key).name
    record = _sidecar_record(s3, bucket, key)
    if record is None:
        if not recipients:
            raise ReplayError(f"s3://{bucket}/{key} has no quarantine record; name the --recipient addresses")
        try:
            head = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEADER_BYTES - 1}")["Body"].read()
        except ClientError as exc:
            raise ReplayError(f"cannot read s3://{bucket}/{key}: {exc}") from exc
        record = build_ses_event(head, message_id=message_id, recipients=recipients)["Records"][0]
    elif recipients:
        record["ses"]["receipt"]["recipients"] = list(recipients)
    record[REPLAY_KEY] = {"sourceKey": key, "deliver": deliver, "reason": reason}
    return {"Records": [record]}


def replay(
    s3: Any,
    bucket: str,
    key: str,
    invoker: Invoker,
    *,
    reason: str,
    deliver: bool,
    recipients: Sequence[str] = (),
) -> dict[str, Any]:
    return invoker.invoke(
        replay_event(s3, bucket, key, reason=reason, deliver=deliver, recipients=recipients)
    )


def _sidecar_record(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{key}.json")["Body"].read()
    except ClientError:
        return None
    record = json.loads(body).get("record")
    if not isinstance(record, dict):
        return None
    record.pop(REPLAY_KEY, None)
    return record
