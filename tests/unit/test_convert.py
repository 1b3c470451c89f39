"""The conversion rules of the core, one message built per test."""

from __future__ import annotations

import json

import pytest

from ses_to_connect.convert import client_token, final_requests, plan
from ses_to_connect.delivery import DeliveryRecord
from ses_to_connect.limits import MAX_BODY, MAX_HEADER_VALUE, MAX_SUBJECT
from ses_to_connect.settings import BodyPreference, ConnectAddress
from ses_to_connect_tools.local_pipeline.connect_emulator import check_start_email_contact
from tests.support.constants import MESSAGE_ID, SALES, SALES_FLOW, SUPPORT
from tests.support.mail import Attachment, handwritten, message
from tests.unit.builders import only_request, raw_message, record, run, settings

NOTHING_STORED = DeliveryRecord(attachments=(), skipped=(), related_contact_id=None, valid_until=None)

# --- 1. destinations -----------------------------------------------------------------------


def test_one_request_per_configured_recipient_with_its_flow() -> None:
    conversion = run(handwritten(), recipients=[SUPPORT, "Sales@Example.COM", "other@example.com"])
    assert [r["DestinationEmailAddress"] for r in conversion.requests] == [SUPPORT, SALES]
    assert "ContactFlowId" not in conversion.requests[0]
    assert conversion.requests[1]["ContactFlowId"] == SALES_FLOW


def test_recipient_listed_twice_gives_one_request() -> None:
    conversion = run(handwritten(), recipients=[SUPPORT, SUPPORT.upper()])
    assert len(conversion.requests) == 1


def test_mail_for_no_connect_address_is_quarantined() -> None:
    conversion = run(handwritten(), recipients=["nobody@example.com"])
    assert (conversion.outcome.value, conversion.reason, conversion.requests) == (
        "quarantine",
        "no_connect_recipient",
        [],
    )


# --- 2. customer -----------------------------------------------------------------------------


def test_from_display_name_is_decoded() -> None:
    raw = handwritten([("From", "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>"), ("To", SUPPORT)])
    assert only_request(run(raw))["FromEmailAddress"] == {
        "EmailAddress": "jm@example.org",
        "DisplayName": "Jürgen Müller",
    }


def test_reply_to_preferred_when_configured() -> None:
    raw = handwritten(
        [("From", "Web form <no-reply@forms.example>"), ("Reply-To", "Real <real@example.org>")]
    )
    assert only_request(run(raw))["FromEmailAddress"]["EmailAddress"] == "no-reply@forms.example"
    preferred = run(raw, config=settings(prefer_reply_to=True))
    assert only_request(preferred)["FromEmailAddress"] == {
        "EmailAddress": "real@example.org",
        "DisplayName": "Real",
    }


def test_missing_from_falls_back_to_envelope_sender() -> None:
    conversion = run(handwritten([("To", SUPPORT), ("Subject", "x")]), source="bounce-123@mailer.example.net")
    assert only_request(conversion)["FromEmailAddress"] == {"EmailAddress": "bounce-123@mailer.example.net"}
    assert "no_usable_from" in conversion.defects


def test_unusable_from_falls_back_to_envelope_sender() -> None:
    conversion = run(handwritten([("From", "not an address"), ("To", SUPPORT)]), source="real@example.org")
    assert only_request(conversion)["FromEmailAddress"] == {"EmailAddress": "real@example.org"}
    assert "invalid_address:from" in conversion.defects


def test_no_usable_sender_at_all_is_quarantined() -> None:
    conversion = run(handwritten([("From", "nobody"), ("To", SUPPORT)]), source="postmaster@localhost")
    assert (conversion.outcome.value, conversion.reason) == ("quarantine", "no_usable_sender")


def test_header_injection_in_display_name_never_reaches_the_request() -> None:
    raw = handwritten([("From", "=?utf-8?q?Evil=0D=0ABcc=3A_victim=40example=2Ecom?= <evil@example.org>")])
    customer = only_request(run(raw))["FromEmailAddress"]
    assert customer == {"EmailAddress": "evil@example.org", "DisplayName": "Evil Bcc: victim@example.com"}


