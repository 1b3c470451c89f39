"""In-memory stand-ins for the pipeline's ports, for tests of what it sends Connect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ses_to_connect.errors import AttachmentsRejected
from ses_to_connect.limits import check_request

if TYPE_CHECKING:
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef


class StoredMail:
    """One stored message; the reasons it was quarantined for and the documents written beside it."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.quarantined: list[str] = []
        self.documents: dict[str, dict[str, Any]] = {}

    def read_chunks(self, key: str) -> Iterator[bytes]:
        yield self.raw

    def quarantine(self, source_key: str, target_key: str, reason: str, message_id: str) -> None:
        self.quarantined.append(reason)

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        self.documents[key] = document


class RefusingFiles:
    """Connect refusing every request that carries files, for ``reason``; the others create
    contacts, once checked against Connect's limits."""

    def __init__(self, reason: str | None = "INVALID_FILE_TYPE") -> None:
        self.reason = reason  # None: files are taken
        self.created: list[StartEmailContactRequestTypeDef] = []

    def start(self, request: StartEmailContactRequestTypeDef) -> str:
        if self.reason and request.get("Attachments"):
            raise AttachmentsRejected("refused", code="InvalidRequestException", reason=self.reason)
        problems = check_request(request)
        if problems:
            raise AssertionError(f"Connect would refuse it: {problems}")
        self.created.append(request)
        return f"contact-{len(self.created)}"
