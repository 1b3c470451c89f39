"""Differential test over the shared corpus: no text a mail client shows inline is lost.

An oracle written here, independent of the bridge's own walk, reads each message as a client
does: every text/plain or text/html part is shown unless its disposition is ``attachment``; of a
``multipart/alternative`` one child is shown; any other multipart shows all its children; a
forwarded message (message/rfc822, message/news...) is shown as a whole. Each message is then
converted (delivered whatever the verdict policy says, as an operator's replay would, so that
every message has a body), and for each shown part the oracle requires that its visible text
is in the contact's body, or that the part is listed: sent as an attachment or named in
``sesAttachmentsSkipped``. A text part with disposition ``attachment`` must be listed by its name.

Visible text is compared as its ASCII letters and digits only, so that line breaks, HTML
escaping, tags, separators and the choice of fallback charset for damaged text do not matter;
parts with no such characters (empty, or in a script with no ASCII) cannot be checked and are
counted apart. Run with ``-s`` to see the counts.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections import Counter
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from functools import cache
from pathlib import PurePosixPath
from typing import Any, NamedTuple

import pytest

from ses_to_connect.convert import convert_offline
from ses_to_connect.event_builder import build_ses_event, message_id_for
from ses_to_connect.ses_event import Replay, records
from tests.support.constants import SUPPORT
from tests.support.corpus import CORPUS

from .test_corpus import MESSAGES, SETTINGS

_NOT_ASCII_WORD = re.compile(r"[^A-Za-z0-9]+")
_NOT_WORD = re.compile(r"[\W_]+")
_HIDDEN_HTML = re.compile(r"<!--.*?-->|<(script|style|head|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z!?][^>]*>")
REPORTS = {"message/delivery-status", "message/disposition-notification", "message/feedback-report"}


class Seen(NamedTuple):
    """What the oracle found in a part: counts by how each text part is accounted for, the text
    parts that are not, and how many of those are attachments that a listing may count without
    naming ("… and N more")."""

    counts: Counter[str]
    missing: list[str]
    unnamed: list[str]


def _words(text: str) -> str:
    return _NOT_ASCII_WORD.sub("", text).lower()


def _name(text: str) -> str:
    """A file name's letters and digits in any script; raw 8-bit bytes read as UTF-8, else cp1252."""
    data = text.encode("utf-8", "surrogateescape")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", "replace")
    return _NOT_WORD.sub("", text).lower()


def _visible_html(markup: str) -> str:
    return html.unescape(_TAG.sub(" ", _HIDDEN_HTML.sub(" ", markup)))


