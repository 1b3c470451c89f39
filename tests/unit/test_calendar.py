"""Meeting invitations: the agent reads what the meeting is, when, where and from whom.

Connect refuses ``.ics`` files; mail clients show an invitation's details above the message. The
calendars below are written here in the forms Exchange, iCloud and Google send (RFC 5545/5546).
"""

from __future__ import annotations

import base64

from tests.support.mail import handwritten, multipart, part
from tests.unit.builders import fresh_interpreter, only_request, raw_message, run


def calendar(method: str, *event_lines: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN"]
    lines += [f"METHOD:{method}"] if method else []
    lines += ["BEGIN:VEVENT", "UID:abc-123", *event_lines, "END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


def invitation(ics: str, text: str = "Please join us.", method: str = "REQUEST") -> bytes:
    """As Exchange sends it: text and HTML alternatives, then the calendar as a third alternative."""
    return handwritten(
        body=multipart(
            "alternative",
            part("text/plain; charset=utf-8", text),
            part("text/html; charset=utf-8", f"<p>{text}</p>"),
            part(
                f'text/calendar; charset="utf-8"; method={method}',
                base64.encodebytes(ics.encode()).decode(),
                "Content-Transfer-Encoding: base64",
            ),
        )
    )


def body(raw: bytes) -> str:
    return str(raw_message(only_request(run(raw)))["Body"])


EXCHANGE_REQUEST = calendar(
    "REQUEST",
    "SUMMARY;LANGUAGE=en-US:Quarterly review",
    "DTSTART;TZID=W. Europe Standard Time:20261208T140000",
    "DTEND;TZID=W. Europe Standard Time:20261208T150000",
    "LOCATION;LANGUAGE=en-US:Room 4\\, second floor",
    'ORGANIZER;CN="Jane Doe":mailto:jane@example.com',
    "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;CN=Support:mailto:support@example.com",
)


def test_an_exchange_invitation_is_summarised_above_the_text() -> None:
    assert body(invitation(EXCHANGE_REQUEST)) == (
        "<div>Meeting request: Quarterly review<br>\n"
        "When: Tue 08 Dec 2026, 14:00 - 15:00 (W. Europe Standard Time)<br>\n"
        "Where: Room 4, second floor<br>\n"
        "Organizer: Jane Doe &lt;jane@example.com&gt;</div>\n<hr>\n<p>Please join us.</p>"
    )


def test_a_cancellation_in_utc_says_so() -> None:
    ics = calendar(
        "CANCEL",
        "SUMMARY:Dentist",
        "DTSTART:20261210T083000Z",
        "DTEND:20261210T090000Z",
        "ORGANIZER:mailto:clinic@example.net",
    )
    assert body(invitation(ics, method="CANCEL")).startswith(
        "<div>Meeting cancelled: Dentist<br>\nWhen: Thu 10 Dec 2026, 08:30 - 09:00 (UTC)<br>\n"
        "Organizer: clinic@example.net</div>"
    )


def test_a_reply_says_who_answered_what() -> None:
    ics = calendar(
        "REPLY",
        "SUMMARY:Accepted: Quarterly review",
        "DTSTART;TZID=Europe/Berlin:20261208T140000",
        "DTEND;TZID=Europe/Berlin:20261208T150000",
        "ATTENDEE;PARTSTAT=ACCEPTED;CN=Customer:mailto:customer@example.org",
    )
    summary = body(invitation(ics, method="REPLY"))
    assert "Reply to a meeting request: Accepted: Quarterly review<br>" in summary
    assert "Answer: Customer &lt;customer@example.org&gt; accepted</div>" in summary


def test_an_all_day_event_over_several_days_and_a_repeating_one() -> None:
    ics = calendar(
        "PUBLISH",
        "SUMMARY:Trade fair",
        "DTSTART;VALUE=DATE:20270301",
        "DTEND;VALUE=DATE:20270304",
        "RRULE:FREQ=YEARLY",
    )
    assert "When: Mon 01 Mar 2027 - Wed 03 Mar 2027 (all day) (repeats)" in body(invitation(ics))


def test_a_floating_time_says_it_has_no_time_zone() -> None:
    ics = calendar("", "SUMMARY:Call", "DTSTART:20261208T090000", "DTEND:20261208T093000")
    assert "When: Tue 08 Dec 2026, 09:00 - 09:30 (local time, no time zone given)" in body(invitation(ics))


def test_a_calendar_alone_is_the_body_in_a_text_contact() -> None:
    raw = handwritten(body=part('text/calendar; method=REQUEST; charset="utf-8"', EXCHANGE_REQUEST))
    request = only_request(run(raw))
    assert raw_message(request)["ContentType"] == "text/plain"
    assert raw_message(request)["Body"].startswith("Meeting request: Quarterly review\nWhen: ")


def test_a_damaged_calendar_never_fails_the_message() -> None:
    ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:not-a-date\r\nSUMMARY:x\r\nEND:VEVENT\r\n"
    conversion = run(invitation(ics))
    assert raw_message(only_request(conversion))["Body"].startswith(
        "<p>Please join us.</p>\n<hr>\n<p>Not delivered"
    )
    assert "calendar_unreadable:invalid" in conversion.defects


def test_a_calendar_larger_than_any_invitation_is_not_read() -> None:
    ics = calendar("REQUEST", "SUMMARY:Big", "DESCRIPTION:" + "x" * 300_000, "DTSTART:20261208T090000Z")
    conversion = run(invitation(ics))
    assert raw_message(only_request(conversion))["Body"].startswith(
        "<p>Please join us.</p>\n<hr>\n<p>Not delivered"
    )
    assert "calendar_unreadable:too_large" in conversion.defects


def test_icalendar_is_imported_only_when_an_invitation_arrives() -> None:
    script = (
        "import sys; import ses_to_connect.handler; print('icalendar' in sys.modules); "
        "from ses_to_connect.mime import parse_message; "
        "parse_message(b'Content-Type: text/calendar\\r\\n\\r\\nBEGIN:VCALENDAR\\r\\nEND:VCALENDAR\\r\\n'); "
        "print('icalendar' in sys.modules)"
    )
    assert fresh_interpreter(script) == ["False", "True"]


def test_only_the_first_calendars_of_a_message_are_read() -> None:
    parts = [part('text/calendar; method=REQUEST; charset="utf-8"', EXCHANGE_REQUEST) for _ in range(5)]
    conversion = run(handwritten(body=multipart("mixed", part("text/plain", "Four invitations"), *parts)))
    assert raw_message(only_request(conversion))["Body"].count("Meeting request: Quarterly review") == 3
    assert "calendar_unreadable:too_many" in conversion.defects