# --- 3. subject ------------------------------------------------------------------------------


def test_subject_decoded_unfolded_and_cleaned() -> None:
    raw = handwritten(
        [("From", "a@example.org"), ("Subject", "=?iso-8859-1?q?R=E9sum=E9?=\r\n\tof\x07 the\x00 week")]
    )
    assert raw_message(only_request(run(raw)))["Subject"] == "Résumé of the week"


def test_long_subject_is_cut_to_998() -> None:
    conversion = run(handwritten([("From", "a@example.org"), ("Subject", "x" * 1500)]))
    assert raw_message(only_request(conversion))["Subject"] == "x" * 998
    assert "subject_truncated" in conversion.defects


def test_missing_subject_is_normal_mail() -> None:
    request = only_request(run(handwritten([("From", "a@example.org"), ("To", SUPPORT)])))
    assert raw_message(request)["Subject"] == ""
    assert request["Name"] == "(no subject)"


# --- 4. body ---------------------------------------------------------------------------------


def test_html_preferred_by_default_text_by_setting() -> None:
    mail = message("plain body", html="<p>html body</p>")
    html = raw_message(only_request(run(mail)))
    assert (html["ContentType"], html["Body"].strip()) == ("text/html", "<p>html body</p>")
    text = raw_message(only_request(run(mail, config=settings(body_preference=BodyPreference.TEXT))))
    assert (text["ContentType"], text["Body"].strip()) == ("text/plain", "plain body")


def test_html_only_message_with_text_preference_uses_the_html() -> None:
    mail = message(None, html="<p>html body</p>")
    body = raw_message(only_request(run(mail, config=settings(body_preference=BodyPreference.TEXT))))
    assert body["ContentType"] == "text/html"


def test_declared_charset_is_used() -> None:
    raw = handwritten(body="Grüße".encode("iso-8859-1"), content_type="text/plain; charset=iso-8859-1")
    conversion = run(raw)
    assert raw_message(only_request(conversion))["Body"].strip() == "Grüße"
    assert conversion.defects == []


def test_unknown_charset_falls_back_and_is_recorded() -> None:
    conversion = run(handwritten(body="héllo", content_type="text/plain; charset=x-klingon"))
    assert raw_message(only_request(conversion))["Body"].strip() == "héllo"
    assert "unknown_charset:x-klingon" in conversion.defects


def test_wrong_charset_falls_back_and_is_recorded() -> None:
    raw = handwritten(body="BODY").replace(b"BODY", "café".encode("cp1252"))  # declared utf-8
    conversion = run(raw)
    assert raw_message(only_request(conversion))["Body"].strip() == "café"
    assert "charset_mismatch:utf-8" in conversion.defects


def test_attachment_is_not_taken_as_the_body() -> None:
    mail = message("the body")
    mail.add_attachment("attached text", filename="notes.txt")
    assert raw_message(only_request(run(mail)))["Body"].strip() == "the body"


def test_message_without_text_gets_a_placeholder_body() -> None:
    raw = handwritten(body="AAAA", content_type="application/octet-stream", cte="base64")
    conversion = run(raw)
    body = raw_message(only_request(conversion))
    assert body["ContentType"] == "text/plain"
    assert body["Body"] == (
        "[This email has no readable text body. The original message is stored at "
        f"s3://mail-bucket/inbound/{MESSAGE_ID}]\n\n----\n"
        "Not delivered with this email (the stored original has them):\n"
        "- attachment: file type not accepted"
    )
    assert "no_text_body" in conversion.defects


