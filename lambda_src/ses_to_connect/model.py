"""Typed values passed between the pure core's steps."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple


class Address(NamedTuple):
    """An email address with its optional display name, as Connect takes them."""

    email: str
    display_name: str | None = None

    def as_request(self) -> dict[str, str]:
        """The ``{EmailAddress, DisplayName?}`` object of the Connect API."""
        item = {"EmailAddress": self.email}
        if self.display_name:
            item["DisplayName"] = self.display_name
        return item


class Defects:
    """What was wrong with a message, recorded rather than raised (as CPython's ``email`` does).

    Each defect is ``kind`` or ``kind:detail``; ``kind`` is a stable identifier used in metrics.
    Order of first appearance is kept and duplicates are dropped, so output is deterministic.
    """

    def __init__(self) -> None:
        self._items: dict[str, None] = {}

    def add(self, kind: str, detail: str | None = None) -> None:
        self._items[f"{kind}:{detail}" if detail else kind] = None

    def as_list(self) -> list[str]:
        return list(self._items)

    def __contains__(self, item: str) -> bool:
        return item in self._items


class Outcome(StrEnum):
    CONTACT = "contact"
    QUARANTINE = "quarantine"


class Conversion(NamedTuple):
    """The result of converting one stored message: contacts to create, or a quarantine.

    ``requests`` is empty for a quarantine; ``flags`` are the policy rules the message matched.
    """

    outcome: Outcome
    reason: str | None
    defects: list[str]
    requests: list[dict[str, Any]]
    flags: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "defects": self.defects,
            "requests": self.requests,
        }