def _text(part: Message) -> str:
    """The part's content in its declared charset (UTF-8 if none or unknown), damage replaced."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    charset = str(part.get_content_charset() or "utf-8")
    try:
        return data.decode(charset, "replace")
    except (LookupError, ValueError):
        return data.decode("utf-8", "replace")


def _header(value: Any) -> str:
    try:
        return str(make_header(decode_header(str(value or ""))))
    except (ValueError, LookupError, UnicodeError):
        return str(value or "")


def _attachment(part: Message) -> bool:
    return str(part.get("Content-Disposition", "")).split(";")[0].strip().lower() == "attachment"


@cache
def _converted(name: str) -> tuple[str, str, int]:
    """The body's visible words, the listing of every attachment sent or skipped, and how many
    skipped ones the listing counts without naming them."""
    raw = (CORPUS / name).read_bytes()
    event = build_ses_event(
        raw, message_id=message_id_for(raw), recipients=[SUPPORT], source="customer@example.org"
    )
    replay = Replay(f"inbound/{message_id_for(raw)}", True, "differential test")
    record = dataclasses.replace(records(event)[0], replay=replay)
    conversion = convert_offline(raw, record, SETTINGS)
    (request, *_) = conversion.requests
    raw_message = request["EmailMessage"]["RawMessage"]
    body = raw_message["Body"]
    if raw_message["ContentType"] == "text/html":
        body = _visible_html(body)
    names = [item["FileName"] for item in request.get("Attachments", [])]
    skipped = request["Attributes"].get("sesAttachmentsSkipped", "")
    more = re.search(r"… and (\d+) more$", skipped)
    return _words(body), _name(" ".join([*names, skipped])), int(more.group(1)) if more else 0


@cache  # the parametrized test and test_counts both read every message
def _oracle(name: str) -> Seen:
    """What the oracle finds in one corpus message against its conversion."""
    body, listing, more = _converted(name)

    def listed(*names: str) -> bool:
        """Whether a file of one of these names (extension aside: ".txt" may replace it) is listed.

        The stdlib replaces raw 8-bit bytes in a name by U+FFFD: only what comes before counts."""
        stems = [_name(PurePosixPath(name).stem.split("\ufffd")[0])[:20] for name in names]
        return any(stem in listing for stem in stems if stem)

    def seen(what: str) -> Seen:
        return Seen(Counter([what]), [], [])

    def check(part: Message, path: str, root: bool) -> Seen:
        content_type = part.get_content_type()
        path = f"{path}/{content_type}"
        if content_type in REPORTS:
            return Seen(Counter(), [], [])  # blocks of fields, not an inline text part
        if part.is_multipart():
            children = [child for child in part.get_payload() if isinstance(child, Message)]
            if part.get_content_maintype() == "message":
                subject = _header(children[0].get("Subject")) if children else ""
                if not root and listed(part.get_filename() or "", subject, "forwarded"):
                    return seen("forwarded message listed")
            # A message that is itself a message/rfc822 shows the message inside.
            inner_root = root and part.get_content_maintype() == "message"
            results = [check(child, path, inner_root) for child in children]
            if content_type == "multipart/alternative" and results:
                # One child is shown; the others say the same thing.
                shown = next((result for result in results if not result.missing), results[-1])
                counts = shown.counts + Counter({"alternatives not shown": len(results) - 1})
                return Seen(counts, shown.missing, shown.unnamed)
            return Seen(
                sum((r.counts for r in results), Counter()),
                [m for r in results for m in r.missing],
                [u for r in results for u in r.unnamed],
            )
        if content_type not in {"text/plain", "text/html"}:
            return Seen(Counter(), [], [])
        text = _text(part)
        words = _words(_visible_html(text) if content_type == "text/html" else text)
        label = f"{path}({part.get_filename() or ''})"
        if _attachment(part):
            if listed(part.get_filename() or "attachment"):
                return seen("text attachment listed by name")
            return Seen(Counter(), [], [f"{label}: a text attachment, not listed"])
        if not words:
            return seen("shown, no ASCII text to compare")
        if words in body:
            return seen("shown, text in the body")
        if listed(part.get_filename() or ""):
            return seen("shown, listed as a file")
        return Seen(Counter(), [f"{label}: {text.strip()[:60]!r} is neither in the body nor listed"], [])

    found = check(message_from_bytes((CORPUS / name).read_bytes(), policy=compat32), "", True)
    if found.unnamed and len(found.unnamed) <= more:
        counts = found.counts + Counter({"text attachment counted in '… and N more'": len(found.unnamed)})
        return Seen(counts, found.missing, [])
    return Seen(found.counts, found.missing + found.unnamed, [])


@pytest.mark.parametrize("name", MESSAGES)
def test_every_shown_text_part_is_in_the_body_or_listed(name: str) -> None:
    assert _oracle(name).missing == []


def test_counts() -> None:
    """Prints the figures the closing note reports (run with ``-s``)."""
    totals: Counter[str] = Counter()
    failing = 0
    for name in MESSAGES:
        seen = _oracle(name)
        totals.update(seen.counts)
        totals["text parts missing"] += len(seen.missing)
        failing += bool(seen.missing)
    print(f"\ndifferential test over {len(MESSAGES)} corpus messages ({failing} with a part missing):")
    for what, count in sorted(totals.items()):
        print(f"  {what}: {count}")
    assert totals["shown, text in the body"] > 0
