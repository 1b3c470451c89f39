"""The handler over the in-memory ports: whatever the attachment port, it reports its URLs' lengths,
and a permanent failure goes to the failure port at once."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from ses_to_connect import handler
from ses_to_connect.event_builder import build_ses_event
from ses_to_connect_tools.local_pipeline.lambda_runtime import LambdaContext
from tests.support.fakes import FakeWorld

from .test_exactly_once import MESSAGE_ID, SETTINGS, SUPPORT, answer_lost, arrive, message


def run(world: FakeWorld, monkeypatch: pytest.MonkeyPatch, raw: bytes) -> dict[str, Any]:
    """One invocation of the Lambda handler in a container wired to ``world``."""
    monkeypatch.setattr(handler, "pipeline", cache(lambda: world.pipeline(SETTINGS)))
    monkeypatch.setattr(handler.metrics, "namespace", "SesToConnect")
    handler.metrics.clear_metrics()
    event = build_ses_event(raw, message_id=MESSAGE_ID, recipients=[SUPPORT])
    response: dict[str, Any] = handler.lambda_handler(event, LambdaContext())
    return response


def url_lengths(stdout: str) -> list[float]:
    blobs = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]
    return [value for blob in blobs for value in blob.get("AttachmentUrlLength", [])]


def test_the_url_lengths_come_from_the_attachment_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world = FakeWorld()
    arrive(world, message())

    response = run(world, monkeypatch, message())

    assert response["messages"][0]["outcome"] == "contact"
    sent = world.connect.contacts[0].request["Attachments"]
    assert url_lengths(capsys.readouterr().out) == [float(len(item["S3Url"])) for item in sent]


def test_a_permanent_failure_goes_to_the_failure_port_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    world = FakeWorld()
    record = arrive(world, message())
    answer_lost(world, record)
    assert world.ledger is not None
    del world.ledger.deliveries[MESSAGE_ID]  # nothing proves the earlier attempt any more

    response = run(world, monkeypatch, message())

    assert response["failed"]["code"] == "IdempotencyException"
    [queued] = world.failures.records
    assert queued["requestContext"]["condition"] == "PermanentFailure"
    assert queued["responsePayload"]["errorType"] == "IdempotencyConflict"
