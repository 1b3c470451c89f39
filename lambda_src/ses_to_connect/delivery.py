"""What a message's requests are built from besides the message itself: fixed once, reused on retry.

A retry must send Connect byte-identical requests, or Connect answers IdempotencyException and
never says the contact's id. The stored message, its SES record and the settings give the same
requests every time (``convert`` is pure); what comes from I/O does not: the pre-signed
attachment URLs (a new X-Amz-Date, signature and session token at every signing), the thread
root found in the thread index (which grows), and the fallbacks taken after Connect refused a
request. A :class:`DeliveryRecord` holds exactly those. The ledger stores it before the first
``StartEmailContact`` and every retry reads it back (docs/exactly-once.md).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from urllib.parse import parse_qs, urlsplit

from ses_to_connect.attachments import Skip, Skipped
from ses_to_connect.timing import URL_SAFETY_MARGIN_SECONDS

# Skipped files kept by name, in UTF-8 bytes: more than fill the 4,096-character
# sesAttachmentsSkipped listing (4 bytes a character at worst), far below DynamoDB's 400 KB
# item whatever the names. The rest are kept as counts per reason.
MAX_SKIPPED_BYTES = 20_000
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class DropKind(StrEnum):
    """The part of a request a fallback leaves out."""

    ATTACHMENTS = "attachments"  # refused files (INVALID_FILE_TYPE...): sent without them
    RELATED = "related"  # an unknown RelatedContactId: sent unlinked


@dataclass(frozen=True)
class Drop:
    """What a destination's request leaves out after Connect refused it with it."""

    kind: DropKind
    reason: str = ""  # Connect's reason for refusing the files

    @classmethod
    def files(cls, reason: str) -> Drop:
        return cls(DropKind.ATTACHMENTS, reason)

    @classmethod
    def related(cls) -> Drop:
        return cls(DropKind.RELATED)

    @classmethod
    def parse(cls, text: str) -> Drop:
        kind, _, reason = text.partition(":")
        return cls(DropKind(kind), reason)

    def __str__(self) -> str:
        """As the ledger stores it and the variant's token is derived from it:
        ``attachments:<reason>`` or ``related``."""
        return f"{self.kind}:{self.reason}" if self.kind is DropKind.ATTACHMENTS else self.kind.value


