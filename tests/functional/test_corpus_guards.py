"""The loop guards on the shared corpus: exactly the machine notices are quarantined.

Each message below was read by hand. The guards quarantine the 16
delivery-status, disposition and feedback reports and MAILER-DAEMON notices, and nothing else;
the four messages that only carried ``Precedence: bulk`` or ``junk`` (three forwarded list posts
and one spam, left to SES's spam verdict) and a list announcement are delivered, flagged.
"""

from __future__ import annotations

from tests.functional.test_corpus import MESSAGES, QUARANTINED, _conversion

BOUNCES = {name for name, reason in QUARANTINED.items() if reason == "guard:bounce"}
DELIVERED_AS_BULK = {
    "flanker__apache-message-news-mime.eml",
    "flanker__from-encoding.eml",
    "flanker__message-external-body.eml",
    "mikel-mail__error_emails--bad_date_header.eml",
    "mimekit__openpgp--_Announce_GnuPG_2.1.20_released.eml",
}


def test_only_machine_notices_are_quarantined_by_a_guard() -> None:
    conversions = {name: _conversion(name) for name in MESSAGES}
    guarded = {name for name, c in conversions.items() if (c.reason or "").startswith("guard:")}

    assert guarded == BOUNCES
    assert {conversions[name].reason for name in BOUNCES} == {"guard:bounce"}


def test_bulk_mail_is_delivered_and_flagged() -> None:
    flagged = {
        name: request["Attributes"]
        for name in MESSAGES
        for request in _conversion(name).requests
        if "guard:bulk" in request["Attributes"].get("sesPolicyFlags", "")
    }

    assert set(flagged) == DELIVERED_AS_BULK
    assert {attributes["sesSuppressAutoReply"] for attributes in flagged.values()} == {"true"}
