"""Verdict policy and loop guards: which rules a message matches and what each decides."""

from __future__ import annotations

import pytest

from ses_to_connect.policy_rules import PolicyRule, Undeliverable
from ses_to_connect.settings import DEFAULT_POLICY, Action
from tests.support.constants import FROM as CUSTOMER_FROM
from tests.support.constants import SUPPORT
from tests.support.mail import handwritten
from tests.unit.builders import only_request, run, settings

FROM = ("From", CUSTOMER_FROM)


def test_the_policy_has_an_action_for_exactly_the_rules_the_function_matches() -> None:
    # The cdk.json "policy" key and the POLICY variable are read against DEFAULT_POLICY: a rule
    # missing there could never be configured, one only there could never match.
    assert set(DEFAULT_POLICY) == {rule.value for rule in PolicyRule}


def test_no_undeliverable_reason_is_a_policy_rule() -> None:
    # A quarantine reason names one thing: an operator's policy override never shadows it.
    assert not {reason.value for reason in Undeliverable} & {rule.value for rule in PolicyRule}


@pytest.mark.parametrize(
    ("verdicts", "dmarc_policy", "reason"),
    [
        ({"virus": "FAIL"}, None, "virus:FAIL"),
        ({"spam": "FAIL"}, None, "spam:FAIL"),
        ({"dmarc": "FAIL"}, "reject", "dmarc:FAIL_REJECT"),
        ({"virus": "FAIL", "spam": "FAIL"}, None, "virus:FAIL"),  # most serious first
    ],
)
def test_default_quarantines(verdicts: dict[str, str], dmarc_policy: str | None, reason: str) -> None:
    conversion = run(handwritten(), verdicts=verdicts, dmarc_policy=dmarc_policy)
    assert (conversion.outcome.value, conversion.reason, conversion.requests) == ("quarantine", reason, [])


@pytest.mark.parametrize(
    ("verdicts", "dmarc_policy", "flags"),
    [
        ({"spf": "FAIL"}, None, "spf:FAIL"),
        ({"dkim": "FAIL"}, None, "dkim:FAIL"),
        ({"dmarc": "FAIL"}, "quarantine", "dmarc:FAIL"),
        ({"dmarc": "FAIL"}, "none", "dmarc:FAIL"),
        ({"spam": "GRAY", "virus": "PROCESSING_FAILED"}, None, "virus:PROCESSING_FAILED,spam:GRAY"),
        ({"spf": "FAIL", "dkim": "FAIL"}, None, "spf:FAIL,dkim:FAIL"),
    ],
)
def test_default_deliveries_are_flagged(
    verdicts: dict[str, str], dmarc_policy: str | None, flags: str
) -> None:
    request = only_request(run(handwritten(), verdicts=verdicts, dmarc_policy=dmarc_policy))
    assert request["Attributes"]["sesPolicyFlags"] == flags


def test_clean_mail_has_no_flags() -> None:
    assert "sesPolicyFlags" not in only_request(run(handwritten()))["Attributes"]


def test_policy_is_configurable_per_rule() -> None:
    strict = settings(policy={**DEFAULT_POLICY, "spf:FAIL": Action.QUARANTINE})
    assert run(handwritten(), config=strict, verdicts={"spf": "FAIL"}).reason == "spf:FAIL"
    lenient = settings(policy={**DEFAULT_POLICY, "spam:FAIL": Action.DELIVER})
    request = only_request(run(handwritten(), config=lenient, verdicts={"spam": "FAIL"}))
    assert request["Attributes"]["sesPolicyFlags"] == "spam:FAIL"
    assert request["EmailMessage"]["RawMessage"]["Headers"]["X_SES_SPAM_VERDICT"] == "FAIL"


@pytest.mark.parametrize(
    ("headers", "source", "reason"),
    [
        ([FROM], "", "guard:bounce"),
        ([FROM], "<>", "guard:bounce"),
        (
            [("From", "Mail Delivery System <MAILER-DAEMON@mx.example.net>")],
            "x@mx.example.net",
            "guard:bounce",
        ),
        ([FROM], "mailer-daemon@mx.example.net", "guard:bounce"),
        ([FROM, ("Auto-Submitted", "auto-replied")], "customer@example.org", "guard:auto_reply"),
        ([FROM, ("Precedence", "auto_reply")], "customer@example.org", "guard:auto_reply"),
        ([FROM, ("X-Autoreply", "yes")], "customer@example.org", "guard:auto_reply"),
        ([("From", SUPPORT.upper())], "someone@example.org", "guard:from_connect_address"),
        ([FROM], SUPPORT, "guard:from_connect_address"),
    ],
)
def test_loop_guards_quarantine_by_default(headers: list[tuple[str, str]], source: str, reason: str) -> None:
    conversion = run(handwritten(headers), source=source)
    assert (conversion.outcome.value, conversion.reason) == ("quarantine", reason)


def test_delivery_report_content_type_is_a_bounce() -> None:
    raw = handwritten([FROM], content_type="multipart/report; report-type=delivery-status; boundary=b")
    assert run(raw).reason == "guard:bounce"


def test_auto_submitted_no_is_human_mail() -> None:
    assert run(handwritten([FROM, ("Auto-Submitted", "no")])).outcome.value == "contact"


def test_guards_can_deliver_instead() -> None:
    config = settings(policy={**DEFAULT_POLICY, "guard:auto_reply": Action.DELIVER})
    request = only_request(run(handwritten([FROM, ("Auto-Submitted", "auto-replied")]), config=config))
    assert request["Attributes"]["sesPolicyFlags"] == "guard:auto_reply"
