"""Every message of the shared public corpus through the conversion and through the handler.

No unhandled exception; every message the contact or the quarantine (with its reason) listed
here; every request accepted by the Connect emulator's rules (Connect's documented limits and
botocore's model) and botocore's client validation; the handler agreeing with the conversion.
Run with ``-s`` to see the outcome counts printed by the summary test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from ses_to_connect.convert import convert_offline
from ses_to_connect.event_builder import build_ses_event, message_id_for
from ses_to_connect.model import Conversion, DefectKind, Outcome
from ses_to_connect.ses_event import records
from ses_to_connect.settings import Settings
from ses_to_connect_tools.local_pipeline.connect_emulator import check_start_email_contact
from tests.support.constants import SUPPORT
from tests.support.corpus import CORPUS, corpus_files, skip_module_without_corpus

from . import BUCKET, Bridge, bridge_env, emf_metrics, running_bridge

skip_module_without_corpus()
MESSAGES = [path.name for path in corpus_files()]
ENV = bridge_env()
SETTINGS = Settings.from_env({name: value for name, value in ENV.items() if value is not None})
START_EMAIL_CONTACT = (
    botocore.session.get_session()
    .get_service_model("connect")
    .operation_model("StartEmailContact")
    .input_shape
)


# Every message of the corpus that is not a contact, with its reason: bounces, delivery and read
# reports (a null Return-Path or a report content type), and senders no reply can reach.
QUARANTINED = {
    "flanker__bounce--delayed-broken.eml": "guard:bounce",  # a bare message/delivery-status
    "flanker__bounce--gmail-invalid-address.eml": "guard:bounce",
    "flanker__bounce--mailbox-full.eml": "guard:bounce",
    "flanker__bounce--office365.eml": "guard:bounce",
    "flanker__complaints--aol.eml": "guard:bounce",
    "flanker__complaints--yahoo.eml": "guard:bounce",
    "flanker__disposition-notification.eml": "guard:bounce",
    "mikel-mail__mime_emails--raw_email_with_mimepart_without_content_type.eml": "guard:bounce",
    "mikel-mail__multipart_report_emails--multipart_report_multiple_status.eml": "guard:bounce",
    "mimekit__messages--bounce.eml": "guard:bounce",
    "mimekit__messages--delivery-status-multiple-blank-lines.eml": "guard:bounce",
    "mimekit__messages--delivery-status-no-blank-line.eml": "guard:bounce",
    "mimekit__messages--delivery-status.eml": "guard:bounce",
    "mimekit__messages--disposition-notification.eml": "guard:bounce",
    "nodemailer-mailparser__delivery-status.eml": "guard:bounce",
    "php-mime-mail-parser__failure.eml": "guard:bounce",
    "php-mime-mail-parser__issue274.eml": "no_usable_sender",  # From: guest@localhost
    "stalwart-mail-parser__rfc--001.eml": "no_usable_sender",  # From: Whomever
}


def test_the_corpus_is_not_empty() -> None:
    assert len(MESSAGES) == 155
    assert set(QUARANTINED) <= set(MESSAGES)


@cache
def _event(name: str) -> dict[str, Any]:
    raw = (CORPUS / name).read_bytes()
    return build_ses_event(raw, message_id=message_id_for(raw), recipients=[SUPPORT])


@cache
def _conversion(name: str) -> Conversion:
    return convert_offline((CORPUS / name).read_bytes(), records(_event(name))[0], SETTINGS)


@pytest.mark.parametrize("name", MESSAGES)
def test_conversion(name: str) -> None:
    conversion = _conversion(name)

    if name in QUARANTINED:
        assert (conversion.outcome, conversion.reason) == (Outcome.QUARANTINE, QUARANTINED[name])
        assert conversion.requests == []
    else:
        assert (conversion.outcome, conversion.reason) == (Outcome.CONTACT, None), conversion.defects
        assert len(conversion.requests) == 1  # one Connect address among the recipients
    for request in conversion.requests:
        check_start_email_contact(request)  # raises what Connect would refuse it with
        assert ParamValidator().validate(request, START_EMAIL_CONTACT).generate_report() == ""
        assert request["DestinationEmailAddress"] == SUPPORT


@pytest.fixture(scope="module")
def corpus_bridge() -> Iterator[Bridge]:
    """One bucket and one pipeline for the whole module; a new stubber per test."""
    with running_bridge(ENV) as bridge:
        yield bridge


@pytest.mark.parametrize("name", MESSAGES)
def test_through_the_handler(name: str, corpus_bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    bridge = corpus_bridge
    stubber = bridge.new_stubber()
    conversion = _conversion(name)
    event = _event(name)
    message_id = event["Records"][0]["ses"]["mail"]["messageId"]
    raw = (CORPUS / name).read_bytes()
    bridge.store(raw, message_id)
    contact_ids = [f"contact-{i}" for i, _ in enumerate(conversion.requests)]
    for contact_id in contact_ids:
        stubber.add_response("start_email_contact", {"ContactId": contact_id})

    result = bridge.invoke(event)

    stubber.assert_no_pending_responses()
    (message,) = result["messages"]
    assert result == {"disposition": "CONTINUE", "messages": [message]}
    assert {key: message[key] for key in ("messageId", "outcome", "reason", "contactIds", "duplicate")} == {
        "messageId": message_id,
        "outcome": conversion.outcome.value,
        "reason": conversion.reason,
        "contactIds": contact_ids,
        "duplicate": False,
    }
    sent_attachments = len(conversion.requests[0].get("Attachments", [])) if conversion.requests else 0
    assert message["attachmentsSent"] == sent_attachments
    # The handler sends what the conversion built, except that its attachment URLs are signed.
    assert [_unsigned(bridge, request) for request in bridge.sent] == conversion.requests
    metrics = emf_metrics(capsys.readouterr().out)
    if conversion.outcome is Outcome.QUARANTINE:
        head = bridge.s3.head_object(Bucket=BUCKET, Key=f"quarantine/{message_id}")
        assert head["Metadata"] == {"quarantine-reason": conversion.reason, "ses-message-id": message_id}
        assert metrics["Quarantined"] == [1.0]
    else:
        assert metrics["ContactsCreated"] == [float(len(contact_ids))]
    assert ("MessagesWithDefects" in metrics) == bool(conversion.defects)


def _unsigned(bridge: Bridge, request: dict[str, Any]) -> dict[str, Any]:
    """``request`` with each attachment URL checked (signed, object stored) and then unsigned."""
    attachments = []
    for attachment in request.get("Attachments", []):
        url, _, query = attachment["S3Url"].partition("?")
        assert "X-Amz-Signature=" in query
        assert "X-Amz-Expires=3600" in query
        key = url.removeprefix(f"https://{BUCKET}.s3.amazonaws.com/")
        bridge.s3.head_object(Bucket=BUCKET, Key=key)
        attachments.append({**attachment, "S3Url": url})
    return {**request, "Attachments": attachments} if attachments else request


def test_outcome_counts() -> None:
    """Prints the counts the closing note reports (run with ``-s``)."""
    conversions = {name: _conversion(name) for name in MESSAGES}
    contacts = [c for c in conversions.values() if c.outcome is Outcome.CONTACT]
    quarantines = Counter(str(c.reason) for c in conversions.values() if c.outcome is Outcome.QUARANTINE)
    # Messages showing each defect kind (a kind counts once per message).
    defects = Counter(kind for c in conversions.values() for kind in {d.split(":", 1)[0] for d in c.defects})

    print(f"\ncorpus: {len(conversions)} messages from {CORPUS}")
    print(f"contacts: {len(contacts)} messages, {sum(len(c.requests) for c in contacts)} requests")
    print(f"quarantines: {sum(quarantines.values())}")
    for reason, count in sorted(quarantines.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {reason}: {count}")
    print(f"messages with defects: {sum(1 for c in conversions.values() if c.defects)}; by kind:")
    for kind, count in sorted(defects.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {kind}: {count}")

    assert (len(contacts), sum(len(c.requests) for c in contacts)) == (137, 137)
    assert quarantines == Counter(QUARANTINED.values()) == {"guard:bounce": 16, "no_usable_sender": 2}
    assert all(kind and kind == kind.strip() for kind in defects)


def test_every_defect_kind_the_corpus_shows_is_in_the_closed_set() -> None:
    kinds = {defect.split(":", 1)[0] for name in MESSAGES for defect in _conversion(name).defects}

    assert kinds
    assert kinds <= set(DefectKind)
