"""The verdict policy and loop guards: which rules a message matches, and what they decide.

A rule is ``<verdict>:<STATUS>`` (``spam:FAIL``), ``dmarc:FAIL_REJECT`` for a DMARC failure
whose domain publishes ``p=reject``, ``sender:SUSPICIOUS`` for a sender with any
:class:`~ses_to_connect.sender_flags.SenderFlag`, or ``guard:<name>``. Settings map every rule to
``deliver`` (the contact is created and the rule is listed in its attributes) or
``quarantine``. Rules are checked in a fixed order, so the reason a message is quarantined
for is always the most serious rule it matched. What each guard recognises is in
:mod:`ses_to_connect.guards`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ses_to_connect.guards import Evidence, auto_reply_evidence, bounce_evidence, is_bulk, senders
from ses_to_connect.mime import ParsedMessage
from ses_to_connect.sender_flags import SenderFlag
from ses_to_connect.ses_event import SesRecord
from ses_to_connect.settings import Action, Settings

# Most serious first: it decides the quarantine reason when several rules match (then the
# suspicious sender, then the guards).
_VERDICT_ORDER = ("virus", "spam", "dmarc", "spf", "dkim")


class Decision(NamedTuple):
    """What the verdict policy found: the rules a message matched and whether it is quarantined."""

    matched: tuple[str, ...]  # every rule the message matched, most serious first
    quarantine_reason: str | None  # the first matched rule whose action is quarantine

    @property
    def suppress_auto_reply(self) -> bool:
        """Whether a guard matched: an automatic acknowledgement would answer a machine or a list."""
        return any(rule.startswith("guard:") for rule in self.matched)


def decide(
    message: ParsedMessage, record: SesRecord, settings: Settings, sender: Sequence[SenderFlag] = ()
) -> Decision:
    """The rules ``message`` matches, ``sender`` being its sender's flags, and the quarantine reason."""
    suspicious = ["sender:SUSPICIOUS"] if sender else []
    matched = [*_verdict_rules(record), *suspicious, *_guard_rules(message, record, settings)]
    reason = next((rule for rule in matched if settings.action(rule) is Action.QUARANTINE), None)
    return Decision(matched=tuple(matched), quarantine_reason=reason)


def _verdict_rules(record: SesRecord) -> list[str]:
    rules = []
    for name in _VERDICT_ORDER:
        status = record.verdicts.get(name, "PASS")
        if status in {"PASS", "DISABLED"}:
            continue
        if name == "dmarc" and status == "FAIL" and record.dmarc_policy == "REJECT":
            rules.append("dmarc:FAIL_REJECT")
        elif f"{name}:{status}" in _KNOWN_VERDICT_RULES:
            rules.append(f"{name}:{status}")
    return rules


def _guard_rules(message: ParsedMessage, record: SesRecord, settings: Settings) -> list[str]:
    rules = []
    bounce = bounce_evidence(message, record)
    if bounce is not Evidence.NONE:
        rules.append("guard:bounce" if bounce is Evidence.MACHINE else "guard:bounce_wording")
    auto_reply = auto_reply_evidence(message)
    if auto_reply is not Evidence.NONE:
        rules.append("guard:auto_reply" if auto_reply is Evidence.MACHINE else "guard:auto_reply_wording")
    if any(settings.address_for(sender) for sender in senders(message, record) if sender):
        rules.append("guard:from_connect_address")
    if is_bulk(message):
        rules.append("guard:bulk")
    return rules


_KNOWN_VERDICT_RULES = frozenset(
    f"{name}:{status}" for name in _VERDICT_ORDER for status in ("FAIL", "GRAY", "PROCESSING_FAILED")
)
