"""What a message's requests are built from besides the message itself: fixed once, reused on retry.

A retry must send Connect byte-identical requests, or Connect answers IdempotencyException and
never says the contact's id. The stored message, its SES record and the settings give the same
requests every time (``convert`` is pure); what comes from I/O does not: the pre-signed
attachment URLs (a new X-Amz-Date, signature and session token at every signing), the thread
root found in the thread index (which grows), and the fallbacks taken after Connect refused a
request. A :class:`Delivery` holds exactly those. The ledger stores it before the first
``StartEmailContact`` and every retry reads it back (docs/exactly-once.md).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from urllib.parse import parse_qs, urlsplit

from ses_to_connect.attachments import Skipped
from ses_to_connect.timing import URL_SAFETY_MARGIN_SECONDS

# Skipped files kept by name, in UTF-8 bytes: more than fill the 4,096-character
# sesAttachmentsSkipped listing (4 bytes a character at worst), far below DynamoDB's 400 KB
# item whatever the names. The rest are kept as counts per reason.
MAX_SKIPPED_BYTES = 20_000
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class Drop(StrEnum):
    """What a destination's request leaves out after Connect refused it with it."""

    ATTACHMENTS = "attachments"  # refused files (INVALID_FILE_TYPE...): sent without them
    RELATED = "related"  # an unknown RelatedContactId: sent unlinked


@dataclass(frozen=True)
class Delivery:
    """The I/O-derived inputs of a message's requests, as the ledger stores them."""

    attachments: tuple[dict[str, str], ...]  # {FileName, S3Url}, in order
    skipped: tuple[Skipped, ...]  # files not stored, with the reason (those within MAX_SKIPPED_BYTES)
    related_contact_id: str | None  # the thread root found when the message was first handled
    valid_until: float | None  # epoch seconds the URLs can still be replayed; None: no URLs
    # Base ClientToken -> the steps its request dropped, in order ("attachments:<reason>", "related").
    dropped: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    more_skipped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # reason -> count
    # How the thread root was found (sesThreadMatch); None in deliveries recorded before it was kept.
    thread_match: str | None = None

    @classmethod
    def signed(
        cls,
        attachments: Iterable[dict[str, str]],
        skipped: Iterable[Skipped],
        related_contact_id: str | None,
        dropped: Mapping[str, tuple[str, ...]],
        thread_match: str | None = None,
    ) -> Delivery:
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

    def steps(self, token: str) -> tuple[str, ...]:
        return tuple(self.dropped.get(token, ()))

    def with_steps(self, token: str, steps: tuple[str, ...]) -> Delivery:
        dropped = {**self.dropped, token: steps}
        return replace(self, dropped=MappingProxyType({k: v for k, v in dropped.items() if v}))

    def to_json(self) -> str:
        return json.dumps(
            {
                "attachments": [dict(item) for item in self.attachments],
                "skipped": [list(item) for item in self.skipped],
                "relatedContactId": self.related_contact_id,
                "validUntil": self.valid_until,
                "dropped": {token: list(steps) for token, steps in sorted(self.dropped.items())},
                "moreSkipped": dict(self.more_skipped),
                "threadMatch": self.thread_match,
            },
            sort_keys=True,
            ensure_ascii=False,  # DynamoDB counts UTF-8 bytes; \uXXXX escapes would triple them
        )

    @classmethod
    def from_json(cls, text: str) -> Delivery:
        data = json.loads(text)
        return cls(
            attachments=tuple({"FileName": a["FileName"], "S3Url": a["S3Url"]} for a in data["attachments"]),
            skipped=tuple(Skipped(name, reason) for name, reason in data["skipped"]),
            related_contact_id=data["relatedContactId"],
            valid_until=data["validUntil"],
            dropped=MappingProxyType({token: tuple(steps) for token, steps in data["dropped"].items()}),
            more_skipped=MappingProxyType(dict(data["moreSkipped"])),
            thread_match=data.get("threadMatch"),
        )


def variant_token(token: str, steps: Iterable[str]) -> str:
    """The ClientToken of a request that dropped ``steps``: its own, derived from the first.

    A refused request may or may not use up its token in Connect (undocumented); a fallback
    with a token of its own works either way, and stays deterministic, so a retry of the
    fallback reuses it.
    """
    steps = tuple(steps)
    if not steps:
        return token
    return hashlib.sha256("\n".join((token, *steps)).encode()).hexdigest()


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
