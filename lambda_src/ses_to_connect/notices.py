"""What the agent is told about what the body cannot show, in the body itself and the description.

* Each image the HTML body shows by ``cid:`` (a part of the message: Connect's viewer cannot
  resolve it) becomes ``[image: Logo (image001.png), attached]`` or ``[image: scan.tif, not
  delivered: file type not accepted]``; a small signature decoration that was not sent
  (``inlineImageMinBytes``) leaves only its alt text.
* Files that were not delivered are listed at the end of the body, one line each with the reason
  in words ("setup.exe: file type not accepted"), after the customer's text, within Connect's body
  limit.
* The contact's ``Description`` is one line an agent can use: sender, subject, files delivered and
  not, the policy's flags.

Everything here is derived from the plan and the delivery record only, so a retry builds the same
body byte for byte.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from ses_to_connect.attachments import Candidate, Skip, Skipped, stored_index, visible_name
from ses_to_connect.budget import MAX_CLEANED_HTML_CHARS
from ses_to_connect.headers import clean_text
from ses_to_connect.limits import MAX_BODY, MAX_DESCRIPTION
from ses_to_connect.mime import Body
from ses_to_connect.model import Address

if TYPE_CHECKING:
    from ses_to_connect.settings import Settings

# Each skip reason in an agent's words.
SKIP_WORDS: Mapping[str, str] = {
    Skip.TYPE_NOT_ALLOWED: "file type not accepted",
    Skip.TOO_LARGE: "larger than 20 MB",
    Skip.TOO_MANY: "more than 10 attachments",
    Skip.EMPTY: "empty file",
    Skip.TNEF_UNREADABLE: "Outlook winmail.dat could not be read",
    Skip.TNEF_EMPTY: "Outlook winmail.dat with no files in it",
    Skip.REJECTED_BY_CONNECT: "refused by Amazon Connect",
    Skip.URL_TOO_LONG: "file link too long",
    Skip.SMALL_INLINE_IMAGE: "small inline image (signature decoration)",
}
NOT_DELIVERED_HEADING = "Not delivered with this email (the stored original has them):"
TOO_LARGE_HTML = "This HTML body is too large to clean for display: it is shown as text."
MAX_LISTED = 20  # files named in the body's notice; the rest are counted
TRUNCATION_MARK = "[Message truncated:"  # how convert._body's note on a body cut at Connect's limit starts


class InlineImages(NamedTuple):
    """The images the HTML body shows by ``cid:``: file name and position among the candidates."""

    names: Mapping[str, str]  # content id -> file name (every inline image, sent or skipped)
    positions: Mapping[str, int]  # content id -> index in the plan's candidates (those that may be sent)


NO_INLINE_IMAGES = InlineImages(MappingProxyType({}), MappingProxyType({}))


def inline_images(
    candidates: Sequence[Candidate],
    skipped: Sequence[Skipped],
    found: Mapping[str, tuple[str, bool]],
    settings: Settings,
) -> tuple[list[Candidate], list[Skipped], InlineImages]:
    """The candidates without the inline images under ``inline_image_min_bytes`` (skipped as
    decoration: an Outlook signature's icons would otherwise take attachment slots and name files
    the agent never needs), and where each inline image that may be sent stands among them.
    ``found`` gives each inline image's name and whether its part is marked ``attachment``: the
    sender meant such a one as a file, whatever its size."""
    minimum = settings.inline_image_min_bytes
    names = {content_id: name for content_id, (name, _) in found.items()}
    small = [c for c in candidates if c.inline and c.size < minimum and not found[c.content_id][1]]
    kept = [c for c in candidates if c not in small]
    positions = {c.content_id: index for index, c in enumerate(kept) if c.inline}
    decorations = [Skipped(c.file_name, Skip.SMALL_INLINE_IMAGE) for c in small]
    return (
        kept,
        [*skipped, *decorations],
        InlineImages(MappingProxyType(dict(names)), MappingProxyType(positions)),
    )


def reason_words(reason: str) -> str:
    """A skip reason (``type_not_allowed``, ``rejected_by_connect:INVALID_FILE_TYPE``...) in words."""
    kind, _, detail = reason.partition(":")
    words = SKIP_WORDS.get(kind, kind.replace("_", " "))
    return f"{words} ({detail})" if detail else words


class _Outcomes:
    """What became of each inline image, from the delivery's files and skips."""

    def __init__(
        self, images: InlineImages, attachments: Sequence[Mapping[str, str]], skipped: Sequence[Skipped]
    ) -> None:
        self.images = images
        self.sent = {stored_index(item["S3Url"]): item["FileName"] for item in attachments}
        self.reasons: dict[str, str] = {}
        for item in skipped:
            self.reasons.setdefault(item.file_name, item.reason)
        self._key = (
            *images.names.items(),
            *images.positions.items(),
            *self.sent.items(),
            *self.reasons.items(),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Outcomes) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def label(self, content_id: str, alt: str) -> str:
        """The text that stands for the image ``cid:content_id`` with alt text ``alt``."""
        alt = clean_text(alt)[:200]
        name = self.images.names.get(content_id)
        if name is None:
            return f"[image: {alt or content_id[:200]}, not in the email]"
        shown = visible_name(f"{alt} ({name})" if alt and alt != name else name)
        position = self.images.positions.get(content_id)
        if position is not None and position in self.sent:
            sent_as = visible_name(self.sent[position])
            return (
                f"[image: {shown}, attached]"
                if sent_as == visible_name(name)
                else f"[image: {shown}, attached as {sent_as}]"
            )
        reason = self.reasons.get(name)
        if reason == Skip.SMALL_INLINE_IMAGE:
            return alt  # decoration: only what its alt text says, as a client that blocks images shows it
        return f"[image: {shown}, not delivered: {reason_words(reason)}]" if reason else f"[image: {shown}]"


