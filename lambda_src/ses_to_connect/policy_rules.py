"""The closed sets a quarantine is recorded by: the verdict policy's rules and the reasons a
message cannot become a contact. Quarantined objects carry the value in their metadata and the
function counts it in ``QuarantinedByReason``, so these strings are a contract with operators."""

from __future__ import annotations

from enum import StrEnum


class PolicyRule(StrEnum):
    """A rule of the verdict policy: ``<verdict>:<STATUS>``, ``sender:SUSPICIOUS`` or ``guard:<name>``."""

    VIRUS_FAIL = "virus:FAIL"
    VIRUS_GRAY = "virus:GRAY"
    VIRUS_PROCESSING_FAILED = "virus:PROCESSING_FAILED"
    SPAM_FAIL = "spam:FAIL"
    SPAM_GRAY = "spam:GRAY"
    SPAM_PROCESSING_FAILED = "spam:PROCESSING_FAILED"
    DMARC_FAIL_REJECT = "dmarc:FAIL_REJECT"  # a DMARC failure whose domain publishes p=reject
    DMARC_FAIL = "dmarc:FAIL"
    DMARC_GRAY = "dmarc:GRAY"
    DMARC_PROCESSING_FAILED = "dmarc:PROCESSING_FAILED"
    SPF_FAIL = "spf:FAIL"
    SPF_GRAY = "spf:GRAY"
    SPF_PROCESSING_FAILED = "spf:PROCESSING_FAILED"
    DKIM_FAIL = "dkim:FAIL"
    DKIM_GRAY = "dkim:GRAY"
    DKIM_PROCESSING_FAILED = "dkim:PROCESSING_FAILED"
    SENDER_SUSPICIOUS = "sender:SUSPICIOUS"  # a sender with any SenderFlag
    GUARD_BOUNCE = "guard:bounce"
    GUARD_AUTO_REPLY = "guard:auto_reply"
    GUARD_BOUNCE_WORDING = "guard:bounce_wording"
    GUARD_AUTO_REPLY_WORDING = "guard:auto_reply_wording"
    GUARD_FROM_CONNECT_ADDRESS = "guard:from_connect_address"
    GUARD_BULK = "guard:bulk"

    @property
    def is_guard(self) -> bool:
        return self.value.startswith("guard:")


class Undeliverable(StrEnum):
    """Why a message that no policy rule quarantined still cannot become a contact."""

    NO_CONNECT_RECIPIENT = "no_connect_recipient"  # no recipient is a configured Connect address
    NO_USABLE_SENDER = "no_usable_sender"  # no sender address a contact can be created for
    REQUEST_LIMIT_VIOLATION = "request_limit_violation"  # no valid request could be built


type QuarantineReason = PolicyRule | Undeliverable
