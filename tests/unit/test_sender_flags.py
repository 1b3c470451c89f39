"""Suspicious senders are flagged, not hidden: the contact is created as for any sender,
with ``sesSenderWarning``, a ``suspicious_sender:<flag>`` defect and the rule ``sender:SUSPICIOUS``."""

from __future__ import annotations

import pytest

from ses_to_connect.model import Address
from ses_to_connect.sender_flags import SenderFlag, sender_flags
from ses_to_connect.settings import DEFAULT_POLICY, Action
from tests.support.constants import SUPPORT
from tests.support.mail import handwritten
from tests.unit.builders import only_request, run, settings


def from_header(value: str, *more: tuple[str, str]) -> bytes:
    return handwritten([("From", value), ("To", SUPPORT), ("Subject", "Payment"), *more])


def test_a_display_name_holding_another_address_is_flagged_and_delivered() -> None:
    conversion = run(from_header('"ceo@company.example" <attacker@evil.example>'))
    request = only_request(conversion)
    assert request["FromEmailAddress"] == {
        "EmailAddress": "attacker@evil.example",
        "DisplayName": "ceo@company.example",
    }
    assert request["Attributes"]["sesSenderWarning"] == "address_in_display_name"
    assert request["Attributes"]["sesPolicyFlags"] == "sender:SUSPICIOUS"
    assert "suspicious_sender:address_in_display_name" in conversion.defects
    assert conversion.flags == ["sender:SUSPICIOUS"]


@pytest.mark.parametrize(
    "value",
    [
        '"CEO (ceo@company.example)" <attacker@evil.example>',
        '"Payments mailto:billing@company.example" <attacker@evil.example>',
        '"Anne via billing@company.example." <anne@lists.example>',
    ],
)
def test_an_address_among_other_words_of_the_display_name_is_found(value: str) -> None:
    request = only_request(run(from_header(value)))
    assert request["Attributes"]["sesSenderWarning"] == "address_in_display_name"


@pytest.mark.parametrize(
    "value",
    [
        '"alice@customer.example" <alice@customer.example>',
        '"Alice (ALICE@Customer.Example.)" <alice@customer.example>',  # case and a full stop
        "Alice at home <alice@customer.example>",
        "alice@customer.example",
        "alice@customer.example (Alice Smith)",
    ],
)
def test_a_display_name_with_the_senders_own_address_or_none_is_not_flagged(value: str) -> None:
    conversion = run(from_header(value))
    attributes = only_request(conversion)["Attributes"]
    assert "sesSenderWarning" not in attributes
    assert "sesPolicyFlags" not in attributes
    assert not [defect for defect in conversion.defects if defect.startswith("suspicious_sender")]


def q_encoded(text: str) -> str:
    """``text`` as one RFC 2047 encoded word, every byte escaped."""
    return "=?utf-8?q?" + "".join(f"={byte:02X}" for byte in text.encode()) + "?="


def test_format_characters_are_removed_from_the_display_name_and_flagged() -> None:
    """U+202E shows "Support gpj.exe" as "Support exe.jpg"; a zero-width space hides nothing a person
    sees but splits a word that filters look for."""
    raw = from_header(q_encoded("Support \u202egpj.exe B\u200bank") + " <x@evil.example>")
    request = only_request(run(raw))
    assert request["FromEmailAddress"] == {
        "EmailAddress": "x@evil.example",
        "DisplayName": "Support gpj.exe Bank",
    }
    assert request["Attributes"]["sesSenderWarning"] == "format_characters"


def test_joiners_that_names_need_are_kept_and_not_flagged() -> None:
    """The zero-width non-joiner is part of how Persian names are spelt (علی‌رضا)."""
    name = "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627"
    request = only_request(run(from_header(q_encoded(name) + " <alireza@customer.example>")))
    assert request["FromEmailAddress"]["DisplayName"] == name
    assert "sesSenderWarning" not in request["Attributes"]


def test_several_from_addresses_are_flagged_and_the_first_stays_the_customer() -> None:
    request = only_request(run(from_header("Alice <alice@customer.example>, Mallory <boss@company.example>")))
    assert request["FromEmailAddress"] == {"EmailAddress": "alice@customer.example", "DisplayName": "Alice"}
    assert request["Attributes"]["sesSenderWarning"] == "several_from"


def test_two_from_fields_count_as_several_and_one_address_twice_does_not() -> None:
    twice = from_header("alice@customer.example", ("From", "boss@company.example"))
    assert only_request(run(twice))["Attributes"]["sesSenderWarning"] == "several_from"
    same = from_header("Alice <alice@customer.example>, ALICE@customer.example")
    assert "sesSenderWarning" not in only_request(run(same))["Attributes"]


def test_every_flag_at_once_in_a_fixed_order() -> None:
    assert sender_flags(
        [Address("x@evil.example", "ceo@company.example\u202e"), Address("y@evil.example")],
        Address("x@evil.example", "ceo@company.example\u202e"),
    ) == (SenderFlag.ADDRESS_IN_DISPLAY_NAME, SenderFlag.FORMAT_CHARACTERS, SenderFlag.SEVERAL_FROM)
    assert sender_flags([], None) == ()


def test_the_customer_taken_from_reply_to_is_the_one_checked() -> None:
    raw = from_header(
        "Alice <alice@customer.example>", ("Reply-To", '"ceo@company.example" <x@evil.example>')
    )
    request = only_request(run(raw, config=settings(prefer_reply_to=True)))
    assert request["FromEmailAddress"]["EmailAddress"] == "x@evil.example"
    assert request["Attributes"]["sesSenderWarning"] == "address_in_display_name"
    assert "sesSenderWarning" not in only_request(run(raw))["Attributes"]


def test_an_operator_may_quarantine_suspicious_senders() -> None:
    strict = settings(policy={**DEFAULT_POLICY, "sender:SUSPICIOUS": Action.QUARANTINE})
    conversion = run(from_header('"ceo@company.example" <attacker@evil.example>'), config=strict)
    assert (conversion.outcome.value, conversion.reason) == ("quarantine", "sender:SUSPICIOUS")
    assert "suspicious_sender:address_in_display_name" in conversion.defects


def test_a_more_serious_rule_names_the_quarantine() -> None:
    strict = settings(policy={**DEFAULT_POLICY, "sender:SUSPICIOUS": Action.QUARANTINE})
    raw = from_header('"ceo@company.example" <attacker@evil.example>')
    conversion = run(raw, config=strict, verdicts={"spam": "FAIL"})
    assert conversion.reason == "spam:FAIL"
    assert conversion.flags == ["spam:FAIL", "sender:SUSPICIOUS"]


def test_format_characters_are_removed_from_every_display_name_sent() -> None:
    raw = handwritten(
        [("From", "alice@customer.example"), ("To", f"{SUPPORT}, {q_encoded('Bob\u202e')} <bob@x.example>")]
    )
    recipients = only_request(run(raw))["AdditionalRecipients"]
    assert recipients == {"ToAddresses": [{"EmailAddress": "bob@x.example", "DisplayName": "Bob"}]}
    assert Address("a@b.example", "\u200b\u202e").as_request() == {"EmailAddress": "a@b.example"}
