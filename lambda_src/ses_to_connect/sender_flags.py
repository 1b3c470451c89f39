"""Senders that may not be who they seem: flagged for the agent, never hidden or dropped.

Each flag is a stable identifier in a closed set (:class:`SenderFlag`): the contact carries them
in ``sesSenderWarning``, the log as ``suspicious_sender:<flag>`` defects, and the verdict policy
as the rule ``sender:SUSPICIOUS`` (delivered by default; an operator may quarantine it). Which
address becomes the contact's customer does not change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum

from ses_to_connect.addresses import is_valid_address
from ses_to_connect.model import Address, without_format_characters

# What separates an address from the words around it in a display name ("CEO (ceo@x.example)").
_AROUND_ADDRESS = re.compile(r"[\s<>()\[\]\"',;:]+")


class SenderFlag(StrEnum):
    """Why the sender looks suspicious."""

    # The display name holds an address that is not the sender's: "ceo@company.example"
    # <attacker@evil.example> shows the agent the CEO's address.
    ADDRESS_IN_DISPLAY_NAME = "address_in_display_name"
    # The display name held format characters (a right-to-left override that shows "exe.pdf" as
    # "fdp.exe", zero-width spaces): they are removed from what Connect shows.
    FORMAT_CHARACTERS = "format_characters"
    # From names several addresses (RFC 5322 then requires a Sender); the first is the customer.
    SEVERAL_FROM = "several_from"


def sender_flags(from_: Sequence[Address], customer: Address | None) -> tuple[SenderFlag, ...]:
    """The flags of a message's From addresses and of the customer the contact is created with."""
    flags = []
    name = (customer.display_name or "") if customer else ""
    words = (word.strip(".") for word in _AROUND_ADDRESS.split(without_format_characters(name)))
    if customer and any(
        "@" in word and is_valid_address(word) and word.lower() != customer.email.lower() for word in words
    ):
        flags.append(SenderFlag.ADDRESS_IN_DISPLAY_NAME)
    if without_format_characters(name) != name:
        flags.append(SenderFlag.FORMAT_CHARACTERS)
    if len({address.email.lower() for address in from_}) > 1:
        flags.append(SenderFlag.SEVERAL_FROM)
    return tuple(flags)
