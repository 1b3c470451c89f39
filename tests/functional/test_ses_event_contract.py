"""The SES receipt-rule event as AWS documents it, against the project's own event builder.

``tests/support/data/ses_lambda_event.json`` follows the Lambda-action event record of the Amazon
SES Developer Guide ("Sample incoming email event", receiving-email-action-lambda-event), with its
keys, nesting and value types as published and its long signature headers shortened. The local
pipeline, the offline command and most tests feed the handler events from
``ses_to_connect.event_builder.build_ses_event``: if that builder drifted from what SES sends, they
would all keep passing on a shape no deployment receives.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ses_to_connect.event_builder import build_ses_event
from tests.support.constants import REPO_ROOT, SUPPORT
from tests.support.mail import handwritten

from . import Bridge

SAMPLE_PATH = REPO_ROOT / "tests" / "support" / "data" / "ses_lambda_event.json"
SAMPLE: dict[str, Any] = json.loads(SAMPLE_PATH.read_text())
SAMPLE_MAIL = SAMPLE["Records"][0]["ses"]["mail"]
SAMPLE_MESSAGE_ID = SAMPLE_MAIL["messageId"]
# The message the sample describes, with the headers its commonHeaders come from.
SAMPLE_RAW = handwritten(
    [
        "Return-Path: <prvs=144d0cba7=sender@example.com>",
        'From: "Doe, John" <sender@example.com>',
        'To: "recipient@example.com" <recipient@example.com>',
        "Subject: This is a test",
        "Date: Mon, 5 Aug 2019 21:29:57 +0000",
        "Message-ID: <F8098FDD-49A3-442D-9935-F6112example@example.com>",
        "MIME-Version: 1.0",
    ],
    "Hello, this is a test.\r\n",
    content_type='text/plain; charset="us-ascii"',
    cte=None,
)


def shape(value: object) -> object:
    """Keys and value types, without the values: lists give the distinct shapes of their items."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        shapes = {json.dumps(shape(item), sort_keys=True) for item in value}
        return ["list", *sorted(shapes)]
    return type(value).__name__


def test_the_project_builds_the_event_shape_aws_documents() -> None:
    built = build_ses_event(
        SAMPLE_RAW,
        message_id=SAMPLE_MESSAGE_ID,
        recipients=["recipient@example.com"],
        verdicts={"dmarc": "GRAY"},
    )

    assert shape(built) == shape(SAMPLE)
    assert built["Records"][0]["ses"]["mail"]["commonHeaders"] == SAMPLE_MAIL["commonHeaders"]
    assert built["Records"][0]["ses"]["receipt"]["action"]["type"] == "Lambda"


def test_the_handler_delivers_the_aws_sample_event(bridge: Bridge) -> None:
    """The sample as published, with its recipient made one of the test's Connect addresses."""
    event = copy.deepcopy(SAMPLE)
    event["Records"][0]["ses"]["receipt"]["recipients"] = [SUPPORT]
    bridge.store(SAMPLE_RAW, SAMPLE_MESSAGE_ID)
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})

    result = bridge.invoke(event)

    bridge.stubber.assert_no_pending_responses()
    [message] = result["messages"]
    assert (message["outcome"], message["contactIds"]) == ("contact", ["contact-1"])
    [request] = bridge.sent
    assert request["FromEmailAddress"] == {"EmailAddress": "sender@example.com", "DisplayName": "Doe, John"}
    assert request["Attributes"]["sesMessageId"] == SAMPLE_MESSAGE_ID
    assert request["Attributes"]["sesEnvelopeSender"] == "prvs=144d0cba7=sender@example.com"
    assert request["Attributes"]["sesDmarcVerdict"] == "GRAY"
