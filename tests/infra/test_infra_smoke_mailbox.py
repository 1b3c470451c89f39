"""smokeMailbox: the rule stores its mail (smoke sends the agent reply there); Connect does not own it."""

from __future__ import annotations

from ses_to_connect_cdk.config import MAX_SES_RECIPIENTS
from tests.infra.test_infra_config import build, problems_of

MAILBOX = "smoke-replies@example.com"


def test_unset_by_default_and_the_rule_matches_the_connect_addresses_only() -> None:
    config = build()
    assert (config.smoke_mailbox, config.ses_recipients) == (None, ("support@example.com",))


def test_the_default_rule_also_matches_the_smoke_mailbox() -> None:
    config = build(smokeMailbox=MAILBOX)
    assert (config.smoke_mailbox, config.ses_recipients) == (MAILBOX, ("support@example.com", MAILBOX))


def test_an_explicit_recipient_list_must_cover_it() -> None:
    assert build(smokeMailbox=MAILBOX, sesRecipients=["example.com"]).ses_recipients == ("example.com",)
    assert problems_of(smokeMailbox=MAILBOX, sesRecipients=["support@example.com"]) == [
        f"sesRecipients: no entry covers smokeMailbox '{MAILBOX}'; the rule would not store its mail"
    ]


def test_it_must_be_an_address_connect_does_not_own() -> None:
    assert problems_of(smokeMailbox="Support@example.com") == [
        "smokeMailbox: 'Support@example.com' is a Connect address; name an address Connect does not own"
    ]
    assert problems_of(smokeMailbox="smoke") == ["smokeMailbox: 'smoke' is not an email address"]


def test_the_rule_stays_within_its_recipient_limit() -> None:
    addresses = [{"address": f"a{n}@example.com"} for n in range(MAX_SES_RECIPIENTS)]
    problems = problems_of(connectAddresses=addresses, smokeMailbox=MAILBOX)  # (and a timeout too short)
    assert f"smokeMailbox: the rule would match more than {MAX_SES_RECIPIENTS} recipients" in problems
