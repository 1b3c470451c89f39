"""Address headers: the angle-bracket address wins, and one broken address loses only itself.

Python 3.11's ``getaddresses`` reads ``alice@example.com <bob@example.com>``
as two mailboxes (alice first: the customer became alice); 3.13's returns nothing for it, nor for
a list holding one malformed address. These tests hold on every interpreter the project runs on
(run them under 3.11 and 3.13 alike: the expected values do not depend on the version).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ses_to_connect.addresses import Mailbox, parse_addresses, split_addresses
from ses_to_connect.model import Address, Defects
from tests.support.constants import SUPPORT
from tests.support.mail import handwritten
from tests.unit.builders import only_request, run

BOB = "bob@example.com"


def parsed(value: str) -> tuple[list[Address], list[str]]:
    defects = Defects()
    return parse_addresses([value], defects, "to"), defects.as_list()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"alice@example.com <{BOB}>", [Address(BOB, "alice@example.com")]),
        ("ceo@bank.example <attacker@evil.example>", [Address("attacker@evil.example", "ceo@bank.example")]),
        (
            "eve@x.example <frank@x.example>, g@x.example",
            [Address("frank@x.example", "eve@x.example"), Address("g@x.example")],
        ),
        (f'"alice@example.com" <{BOB}>', [Address(BOB, "alice@example.com")]),
        (
            f'"Smith, John" <{BOB}>, other@example.org',
            [Address(BOB, "Smith, John"), Address("other@example.org")],
        ),
        (f'"a \\"quoted\\" name" <{BOB}>', [Address(BOB, 'a "quoted" name')]),
        (f"{BOB} (Bob Jones)", [Address(BOB, "Bob Jones")]),
        (f"Bob <{BOB}> (works in sales)", [Address(BOB, "Bob")]),
        (f"<<{BOB}>>", [Address(BOB)]),
        (f"<@relay.example:{BOB}>", [Address(BOB)]),
        (
            f"team: {BOB}, Carol <carol@example.org>;, dave@example.org",
            [Address(BOB), Address("carol@example.org", "Carol"), Address("dave@example.org")],
        ),
        ("undisclosed-recipients:;", []),
        ("unlisted-recipients:; (no To-header on input)", []),
        # Recovered: text after the angle brackets, and angle brackets never closed.
        (f"x <{BOB}> y, c@example.org", [Address(BOB, "x y"), Address("c@example.org")]),
        (f"a@example.org, Bob <{BOB}", [Address("a@example.org"), Address(BOB, "Bob")]),
        (f"=?utf-8?q?J=C3=B6rg?= <{BOB}>", [Address(BOB, "Jörg")]),
    ],
)
def test_the_address_in_angle_brackets_is_the_address(value: str, expected: list[Address]) -> None:
    assert parsed(value) == (expected, [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a@example.org, broken@@x, c@example.org", [Address("a@example.org"), Address("c@example.org")]),
        (
            "a@example.org, Bad Person <nobody>, c@example.org",
            [Address("a@example.org"), Address("c@example.org")],
        ),
        # An unclosed quote is text: it spoils only its own piece, not the rest of the list.
        (f'"Smith, John <{BOB}>, other@example.org', [Address(BOB, "John"), Address("other@example.org")]),
        # An unclosed comment, likewise.
        ("a@example.org, (no end, c@example.org", [Address("a@example.org"), Address("c@example.org")]),
    ],
)
def test_one_broken_address_loses_only_itself(value: str, expected: list[Address]) -> None:
    addresses, defects = parsed(value)

    assert addresses == expected
    assert defects == ["invalid_address:to"]


def test_empty_pieces_are_skipped_without_a_defect() -> None:
    assert parsed(f", {BOB},, <>, ;") == ([Address(BOB)], [])


def test_split_addresses_keeps_display_names_encoded() -> None:
    assert split_addresses(f"=?utf-8?q?J=C3=B6rg?= <{BOB}>") == [Mailbox("=?utf-8?q?J=C3=B6rg?=", BOB)]


_NAME = st.text(alphabet='abcXYZ 019,;:<>@()"\\.-\u00e9\u4e2d', max_size=20)
_ADDRESS = st.from_regex(r"[a-z0-9.+_-]{1,10}@[a-z0-9-]{1,10}\.example", fullmatch=True)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(_NAME, _ADDRESS), max_size=6))
def test_any_quoted_display_name_gives_back_its_address(mailboxes: list[tuple[str, str]]) -> None:
    """Whatever a display name holds (commas, '<', '@', ':'), quoted it is a display name only."""
    header = ", ".join(
        '"{}" <{}>'.format(name.replace("\\", "\\\\").replace('"', '\\"'), address)
        for name, address in mailboxes
    )

    addresses, defects = parsed(header)

    assert [(a.email, a.display_name or "") for a in addresses] == [
        (address, " ".join(name.split())) for name, address in mailboxes
    ]
    assert defects == []


def test_the_customer_is_the_angle_address_not_the_display_name() -> None:
    raw = handwritten([("From", f"alice@example.com <{BOB}>"), ("To", SUPPORT), ("Subject", "Hi")])

    request = only_request(run(raw, source=BOB))

    assert request["FromEmailAddress"] == {"EmailAddress": BOB, "DisplayName": "alice@example.com"}


def test_to_and_cc_display_names_that_look_like_addresses_are_one_recipient_each() -> None:
    raw = handwritten(
        [
            ("From", "Customer <customer@example.org>"),
            ("To", f"{SUPPORT}, eve@x.example <frank@x.example>"),
            ("Cc", "ceo@bank.example <attacker@evil.example>, broken@@x, carol@example.org"),
            ("Subject", "Hi"),
        ]
    )

    conversion = run(raw)
    request = only_request(conversion)

    assert request["AdditionalRecipients"] == {
        "ToAddresses": [{"EmailAddress": "frank@x.example", "DisplayName": "eve@x.example"}],
        "CcAddresses": [
            {"EmailAddress": "attacker@evil.example", "DisplayName": "ceo@bank.example"},
            {"EmailAddress": "carol@example.org"},
        ],
    }
    assert conversion.defects == ["invalid_address:cc"]


def test_a_from_header_with_a_broken_second_address_keeps_the_first() -> None:
    raw = handwritten(
        [("From", 'Customer <customer@example.org>, "Broken <'), ("To", SUPPORT), ("Subject", "Hi")]
    )

    conversion = run(raw, source="envelope@example.net")

    assert only_request(conversion)["FromEmailAddress"] == {
        "EmailAddress": "customer@example.org",
        "DisplayName": "Customer",
    }
    assert conversion.defects == ["invalid_address:from"]
