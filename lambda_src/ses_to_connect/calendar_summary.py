"""A meeting request, cancellation or reply as a few lines an agent can read (RFC 5545, RFC 5546).

Connect refuses ``.ics`` files, so without this the agent never learns what an Exchange or iCloud
invitation was about. Mail clients show an invitation as a bar above the message with its title,
time, place and organizer; the body gets the same, as text. ``icalendar`` (a well-kept RFC 5545
parser) reads the calendar; it is imported by this module, which :mod:`ses_to_connect.mime`
imports only when a message holds a calendar part, so no other message pays for it.

A damaged or hostile calendar never fails the message: whatever the parser raises is recorded as
``calendar_unreadable`` and the summary is left out. The parser reads the whole text at once, so
only calendars up to :data:`MAX_CALENDAR_BYTES` are read (an invitation is a few kilobytes), and
at most :data:`MAX_CALENDARS` of a message.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import icalendar

from ses_to_connect.headers import clean_text
from ses_to_connect.model import DefectKind, Defects

MAX_CALENDAR_BYTES = 256 * 1024  # read in at most ~0.25 s here, whatever it holds
MAX_CALENDARS = 3  # per message: an invitation has one; a thousand would cost minutes
MAX_EVENTS = 5  # events summarised per calendar; a series of occurrences is one event with RRULE
MAX_VALUE_CHARS = 200  # a title, place or name longer than a line says nothing more to an agent

# RFC 5546 methods, as an agent would name them.
_METHODS = {
    "REQUEST": "Meeting request",
    "CANCEL": "Meeting cancelled",
    "REPLY": "Reply to a meeting request",
    "COUNTER": "Counter-proposal for a meeting",
    "DECLINECOUNTER": "Counter-proposal declined",
    "PUBLISH": "Calendar event",
    "ADD": "Meeting occurrences added",
    "REFRESH": "Request for the latest version of a meeting",
}
_ANSWERS = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentatively accepted",
    "DELEGATED": "delegated",
}


def summarize(data: bytes, defects: Defects) -> str | None:
    """The calendar's events as lines of text, or None (recorded) when it cannot be read."""
    if len(data) > MAX_CALENDAR_BYTES:
        defects.add(DefectKind.CALENDAR_UNREADABLE, "too_large")
        return None
    try:
        calendar = icalendar.Calendar.from_ical(data)
        method = str(calendar.get("METHOD", "PUBLISH")).strip().upper()
        events = calendar.walk("VEVENT")[:MAX_EVENTS]
        blocks = [_event_lines(event, method) for event in events]
    except Exception:  # noqa: BLE001 (icalendar raises anything on damaged input: ValueError, KeyError...)
        defects.add(DefectKind.CALENDAR_UNREADABLE, "invalid")
        return None
    if not blocks:
        defects.add(DefectKind.CALENDAR_UNREADABLE, "no_event")
        return None
    return "\n\n".join("\n".join(lines) for lines in blocks)


def _event_lines(event: Any, method: str) -> list[str]:
    title = _text(event.get("SUMMARY")) or "(no title)"
    lines = [f"{_METHODS.get(method, f'Calendar ({_text(method)})')}: {title}"]
    when = _when(event)
    if when:
        lines.append(f"When: {when}{' (repeats)' if event.get('RRULE') is not None else ''}")
    location = _text(event.get("LOCATION"))
    if location:
        lines.append(f"Where: {location}")
    organizer = _person(event.get("ORGANIZER"))
    if organizer:
        lines.append(f"Organizer: {organizer}")
    if method == "REPLY":
        attendees = event.get("ATTENDEE")
        for attendee in attendees if isinstance(attendees, list) else [attendees] if attendees else []:
            answer = _ANSWERS.get(str(attendee.params.get("PARTSTAT", "")).upper())
            if answer:
                lines.append(f"Answer: {_person(attendee)} {answer}")
    return lines


def _when(event: Any) -> str:
    """Start and end as written in the invitation, with the time zone it names."""
    start = event.get("DTSTART")
    if start is None:
        return ""
    end = event.get("DTEND")
    first, last = start.dt, end.dt if end is not None else None
    if not isinstance(first, datetime) and isinstance(first, date):  # all-day: DTEND is exclusive
        if isinstance(last, date) and not isinstance(last, datetime) and last - first > timedelta(days=1):
            return f"{first:%a %d %b %Y} - {last - timedelta(days=1):%a %d %b %Y} (all day)"
        return f"{first:%a %d %b %Y} (all day)"
    if not isinstance(first, datetime):
        return ""
    zone = _zone(start)
    text = f"{first:%a %d %b %Y, %H:%M}"
    if isinstance(last, datetime):
        end_zone = _zone(end)
        if end_zone != zone:
            return f"{text} ({zone}) - {last:%a %d %b %Y, %H:%M} ({end_zone})"
        text += f" - {last:%H:%M}" if last.date() == first.date() else f" - {last:%a %d %b %Y, %H:%M}"
    return f"{text} ({zone})"


def _zone(prop: Any) -> str:
    """The time zone as the invitation names it (an Outlook or IANA name), UTC, or local time."""
    tzid = prop.params.get("TZID")
    if tzid:
        return _text(tzid)
    value = prop.dt
    if isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() == timedelta(0):
        return "UTC"
    return "local time, no time zone given"  # RFC 5545 "floating" time: each attendee's own


def _person(address: Any) -> str:
    if address is None:
        return ""
    email = _text(str(address))
    if email.lower().startswith("mailto:"):
        email = email[len("mailto:") :]
    name = _text(address.params.get("CN", "")) if hasattr(address, "params") else ""
    return f"{name} <{email}>" if name and email else name or email


def _text(value: object) -> str:
    """A calendar value as one clean line (control characters and folding removed), cut to length."""
    text = clean_text(str(value)) if value is not None else ""
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
