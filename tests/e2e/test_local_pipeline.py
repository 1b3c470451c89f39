"""The local pipeline end to end (SES storage, Lambda semantics, Connect over HTTP)."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from email.message import Message
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest

from ses_to_connect import handler
from ses_to_connect.adapters.connect import ContactStarter
from ses_to_connect.event_builder import message_id_for
from ses_to_connect_tools.local_pipeline.aws import BUCKET, LocalAws
from ses_to_connect_tools.local_pipeline.connect_emulator import Attempt, ConnectEmulator
from ses_to_connect_tools.local_pipeline.lambda_runtime import AsyncLambda
from ses_to_connect_tools.local_pipeline.ses import Receipt
from ses_to_connect_tools.local_pipeline.simulate import eml_files, simulate, table
from tests.support.constants import SUPPORT
from tests.support.mail import wire

from . import (
    REPO_ROOT,
    SAMPLES,
    assert_sent,
    attach,
    contacts_of,
    container,
    decoded,
    failure_records_for,
    invoke,
    new_message,
    next_second,
    only_contact,
    s3_body,
    ses_message_id,
    store,
)

# What each sample must become: outcome and quarantine reason.
EXPECTED_SAMPLES = {
    "01-plain.eml": ("contact", None),
    "02-html-inline-image.eml": ("contact", None),
    "03-attachments.eml": ("contact", None),
    "04-thread-1.eml": ("contact", None),
    "05-thread-2.eml": ("contact", None),
    "06-thread-3.eml": ("contact", None),
    "07-non-utf8.eml": ("contact", None),
    "08-spam.eml": ("quarantine", "spam:FAIL"),
    "09-virus.eml": ("quarantine", "virus:FAIL"),
    "10-bounce.eml": ("quarantine", "guard:bounce"),
    "11-auto-reply.eml": ("quarantine", "guard:auto_reply"),
}


def _sample_id(name: str) -> str:
    """The SES message id the simulation gives a sample (stable: derived from name and bytes)."""
    return message_id_for(name.encode() + b"\0" + (SAMPLES / name).read_bytes())


def _attachment_parts(path: Path) -> dict[str, bytes]:
    message = email.message_from_bytes(path.read_bytes(), policy=compat32)
    return {
        str(part.get_filename()): decoded(part) for part in message.walk() if part.get_filename() is not None
    }


def test_samples_end_exactly_as_expected(aws: LocalAws, emulator: ConnectEmulator) -> None:
    reports = simulate(eml_files([SAMPLES]), aws)

    assert {r.file: (r.outcome, r.reason) for r in reports} == EXPECTED_SAMPLES
    assert [r.file for r in reports] == sorted(EXPECTED_SAMPLES)
    by_file = {r.file: r for r in reports}
    for report in reports:
        assert report.ses_message_id == _sample_id(report.file)
        assert report.attempts == 1
    contacts = emulator.contacts()
    assert len(contacts) == 7
    # Each contacted sample has exactly one contact in Connect, the one the report names.
    for name, (outcome, _) in EXPECTED_SAMPLES.items():
        report = by_file[name]
        found = contacts_of(emulator, report.ses_message_id)
        if outcome == "contact":
            assert [c.contact_id for c in found] == report.contact_ids
        else:
            assert found == []
            assert report.contact_ids == []
            head = aws.client("s3").head_object(Bucket=BUCKET, Key=f"quarantine/{report.ses_message_id}")
            assert head["Metadata"] == {
                "quarantine-reason": report.reason,
                "ses-message-id": report.ses_message_id,
            }

    # The reply thread: 05 and 06 are linked to 04's contact (the root), 04 to nothing.
    root = by_file["04-thread-1.eml"].contact_ids[0]
    assert by_file["04-thread-1.eml"].related_contact_id is None
    for name in ("05-thread-2.eml", "06-thread-3.eml"):
        assert by_file[name].related_contact_id == root
        assert only_contact(emulator, by_file[name].ses_message_id).params["RelatedContactId"] == root
    assert "RelatedContactId" not in only_contact(emulator, by_file["04-thread-1.eml"].ses_message_id).params

    # 03: three attachments sent, byte for byte; setup.exe skipped and listed with its reason.
    attachments = by_file["03-attachments.eml"]
    assert (attachments.attachments_sent, attachments.attachments_skipped) == (3, {"type_not_allowed": 1})
    contact = only_contact(emulator, attachments.ses_message_id)
    parts = _attachment_parts(SAMPLES / "03-attachments.eml")
    names = ["invoice-2024-001.pdf", "items.csv", "photo.png"]
    assert_sent(aws, contact, attachments.ses_message_id, [(n, parts[n]) for n in names])
    assert contact.params["Attributes"]["sesAttachmentsSkipped"] == "setup.exe (type_not_allowed)"
    assert contact.params["Attributes"]["sesAttachmentsSent"] == "3"

    # 02: the inline image its HTML shows by cid: is sent.
    inline = by_file["02-html-inline-image.eml"]
    png = _attachment_parts(SAMPLES / "02-html-inline-image.eml")["screenshot.png"]
    assert_sent(
        aws, only_contact(emulator, inline.ses_message_id), inline.ses_message_id, [("screenshot.png", png)]
    )


def test_simulate_command_writes_a_report(tmp_path: Path) -> None:
    report_file = tmp_path / "out" / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "lambda_src"), str(REPO_ROOT)])

    done = subprocess.run(
        [sys.executable, "-m", "local_pipeline", "simulate", "samples", "--report", str(report_file)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "11 messages: 7 contact, 4 quarantine" in done.stdout
    records = json.loads(report_file.read_text())["messages"]
    assert [r["file"] for r in records] == sorted(EXPECTED_SAMPLES)
    for record in records:
        outcome, reason = EXPECTED_SAMPLES[record["file"]]
        assert {"file", "ses_message_id", "outcome", "contact_ids", "reason"} <= set(record)
        assert record["ses_message_id"] == _sample_id(record["file"])
        assert (record["outcome"], record["reason"]) == (outcome, reason)
        assert len(record["contact_ids"]) == (1 if outcome == "contact" else 0)
    contact_ids = [cid for record in records for cid in record["contact_ids"]]
    assert len(set(contact_ids)) == 7


def _permanent_failure_message() -> Message:
    message = new_message("Connect will refuse this one")
    attach(message, b"%PDF-1.4 refused\n", "application/pdf", "refused.pdf")
    return message


def test_permanent_connect_failure_goes_to_the_failure_queue_at_once(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    event = store(aws, wire(_permanent_failure_message()))
    message_id = ses_message_id(event)
    emulator.inject_errors("ResourceNotFoundException", count=10)

    invocation = _runtime(aws).invoke(event)

    # Retrying cannot help: the handler queues the event itself and Lambda does not retry.
    assert invocation.attempts == 1
    assert invocation.result is not None
    assert invocation.result["failed"]["code"] == "ResourceNotFoundException"
    assert emulator.attempts() == [Attempt(404, "ResourceNotFoundException")]
    assert emulator.contacts() == []
    [record] = failure_records_for(aws, message_id)
    assert record["requestPayload"] == event
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["condition"] == "PermanentFailure"
    assert record["responsePayload"]["errorType"] == "DeliveryError"
    assert "ResourceNotFoundException" in record["responsePayload"]["errorMessage"]


def test_retryable_connect_failure_reaches_the_failure_queue_after_three_attempts(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    container(monkeypatch, connect_max_attempts=1)  # one HTTP call per Lambda attempt, no backoff
    event = store(aws, wire(_permanent_failure_message()))
    message_id = ses_message_id(event)
    emulator.inject_errors("InternalServiceException", count=10)

    invocation = _runtime(aws).invoke(event)

    assert invocation.result is None
    assert invocation.attempts == 3
    assert emulator.attempts() == [Attempt(500, "InternalServiceException")] * 3
    assert emulator.contacts() == []
    [record] = failure_records_for(aws, message_id)
    assert record["requestPayload"] == event
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responsePayload"]["errorType"] == "DeliveryError"


def test_a_request_botocore_refuses_to_send_goes_to_the_failure_queue_at_once(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    """``ParamValidationError`` is raised before any request is sent: no retry can pass it."""
    event = store(aws, wire(_permanent_failure_message()))
    message_id = ses_message_id(event)
    contacts = handler.pipeline().io.contacts
    assert isinstance(contacts, ContactStarter)
    hooks = contacts._client.meta.events

    def add_unknown_parameter(params: dict[str, Any], **_: Any) -> None:
        params["NotAParameter"] = "botocore validates the request before sending it"

    hooks.register("provide-client-params.connect.StartEmailContact", add_unknown_parameter)
    try:
        invocation = _runtime(aws).invoke(event)
    finally:
        hooks.unregister("provide-client-params.connect.StartEmailContact", add_unknown_parameter)

    assert invocation.attempts == 1
    assert invocation.result is not None
    assert invocation.result["failed"]["code"] == "ParamValidationError"
    assert emulator.attempts() == []
    [record] = failure_records_for(aws, message_id)
    assert record["requestContext"]["condition"] == "PermanentFailure"
    assert record["responsePayload"]["errorType"] == "DeliveryError"
    assert 'Unknown parameter in input: "NotAParameter"' in record["responsePayload"]["errorMessage"]


def test_simulate_reports_a_permanent_failure_as_failed(
    aws: LocalAws, emulator: ConnectEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "refused.eml"
    path.write_bytes(wire(_permanent_failure_message()))
    emulator.inject_errors("ResourceNotFoundException", count=10)

    [report] = simulate([path], aws)

    assert report.outcome == "failed"
    assert report.contact_ids == []
    assert report.reason is not None
    assert report.reason.startswith(
        "ResourceNotFoundException: StartEmailContact failed: ResourceNotFoundException"
    )
    [record] = failure_records_for(aws, report.ses_message_id)
    assert record["requestPayload"]["Records"][0]["ses"]["mail"]["messageId"] == report.ses_message_id
    assert emulator.contacts() == []


def _runtime(aws: LocalAws) -> AsyncLambda:
    return AsyncLambda(
        handler.lambda_handler, sqs_client=aws.client("sqs"), failure_queue_url=aws.failure_queue_url
    )


def test_stored_object_carries_the_ses_headers(aws: LocalAws) -> None:
    raw = wire(new_message("Where is my parcel?"))

    event = store(aws, raw, Receipt({"spam": "GRAY"}))

    message_id = ses_message_id(event)
    stored = s3_body(aws, f"inbound/{message_id}")
    assert stored.endswith(raw)
    headers = email.message_from_bytes(stored[: len(stored) - len(raw)] + b"\r\n", policy=compat32)
    assert headers["X-SES-Spam-Verdict"] == "GRAY"
    assert headers["X-SES-Virus-Verdict"] == "PASS"
    assert headers["Return-Path"] == "<customer@example.org>"
    assert headers["Received-SPF"].startswith("pass ")
    assert headers["Authentication-Results"] == (
        "amazonses.com; spf=pass smtp.mailfrom=customer@example.org; dkim=pass; dmarc=pass"
    )
    assert headers["X-SES-RECEIPT"]
    assert f"with SMTP id {message_id}" in str(headers["Received"])
    assert f"for {SUPPORT}" in str(headers["Received"])
    assert event["Records"][0]["ses"]["receipt"]["spamVerdict"] == {"status": "GRAY"}


def test_sidecar_verdicts_reach_the_event_and_the_contact(
    aws: LocalAws, emulator: ConnectEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "verdicts.eml"
    path.write_bytes(wire(new_message("Verdicts from the sidecar")))
    (tmp_path / "verdicts.eml.json").write_text(
        json.dumps({"spam": "gray", "dkim": "FAIL", "dmarc": "FAIL", "dmarcPolicy": "quarantine"})
    )

    event = store(aws, path.read_bytes(), Receipt.for_file(path), name=path.name)
    result = invoke(event)

    receipt = event["Records"][0]["ses"]["receipt"]
    assert {
        name: receipt[f"{name}Verdict"]["status"] for name in ("spam", "virus", "spf", "dkim", "dmarc")
    } == {
        "spam": "GRAY",
        "virus": "PASS",
        "spf": "PASS",
        "dkim": "FAIL",
        "dmarc": "FAIL",
    }
    assert receipt["dmarcPolicy"] == "quarantine"
    message_id = ses_message_id(event)
    stored = email.message_from_bytes(s3_body(aws, f"inbound/{message_id}"), policy=compat32)
    assert stored["X-SES-Spam-Verdict"] == "GRAY"
    assert result["outcome"] == "contact"
    contact = only_contact(emulator, message_id)
    attributes = contact.params["Attributes"]
    verdict_keys = ("sesSpamVerdict", "sesVirusVerdict", "sesSpfVerdict", "sesDkimVerdict", "sesDmarcVerdict")
    assert {key: attributes[key] for key in (*verdict_keys, "sesDmarcPolicy", "sesPolicyFlags")} == {
        "sesSpamVerdict": "GRAY",
        "sesVirusVerdict": "PASS",
        "sesSpfVerdict": "PASS",
        "sesDkimVerdict": "FAIL",
        "sesDmarcVerdict": "FAIL",
        "sesDmarcPolicy": "QUARANTINE",
        "sesPolicyFlags": "spam:GRAY,dmarc:FAIL,dkim:FAIL",
    }
    headers = contact.params["EmailMessage"]["RawMessage"]["Headers"]
    assert (headers["X_SES_SPAM_VERDICT"], headers["X_SES_VIRUS_VERDICT"]) == ("GRAY", "PASS")


@pytest.mark.parametrize(("verdict", "reason"), [("spam", "spam:FAIL"), ("virus", "virus:FAIL")])
def test_a_failed_verdict_from_the_sidecar_quarantines(
    aws: LocalAws, emulator: ConnectEmulator, tmp_path: Path, verdict: str, reason: str
) -> None:
    path = tmp_path / f"{verdict}.eml"
    path.write_bytes(wire(new_message(f"{verdict} verdict FAIL")))
    (tmp_path / f"{verdict}.eml.json").write_text(json.dumps({verdict: "FAIL"}))

    [report] = simulate([path], aws)

    assert (report.outcome, report.reason) == ("quarantine", reason)
    assert contacts_of(emulator, report.ses_message_id) == []
    stored = s3_body(aws, f"quarantine/{report.ses_message_id}")
    assert stored == s3_body(aws, f"inbound/{report.ses_message_id}")


@pytest.mark.parametrize("endpoint", ["emulator", "any other endpoint"])
def test_simulate_tells_an_unknown_id_apart_from_a_lost_message(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str
) -> None:
    """The answer is lost; Lambda's retry comes after the URLs expired: the contact exists, id unknown."""
    monkeypatch.setenv("CONNECT_MAX_ATTEMPTS", "1")
    path = tmp_path / "late-retry.eml"
    message = new_message("Answer lost, retried late")
    attach(message, b"%PDF-1.4 late\n", "application/pdf", "late.pdf")
    path.write_bytes(wire(message))
    emulator.lose_answers(1)

    def two_hours_later(_seconds: float) -> None:
        next_second()  # the URLs signed again differ (X-Amz-Date)
        handler.pipeline().clock = lambda: time.time() + 2 * 3600

    seen_as = aws if endpoint == "emulator" else replace(aws, emulator=None)
    [report] = simulate([path], seen_as, between_attempts=two_hours_later)

    assert (report.outcome, report.contact_ids, report.contacts_without_id, report.attempts) == (
        "id_unknown",
        [],
        1,
        2,
    )
    assert len(contacts_of(emulator, report.ses_message_id)) == 1
    assert (report.reason or "").startswith("unverified") == (endpoint != "emulator")
    assert table([report]).startswith("late-retry.eml  id_unknown")
    assert "id unknown" in table([report])
    assert table([report]).endswith("1 messages: 1 id_unknown")