@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_huge_body_is_truncated_with_a_visible_marker(subtype: str) -> None:
    mail = (
        message("a" * (MAX_BODY + 10))
        if subtype == "plain"
        else message(None, html="<p>" + "a" * (MAX_BODY + 10) + "</p>")
    )
    conversion = run(mail)
    body = raw_message(only_request(conversion))["Body"]
    assert MAX_BODY - 10 <= len(body) <= MAX_BODY  # HTML is cleaned after the cut: a few characters less
    assert "[Message truncated: the first 5,242,7" in body[-300:]
    assert "body_truncated" in conversion.defects


# --- 5. headers ------------------------------------------------------------------------------


def test_threading_and_verdict_headers() -> None:
    raw = handwritten(
        [
            ("X-SES-Spam-Verdict", "PASS"),
            ("X-SES-Virus-Verdict", "PASS"),
            ("From", "a@example.org"),
            ("Message-ID", "<new@example.org>"),
            ("In-Reply-To", "<b@example.org>"),
            ("References", "<a@example.org>\r\n <b@example.org>"),
        ]
    )
    assert raw_message(only_request(run(raw)))["Headers"] == {
        "MESSAGE_ID": "<new@example.org>",
        "IN_REPLY_TO": "<b@example.org>",
        "REFERENCES": "<a@example.org> <b@example.org>",
        "X_SES_SPAM_VERDICT": "PASS",
        "X_SES_VIRUS_VERDICT": "PASS",
    }


def test_verdict_headers_fall_back_to_the_event_and_empty_keys_are_omitted() -> None:
    headers = raw_message(
        only_request(run(handwritten([("From", "a@example.org")]), verdicts={"spam": "GRAY"}))
    )["Headers"]
    assert headers == {"X_SES_SPAM_VERDICT": "GRAY", "X_SES_VIRUS_VERDICT": "PASS"}


def test_a_forged_verdict_header_loses_to_the_event() -> None:
    raw = handwritten([("From", "a@example.org"), ("X-SES-Spam-Verdict", "PASS")])
    conversion = run(raw, verdicts={"spam": "GRAY"})
    assert raw_message(only_request(conversion))["Headers"]["X_SES_SPAM_VERDICT"] == "GRAY"
    assert "verdict_header_mismatch:spam" in conversion.defects


def test_long_references_keep_the_newest_ids() -> None:
    ids = [f"<{i:06d}-{'x' * 80}@example.org>" for i in range(400)]  # ~40,000 characters
    conversion = run(handwritten([("From", "a@example.org"), ("References", " ".join(ids))]))
    kept = raw_message(only_request(conversion))["Headers"]["REFERENCES"]
    assert len(kept) <= MAX_HEADER_VALUE
    assert kept.endswith(ids[-1])
    assert kept.split() == ids[-len(kept.split()) :]
    assert "header_truncated:references" in conversion.defects


# --- 6. additional recipients ------------------------------------------------------------------


def test_additional_recipients_exclude_destination_and_duplicates() -> None:
    raw = handwritten(
        [
            ("From", "a@example.org"),
            ("To", f"Support <{SUPPORT.upper()}>, Bob <bob@example.org>, broken@@, bob@example.org"),
            ("Cc", "Carol <carol@example.org>, BOB@example.org"),
        ]
    )
    assert only_request(run(raw))["AdditionalRecipients"] == {
        "ToAddresses": [{"EmailAddress": "bob@example.org", "DisplayName": "Bob"}],
        "CcAddresses": [{"EmailAddress": "carol@example.org", "DisplayName": "Carol"}],
    }


def test_additional_recipients_capped_at_49() -> None:
    to = ", ".join(f"user{i}@example.org" for i in range(40))
    cc = ", ".join(f"cc{i}@example.org" for i in range(40))
    conversion = run(handwritten([("From", "a@example.org"), ("To", to), ("Cc", cc)]))
    recipients = only_request(conversion)["AdditionalRecipients"]
    assert (len(recipients["ToAddresses"]), len(recipients["CcAddresses"])) == (40, 9)
    assert "recipients_capped" in conversion.defects


