"""The verdict policy and loop guards: which rules a message matches, and what they decide.

A rule is ``<verdict>:<STATUS>`` (``spam:FAIL``), ``dmarc:FAIL_REJECT`` for a DMARC failure
whose domain publishes ``p=reject``, or ``guard:<name>``. Settings map every rule to
``deliver`` (the contact is created and the rule is listed in its attributes) or
``quarantine``. Rules are checked in a fixed order, so the reason a message is quarantined
for is always the most serious rule it matched.
"""

from __future__ import annotations

from typing import NamedTuple

from ses_to_connect.mime import ParsedMessage
from ses_to_connect.ses_event import SesRecord
from ses_to_connect.settings import Action, Settings

_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply"})
_NULL_SENDERS = frozenset({"", "<>"})
# Most serious first: it decides the quarantine reason when several rules match.
_VERDICT_ORDER = ("virus", "spam", "dmarc", "spf", "dkim")


class Decision(NamedTuple):
    """What the verdict policy found: the rules a message matched and whether it is quarantined."""

    matched: tuple[str, ...]  # every rule the message matched, most serious first
    quarantine_reason: str | None  # the first matched rule whose action is quarantine


def decide(message: ParsedMessage, record: SesRecord, settings: Settings) -> Decision:
    matched = [*_verdict_rules(record), *_guard_rules(message, record, settings)]
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
    if is_delivery_report(message, record):
        rules.append("guard:bounce")
    if is_auto_reply(message):
        rules.append("guard:auto_reply")
    if any(settings.address_for(sender) for sender in _senders(message, record) if sender):
        rules.append("guard:from_connect_address")
    return rules


def is_delivery_report(message: ParsedMessage, record: SesRecord) -> bool:
    """Bounces, delivery-status and disposition reports: answering them makes mail loops."""
    if record.source.strip() in _NULL_SENDERS or message.content_type == "multipart/report":
        return True
    return any(sender.split("@")[0].lower() == "mailer-daemon" for sender in _senders(message, record))


def is_auto_reply(message: ParsedMessage) -> bool:
    """RFC 3834 Auto-Submitted, the Precedence convention, and the X-Autoreply family."""
    headers = message.headers
    auto_submitted = headers.get("auto-submitted", "").split(";")[0].strip().lower()
    precedence = headers.get("precedence", "").strip().lower()
    return (
        auto_submitted not in {"", "no"}
        or precedence in _AUTO_PRECEDENCE
        or any(headers.get(name, "").strip() for name in ("x-autoreply", "x-autorespond"))
    )


def _senders(message: ParsedMessage, record: SesRecord) -> list[str]:
    """The envelope sender and the From addresses."""
    return [record.source, *(address.email for address in message.from_)]


_KNOWN_VERDICT_RULES = frozenset(
    f"{name}:{status}" for name in _VERDICT_ORDER for status in ("FAIL", "GRAY", "PROCESSING_FAILED")
)