def present(
    body: Body,
    *,
    images: InlineImages,
    attachments: Sequence[Mapping[str, str]],
    skipped: Sequence[Skipped],
    unnamed: int,
    raw_uri: str,
) -> Body:
    """``body`` as the agent gets it: HTML cleaned (:mod:`html_clean`) with its ``cid:`` images
    labelled, then the files not delivered listed at the end; within ``MAX_BODY``. HTML that shows
    nothing at all once cleaned (an unclosed ``<title>`` holds the rest of the document, say)
    gives a notice in its place: Connect refuses an empty body, and the agent needs to know."""
    text = body.text
    is_html = body.content_type == "text/html"
    if is_html and len(text) > MAX_CLEANED_HTML_CHARS:  # cleaning it would cost seconds per megabyte
        from ses_to_connect.html_text import html_to_text  # noqa: PLC0415 (very large HTML only)

        text = f"[{TOO_LARGE_HTML} The original message is stored at {raw_uri}]\n\n{html_to_text(text)}"
        is_html = False
    if is_html:
        text = _cleaned(text, _Outcomes(images, attachments, skipped))
        if not text.strip():
            text = f"[The HTML body of this email shows no text. The original message is stored at {raw_uri}]"
            is_html = False
    # Inline images are labelled where they stand in an HTML body; the notice lists the rest.
    labelled = set(images.names.values()) if is_html else set()
    listed = [
        item for item in skipped if item.file_name not in labelled and item.reason != Skip.SMALL_INLINE_IMAGE
    ]
    notice = _not_delivered(listed, unnamed, html_body=is_html)
    room = MAX_BODY - len(notice)
    if len(text) > room:  # the body was already at Connect's limit: the notice takes its place at the end
        text = _cut(text, room, html_body=is_html)
    return Body(text + notice, "text/html" if is_html else "text/plain")


@lru_cache(maxsize=1)
def _cleaned(markup: str, outcomes: _Outcomes) -> str:
    """The cleaned HTML, once per message: the pipeline builds each message's requests more than once
    (for each destination, and again for a fallback), and a body at Connect's limit takes seconds."""
    from ses_to_connect.html_clean import clean_html  # noqa: PLC0415 (HTML bodies only)

    return clean_html(markup, outcomes.label)


def _not_delivered(skipped: Sequence[Skipped], unnamed: int, *, html_body: bool) -> str:
    """The end-of-body notice: one line per file and reason (at most ``MAX_LISTED``; files of one
    name and reason counted on one line), then "… and N more"."""
    if not skipped and not unnamed:
        return ""
    # Names as Connect shows attached ones: no right-to-left override makes "exe.pdf" of "fdp.exe".
    counted = Counter(f"{visible_name(item.file_name)}: {reason_words(item.reason)}" for item in skipped)
    lines = [line if n == 1 else f"{line} ({n} files)" for line, n in list(counted.items())[:MAX_LISTED]]
    more = sum(list(counted.values())[MAX_LISTED:]) + unnamed
    if more:
        lines.append(f"… and {more} more")
    if html_body:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        return f"\n<hr>\n<p>{html.escape(NOT_DELIVERED_HEADING)}</p><ul>{items}</ul>"
    return "\n\n----\n" + "\n".join([NOT_DELIVERED_HEADING, *(f"- {line}" for line in lines)])


def _cut(text: str, size: int, *, html_body: bool) -> str:
    """``text`` within ``size`` characters: the customer's text is shortened, the truncation note at
    its end (if any) kept; in HTML, the text does not end inside a tag."""
    note_at = text.rfind(TRUNCATION_MARK, max(0, len(text) - 1000))
    note = text[note_at:] if note_at >= 0 else ""
    cut = text[: min(size, len(text)) - len(note)]
    if html_body and cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    return cut + note


def description(
    customer: Address,
    subject: str,
    *,
    sent: int,
    skipped: Sequence[Skipped],
    unnamed: int,
    flags: Sequence[str],
) -> str:
    """One line for the contact's ``Description``: who wrote, about what, which files came, flags."""
    sender = f"{customer.display_name} <{customer.email}>" if customer.display_name else customer.email
    parts = [f"Email from {sender}: {subject or '(no subject)'}"]
    missing = [visible_name(item.file_name) for item in skipped if item.reason != Skip.SMALL_INLINE_IMAGE]
    not_sent = len(missing) + unnamed
    if sent or not_sent:
        parts.append(f"{sent} attachment{'s' * (sent != 1)} delivered")
    if not_sent:
        counted = list(Counter(missing).items())
        names = [name if n == 1 else f"{name} ({n} files)" for name, n in counted[:MAX_LISTED]]
        names += ["…"] if unnamed or len(counted) > MAX_LISTED else []
        parts.append(f"{not_sent} not delivered ({', '.join(names)})")
    if flags:
        parts.append(f"flags: {', '.join(flags)}")
    line = clean_text(" · ".join(parts))
    return line if len(line) <= MAX_DESCRIPTION else line[: MAX_DESCRIPTION - 1] + "…"