def test_every_request_lists_the_defects_found_for_any_destination() -> None:
    """Support is among the 50 To addresses, Sales only in the envelope: only Sales's request
    has 50 others to list, and the defect it records is listed in both requests."""
    to = ", ".join([SUPPORT, *(f"user{i}@example.org" for i in range(49))])
    conversion = run(handwritten([("From", "a@example.org"), ("To", to)]), recipients=[SUPPORT, SALES])

    support, sales = conversion.requests
    assert (
        len(support["AdditionalRecipients"]["ToAddresses"]),
        len(sales["AdditionalRecipients"]["ToAddresses"]),
    ) == (49, 49)
    assert conversion.defects == ["recipients_capped"]
    assert [request["Attributes"]["sesDefects"] for request in conversion.requests] == [
        "recipients_capped"
    ] * 2


def test_building_the_requests_leaves_the_plan_as_it_was() -> None:
    raw = handwritten([("From", "a@example.org"), ("To", SUPPORT), ("Subject", "s" * (MAX_SUBJECT + 1))])
    planned = plan(raw, record(raw), settings())
    defects = planned.defects

    first = final_requests(planned, NOTHING_STORED).conversion()
    again = final_requests(planned, NOTHING_STORED).conversion()

    assert (planned.defects, first.defects) == (defects, [*defects, "subject_truncated"])
    assert again == first


def test_a_file_name_recorded_before_names_were_cleaned_is_cleaned_in_the_request() -> None:
    """A delivery in the ledger from an older version replays its stored names: a right-to-left
    override there must not make the retried request one Connect (and check_request) refuses."""
    raw = handwritten()
    planned = plan(raw, record(raw), settings())
    stored = [{"FileName": "invoice\u202efdp.pdf", "S3Url": "https://mail.s3.amazonaws.com/a/00.pdf"}]

    conversion = final_requests(planned, DeliveryRecord(tuple(stored), (), None, None)).conversion()

    assert conversion.outcome.value == "contact", conversion.reason
    assert [item["FileName"] for item in conversion.requests[0]["Attachments"]] == ["invoicefdp.pdf"]


def test_bcc_only_mail_has_no_additional_recipients() -> None:
    assert "AdditionalRecipients" not in only_request(run(handwritten([("From", "a@example.org")])))


# --- 7 and 8. attributes, name, description, references, expiry -----------------------------------


def test_attributes_carry_ses_facts_and_static_values() -> None:
    config = settings(static_attributes={"team": "billing", "sesMessageId": "cannot override"})
    request = only_request(run(handwritten(), config=config, verdicts={"spf": "FAIL"}))
    assert request["Attributes"] == {
        "team": "billing",
        "sesMessageId": MESSAGE_ID,
        "sesEnvelopeSender": "customer@example.org",
        "sesRawMessage": f"s3://mail-bucket/inbound/{MESSAGE_ID}",
        "sesSpamVerdict": "PASS",
        "sesVirusVerdict": "PASS",
        "sesSpfVerdict": "FAIL",
        "sesDkimVerdict": "PASS",
        "sesDmarcVerdict": "PASS",
        "sesPolicyFlags": "spf:FAIL",
    }


def test_name_description_references_and_expiry() -> None:
    request = only_request(run(handwritten(), config=settings(contact_expiry_minutes=2880)))
    assert request["Name"] == "Help"
    assert request["Description"] == "Email from Customer <customer@example.org>: Help"
    assert request["References"] == {
        "rawMessage": {"Type": "STRING", "Value": f"s3://mail-bucket/inbound/{MESSAGE_ID}"},
        "sesMessageId": {"Type": "STRING", "Value": MESSAGE_ID},
    }
    assert request["SegmentAttributes"] == {
        "connect:ContactExpiry": {"ValueMap": {"ExpiryDuration": {"ValueInteger": 2880}}}
    }
    assert request["InstanceId"] == "11111111-2222-3333-4444-555555555555"


def test_no_expiry_by_default() -> None:
    assert "SegmentAttributes" not in only_request(run(handwritten()))


