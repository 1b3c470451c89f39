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
from ses_to_connect.policy_rules import PolicyRule
from ses_to_connect.sender_flags import SenderFlag
from ses_to_connect.ses_event import SesRecord
from ses_to_connect.settings import Action, Settings

# Most serious first: it decides the quarantine reason when several rules match (then the
# suspicious sender, then the guards).
_VERDICT_ORDER = ("virus", "spam", "dmarc", "spf", "dkim")


class Decision(NamedTuple):
    """What the verdict policy found: the rules a message matched and whether it is quarantined."""

    matched: tuple[PolicyRule, ...]  # every rule the message matched, most serious first
    quarantine_reason: PolicyRule | None  # the first matched rule whose action is quarantine

    @property
    def suppress_auto_reply(self) -> bool:
        """Whether a guard matched: an automatic acknowledgement would answer a machine or a list."""
        return any(rule.is_guard for rule in self.matched)


def decide(
    message: ParsedMessage, record: SesRecord, settings: Settings, sender: Sequence[SenderFlag] = ()
) -> Decision:
    """The rules ``message`` matches, ``sender`` being its sender's flags, and the quarantine reason."""
    suspicious = [PolicyRule.SENDER_SUSPICIOUS] if sender else []
    matched = [*_verdict_rules(record), *suspicious, *_guard_rules(message, record, settings)]
    reason = next((rule for rule in matched if settings.action(rule) is Action.QUARANTINE), None)
    return Decision(matched=tuple(matched), quarantine_reason=reason)


def _verdict_rules(record: SesRecord) -> list[PolicyRule]:
    rules = []
    for name in _VERDICT_ORDER:
        status = record.verdicts.get(name, "PASS")
        if status in {"PASS", "DISABLED"}:
            continue
        if name == "dmarc" and status == "FAIL" and record.dmarc_policy == "REJECT":
            rules.append(PolicyRule.DMARC_FAIL_REJECT)
        elif f"{name}:{status}" in _VERDICT_RULES:
            rules.append(PolicyRule(f"{name}:{status}"))
    return rules


def _guard_rules(message: ParsedMessage, record: SesRecord, settings: Settings) -> list[PolicyRule]:
    rules = []
    bounce = bounce_evidence(message, record)
    if bounce is not Evidence.NONE:
        rules.append(
            PolicyRule.GUARD_BOUNCE if bounce is Evidence.MACHINE else PolicyRule.GUARD_BOUNCE_WORDING
        )
    auto_reply = auto_reply_evidence(message)
    if auto_reply is not Evidence.NONE:
        rules.append(
            PolicyRule.GUARD_AUTO_REPLY
            if auto_reply is Evidence.MACHINE
            else PolicyRule.GUARD_AUTO_REPLY_WORDING
        )
    if any(settings.address_for(sender) for sender in senders(message, record) if sender):
        rules.append(PolicyRule.GUARD_FROM_CONNECT_ADDRESS)
    if is_bulk(message):
        rules.append(PolicyRule.GUARD_BULK)
    return rules


_VERDICT_RULES = frozenset(
    f"{name}:{status}" for name in _VERDICT_ORDER for status in ("FAIL", "GRAY", "PROCESSING_FAILED")
)
