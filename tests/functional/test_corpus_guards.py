"""The loop guards on the shared corpus: exactly the machine notices are quarantined.

Each message below was read by hand (issue 11, section 1). The guards quarantine the 16
delivery-status, disposition and feedback reports and MAILER-DAEMON notices, and nothing else;
the four messages that only carried ``Precedence: bulk`` or ``junk`` (three forwarded list posts
and one spam, left to SES's spam verdict) and a list announcement are delivered, flagged.
"""

from __future__ import annotations

from tests.functional.test_corpus import MESSAGES, _conversion

BOUNCES = {
    "flanker__bounce--delayed-broken.eml",  # a bare message/delivery-status: delivered before
    "flanker__bounce--gmail-invalid-address.eml",
    "flanker__bounce--mailbox-full.eml",
    "flanker__bounce--office365.eml",
    "flanker__complaints--aol.eml",
    "flanker__complaints--yahoo.eml",
    "flanker__disposition-notification.eml",
    "mikel-mail__mime_emails--raw_email_with_mimepart_without_content_type.eml",
    "mikel-mail__multipart_report_emails--multipart_report_multiple_status.eml",
    "mimekit__messages--bounce.eml",
    "mimekit__messages--delivery-status-multiple-blank-lines.eml",
    "mimekit__messages--delivery-status-no-blank-line.eml",
    "mimekit__messages--delivery-status.eml",
    "mimekit__messages--disposition-notification.eml",
    "nodemailer-mailparser__delivery-status.eml",
    "php-mime-mail-parser__failure.eml",
}
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