# --- 9. idempotency -----------------------------------------------------------------------------


def test_client_token_is_deterministic_per_message_and_destination() -> None:
    conversion = run(handwritten(), recipients=[SUPPORT, SALES])
    tokens = [r["ClientToken"] for r in conversion.requests]
    assert tokens == [client_token(MESSAGE_ID, SUPPORT), client_token(MESSAGE_ID, SALES)]
    assert tokens[0] != tokens[1]
    assert client_token(MESSAGE_ID, SUPPORT) == client_token(MESSAGE_ID, SUPPORT.upper())


def test_same_inputs_give_byte_identical_requests() -> None:
    mail = message("plain body", html="<p>html body</p>", attachments=[Attachment("a.pdf", b"%PDF-1.4")])
    first, second = run(mail), run(mail)
    assert json.dumps(first.requests, sort_keys=True) == json.dumps(second.requests, sort_keys=True)


# --- 11. damaged mail is normal mail --------------------------------------------------------------


def test_mbox_from_line_bare_cr_and_8bit_headers() -> None:
    raw = (
        b"From sender@example.org Mon Jan  1 00:00:00 2024\r"
        b"From: =?bogus?q?x?= M\xfcller <m@example.org>\r"
        b"Subject: Gr\xc3\xbc\xc3\x9fe\r"
        b"\r"
        b"body with bare CR line ends\r"
    )
    conversion = run(raw)
    request = only_request(conversion)
    assert raw_message(request)["Subject"] == "Grüße"
    assert raw_message(request)["Body"].strip() == "body with bare CR line ends"
    assert request["FromEmailAddress"]["EmailAddress"] == "m@example.org"
    assert "8bit_header:subject" in conversion.defects
    check_start_email_contact(request)  # raises what Connect would refuse it with


def test_broken_multipart_is_recorded_and_still_delivered() -> None:
    raw = (
        b"From: a@example.org\r\nSubject: broken\r\nContent-Type: multipart/alternative; boundary=XYZ\r\n\r\n"
        b"no boundary ever appears\r\n"
    )
    conversion = run(raw)
    assert conversion.outcome.value == "contact"
    assert "StartBoundaryNotFoundDefect" in conversion.defects
    assert raw_message(only_request(conversion))["Body"].strip() == "no boundary ever appears"


def test_every_request_is_one_connect_accepts() -> None:
    conversion = run(
        message("plain body", html="<p>html body</p>"),
        recipients=[SUPPORT, SALES],
        config=settings(connect_addresses=(ConnectAddress(SUPPORT), ConnectAddress(SALES, SALES_FLOW))),
    )
    assert conversion.outcome.value == "contact"
    assert [r["DestinationEmailAddress"] for r in conversion.requests] == [SUPPORT, SALES]
    for request in conversion.requests:
        check_start_email_contact(request)  # the emulator's rules, not the core's own check_request


def test_attachments_follow_the_instances_extensions_and_size() -> None:
    """attachment_extensions / attachment_max_bytes (the instance's EMAIL configuration) replace the
    documented defaults: a wider list sends a .zip, a smaller size skips what the default would send."""
    mail = message(
        "see files",
        attachments=[
            Attachment("logs.zip", b"PK\x03\x04" + b"z" * 100, "application/zip"),
            Attachment("big.pdf", b"%PDF-" + b"p" * 2000),
        ],
    )
    default = run(mail)
    assert [a["FileName"] for a in only_request(default).get("Attachments", [])] == ["big.pdf"]
    assert "logs.zip (type_not_allowed)" in only_request(default)["Attributes"]["sesAttachmentsSkipped"]

    wider = settings(attachment_extensions=(".pdf", ".zip"), attachment_max_bytes=1000)
    conversion = run(mail, config=wider)
    request = only_request(conversion)
    assert [a["FileName"] for a in request["Attachments"]] == ["logs.zip"]
    assert "big.pdf (too_large)" in request["Attributes"]["sesAttachmentsSkipped"]