@dataclass(frozen=True)
class DeliveryRecord:
    """The I/O-derived inputs of a message's requests, as the ledger stores them."""

    attachments: tuple[dict[str, str], ...]  # {FileName, S3Url}, in order
    skipped: tuple[Skipped, ...]  # files not stored, with the reason (those within MAX_SKIPPED_BYTES)
    related_contact_id: str | None  # the thread root found when the message was first handled
    valid_until: float | None  # epoch seconds the URLs can still be replayed; None: no URLs
    # Base ClientToken -> the steps its request dropped, in order.
    dropped: Mapping[str, tuple[Drop, ...]] = field(default_factory=lambda: MappingProxyType({}))
    more_skipped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # reason -> count
    # How the thread root was found (sesThreadMatch); None in deliveries recorded before it was kept.
    thread_match: str | None = None

    @classmethod
    def signed(
        cls,
        attachments: Iterable[dict[str, str]],
        skipped: Iterable[Skipped],
        related_contact_id: str | None,
        dropped: Mapping[str, tuple[Drop, ...]],
        thread_match: str | None = None,
    ) -> DeliveryRecord:
        """A delivery of freshly signed URLs, valid as long as the first of them."""
        sent, skips = tuple(attachments), tuple(skipped)
        kept, size = 0, 0
        for item in skips:
            size += len(item.file_name.encode("utf-8", "surrogatepass")) + len(item.reason) + 8
            if size > MAX_SKIPPED_BYTES:
                break
            kept += 1
        beyond = Counter(item.reason for item in skips[kept:])
        valid_until = urls_valid_until(item["S3Url"] for item in sent)
        return cls(
            sent,
            skips[:kept],
            related_contact_id,
            valid_until,
            dropped,
            MappingProxyType(beyond),
            thread_match,
        )

    def skip_counts(self) -> Counter[str]:
        """Every skipped file's reason, counted (the named ones and the rest)."""
        return Counter(item.reason for item in self.skipped) + Counter(self.more_skipped)

    def replayable(self, now: float) -> bool:
        """Whether a retry may send these URLs again as they are."""
        return self.valid_until is None or now < self.valid_until

    def steps(self, token: str) -> tuple[Drop, ...]:
        return tuple(self.dropped.get(token, ()))

    def with_steps(self, token: str, steps: tuple[Drop, ...]) -> DeliveryRecord:
        dropped = {**self.dropped, token: steps}
        return replace(self, dropped=MappingProxyType({k: v for k, v in dropped.items() if v}))

    @property
    def unlinked(self) -> bool:
        """Whether some destination's request left the thread root out."""
        return any(Drop.related() in steps for steps in self.dropped.values())

    def files(self, steps: tuple[Drop, ...]) -> tuple[list[dict[str, str]], list[Skipped]]:
        """The files a request with ``steps`` dropped sends, and those it lists as skipped."""
        attachments, skipped = list(self.attachments), list(self.skipped)
        for step in steps:
            if step.kind is DropKind.ATTACHMENTS:
                skipped += _refused(attachments, step.reason)
                attachments = []
        return attachments, skipped

    def refused_files(self) -> list[Skipped]:
        """The files Connect refused (once per file, whichever destinations refused them)."""
        steps = (step for steps in self.dropped.values() for step in steps)
        reason = min((step.reason for step in steps if step.kind is DropKind.ATTACHMENTS), default=None)
        return [] if reason is None else _refused(self.attachments, reason)

    def to_json(self) -> str:
        return json.dumps(
            {
                "attachments": [dict(item) for item in self.attachments],
                "skipped": [list(item) for item in self.skipped],
                "relatedContactId": self.related_contact_id,
                "validUntil": self.valid_until,
                "dropped": {token: list(map(str, steps)) for token, steps in sorted(self.dropped.items())},
                "moreSkipped": dict(self.more_skipped),
                "threadMatch": self.thread_match,
            },
            sort_keys=True,
            ensure_ascii=False,  # DynamoDB counts UTF-8 bytes; \uXXXX escapes would triple them
        )

    @classmethod
    def from_json(cls, text: str) -> DeliveryRecord:
        data = json.loads(text)
        return cls(
            attachments=tuple({"FileName": a["FileName"], "S3Url": a["S3Url"]} for a in data["attachments"]),
            skipped=tuple(Skipped(name, reason) for name, reason in data["skipped"]),
            related_contact_id=data["relatedContactId"],
            valid_until=data["validUntil"],
            dropped=MappingProxyType(
                {token: tuple(map(Drop.parse, steps)) for token, steps in data["dropped"].items()}
            ),
            more_skipped=MappingProxyType(dict(data["moreSkipped"])),
            thread_match=data.get("threadMatch"),
        )


def urls_valid_until(urls: Iterable[str]) -> float | None:
    """When the first of these pre-signed URLs stops working, less the safety margin.

    X-Amz-Date + X-Amz-Expires is what each URL says. URLs signed with temporary credentials
    also stop when those expire, which a Lambda function cannot see (its credentials carry no
    expiry): the pipeline treats a refused replay as "URLs no longer valid" and signs again.
    None when no URL carries an expiry (nothing to go stale).
    """
    ends: list[float] = []
    for url in urls:
        query = parse_qs(urlsplit(url).query)
        signed, expires = query.get("X-Amz-Date"), query.get("X-Amz-Expires")
        if not signed or not expires:
            continue
        start = datetime.strptime(signed[0], _AMZ_DATE).replace(tzinfo=UTC).timestamp()
        ends.append(start + int(expires[0]))
    return min(ends) - URL_SAFETY_MARGIN_SECONDS if ends else None


def _refused(attachments: Iterable[Mapping[str, str]], reason: str) -> list[Skipped]:
    """Files Connect refused, listed as skipped with its reason."""
    return [Skipped(item["FileName"], f"{Skip.REJECTED_BY_CONNECT}:{reason}") for item in attachments]
