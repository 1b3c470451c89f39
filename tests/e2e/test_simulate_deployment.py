"""``simulate`` runs the user's deployment (cdk.json), not defaults of its own."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from ses_to_connect_tools.local_pipeline import simulate
from ses_to_connect_tools.local_pipeline.ses import envelope_recipients
from tests.support.mail import wire

from . import new_message

INSTANCE = "12345678-1234-4123-8123-123456789abc"
SUPPORT = "support@acme.example"
BILLING = "billing@acme.example"
BILLING_FLOW = "22222222-2222-4222-8222-222222222222"
OTHER_FLOW = "99999999-2222-4222-8222-222222222222"
CONTEXT: dict[str, Any] = {
    "connectInstanceArn": f"arn:aws:connect:eu-west-2:111122223333:instance/{INSTANCE}",
    "connectAddresses": [{"address": SUPPORT}, {"address": BILLING, "contactFlowId": BILLING_FLOW}],
    "ruleSetName": "default-rule-set",
    "verdictPolicy": {"dmarc:FAIL": "quarantine"},
    "bodyPreference": "text",
    "staticAttributes": {"team": "tier1"},
}


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    """A CDK app's folder: its cdk.json, and its mail in mail/."""
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "python app.py", "context": CONTEXT}))
    mail = tmp_path / "mail"
    mail.mkdir()
    # Upper-case extension; its sidecar says DMARC failed, which this deployment quarantines.
    (mail / "1-SPOOFED.EML").write_bytes(wire(new_message("Your account", To=SUPPORT)))
    (mail / "1-SPOOFED.EML.json").write_text(json.dumps({"dmarc": "FAIL"}))
    both = new_message("Invoice question", To=f"Support <{SUPPORT}>", Cc=f"{BILLING}, friend@else.example")
    both.add_alternative("<p>Invoice <b>question</b></p>", subtype="html")
    (mail / "2-both.eml").write_bytes(wire(both))
    (mail / "3-bcc.eml").write_bytes(wire(new_message("Came by Bcc", To="someone@else.example")))
    return tmp_path


def test_simulate_applies_the_deployments_configuration(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(deployment)  # cdk.json is read from the current folder, as cdk synth reads it

    status = simulate.main(["mail", "--report", "report.json"])

    out = capsys.readouterr().out
    assert status == 0
    reports = {r["file"]: r for r in json.loads((deployment / "report.json").read_text())["messages"]}
    assert list(reports) == ["1-SPOOFED.EML", "2-both.eml", "3-bcc.eml"]
    spoofed = reports["1-SPOOFED.EML"]
    assert (spoofed["outcome"], spoofed["reason"]) == ("quarantine", "dmarc:FAIL")
    assert (spoofed["rule"], spoofed["rule_source"]) == ("dmarc:FAIL", "verdictPolicy")
    assert spoofed["subject"] == "Your account"
    assert spoofed["destinations"] == [
        {"address": SUPPORT, "flow_id": None, "contact_id": None, "attachments": [], "skipped": []}
    ]
    # Both Connect addresses the message was written to, each with its flow: two contacts, one each.
    both = reports["2-both.eml"]
    assert both["recipients"] == [SUPPORT, BILLING]
    assert [(d["address"], d["flow_id"]) for d in both["destinations"]] == [
        (SUPPORT, None),
        (BILLING, BILLING_FLOW),
    ]
    assert sorted(d["contact_id"] for d in both["destinations"]) == sorted(both["contact_ids"])
    assert both["sender"] == {"address": "customer@example.org", "name": "Customer"}
    # Sent by Bcc (no Connect address in To/Cc): the first Connect address only, one contact.
    bcc = reports["3-bcc.eml"]
    assert bcc["recipients"] == [SUPPORT]
    assert [d["address"] for d in bcc["destinations"]] == [SUPPORT]
    assert len(bcc["contact_ids"]) == 1
    # The table names each full contact id, the flow, and the rule with where it came from.
    for contact_id in [*both["contact_ids"], *bcc["contact_ids"]]:
        assert contact_id in out
    assert f"flow {BILLING_FLOW}" in out
    assert "1-SPOOFED.EML  quarantine: rule dmarc:FAIL (your verdictPolicy)" in out
    assert "3 messages: 2 contact, 1 quarantine" in out


def test_the_requests_carry_the_configured_instance_body_preference_attributes_and_flow(
    deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(deployment)
    other = "sales@acme.example"
    args = simulate.pipeline_parser("simulate", "").parse_args(
        ["mail/2-both.eml", "--connect-address", f"{other}={OTHER_FLOW}", "--recipient", other]
    )

    result = simulate.run(args)

    [contact] = result.contacts.values()
    assert contact.params["InstanceId"] == INSTANCE
    assert contact.params["DestinationEmailAddress"] == other
    assert contact.params["ContactFlowId"] == OTHER_FLOW  # ADDR=FLOW_ID, as convert takes it
    assert contact.params["EmailMessage"]["RawMessage"]["ContentType"] == "text/plain"  # bodyPreference
    assert contact.params["Attributes"]["team"] == "tier1"  # staticAttributes


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["mail", "--connect-address", "not an address"], "'not an address' is not an email address"),
        (["mail", "--recipient", "nobody"], "'nobody' is not an email address"),
        (["missing.eml"], "no such file or folder: missing.eml"),
        (["mail", "-c", "verdictPolicy"], "-c expects KEY=VALUE"),
        (["mail", "--config", "nope.json"], "--config nope.json: no such file"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    deployment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    monkeypatch.chdir(deployment)

    try:
        status = simulate.main(argv)
    except SystemExit as exit_:  # argparse's own errors
        status = int(exit_.code or 0)

    err = capsys.readouterr().err
    assert status == 2
    assert len(err.splitlines()) == 1, err
    assert expected in err
    assert "Traceback" not in err


def test_a_message_that_failed_makes_the_exit_status_non_zero(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(deployment)
    with socket.socket() as closed:  # a port nothing listens on: every StartEmailContact fails
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]

    status = simulate.main(
        [
            "mail/3-bcc.eml",
            "--connect-endpoint",
            f"http://127.0.0.1:{port}",
            # The configuration's limits apply: one attempt per invocation, no Lambda retry.
            *("-c", "connectMaxAttempts=1", "-c", "asyncRetryAttempts=0"),
        ]
    )

    out = capsys.readouterr().out
    assert status == 1
    assert "3-bcc.eml  failed:" in out
    assert "1 messages: 1 failed" in out


def test_envelope_recipients_are_the_messages_own_connect_addresses() -> None:
    configured = [SUPPORT, BILLING]
    cc_both = wire(new_message("x", To=f"SUPPORT@acme.example, {SUPPORT}", Cc=f"B <{BILLING}>"))
    assert envelope_recipients(cc_both, configured) == ["SUPPORT@acme.example", BILLING]
    assert envelope_recipients(wire(new_message("x", To=BILLING)), configured) == [BILLING]
    assert envelope_recipients(wire(new_message("x", To="a@else.example")), configured) == [SUPPORT]
