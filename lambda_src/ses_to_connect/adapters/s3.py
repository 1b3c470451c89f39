"""Stored mail in S3: read it in chunks, quarantine it, store and sign its attachments."""

from __future__ import annotations

import contextlib
import json
import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger

from ses_to_connect.adapters.aws_errors import translated
from ses_to_connect.attachments import Candidate
from ses_to_connect.limits import MAX_ATTACHMENT_BYTES

# Without s3:ListBucket (not granted), S3 answers AccessDenied for a key that does not exist.
# Either way retrying cannot help: the event goes to the failure queue at once.
MISSING_OBJECT = frozenset({"NoSuchKey", "404", "NotFound", "AccessDenied", "403"})
CHUNK_BYTES = 256 * 1024
# RFC 9110's type/subtype, each a token: printable ASCII without separators.
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")
FALLBACK_CONTENT_TYPE = "application/octet-stream"
logger = Logger(child=True)


def header_value(value: str) -> str:
    """``value`` as an HTTP header can carry it: printable ASCII, anything else backslash-escaped.

    botocore signs headers as ``str`` and cannot encode 8-bit text (a lone surrogate from an
    undecodable header byte makes its signer raise ``AttributeError``); S3 would garble the rest.
    """
    text = value.encode("ascii", "backslashreplace").decode("ascii")
    return re.sub(r"[\x00-\x1f\x7f]", lambda char: f"\\x{ord(char[0]):02x}", text)


def content_type(value: str) -> str:
    """The sender's media type if it is one, else ``application/octet-stream`` (never sent as is)."""
    return value if _MEDIA_TYPE.fullmatch(value) else FALLBACK_CONTENT_TYPE


class MailStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def read_chunks(self, key: str) -> Iterator[bytes]:
        """The object in 256 KiB chunks: the parser never holds the whole message as one bytes, and
        small chunks keep its line buffer small (1 MiB chunks cost 0.5x the message size in RSS)."""
        where = f"cannot read s3://{self._bucket}/{key}"
        # S3's messages only restate the code ("The specified key does not exist.").
        with translated(where, permanent=MISSING_OBJECT, service_message=False):
            body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
            yield from body.iter_chunks(CHUNK_BYTES)

    def quarantine(self, source_key: str, target_key: str, reason: str, message_id: str) -> None:
        """Copy (never move) the raw message, with the reason in the object's metadata."""
        with translated(f"cannot quarantine s3://{self._bucket}/{source_key}"):
            self._client.copy_object(
                Bucket=self._bucket,
                Key=target_key,
                CopySource={"Bucket": self._bucket, "Key": source_key},
                MetadataDirective="REPLACE",
                Metadata={
                    "quarantine-reason": header_value(reason),
                    "ses-message-id": header_value(message_id),
                },
            )

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        body = json.dumps(document, sort_keys=True).encode()
        with translated(f"cannot write s3://{self._bucket}/{key}"):
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")


class AttachmentStore:
    """The Lambda's :class:`~ses_to_connect.ports.AttachmentSink`: S3 objects and pre-signed GET URLs.

    Up to ``uploads`` files are stored at once, on as many threads (none for one), and the
    files in flight stay within ``MAX_ATTACHMENT_BYTES`` together whatever that number: a
    file is decoded only once it fits (:meth:`_Uploads.make_room`), so memory holds at most
    one maximum-size attachment beyond the parsed message.
    """

    def __init__(self, client: Any, bucket: str, url_expiry_seconds: int, *, uploads: int = 1) -> None:
        self._client = client
        self._bucket = bucket
        self._expiry = url_expiry_seconds
        self._workers = uploads
        self._url_lengths: deque[int] = deque()  # appended from the upload threads (thread-safe)

    @contextlib.contextmanager
    def uploads(self) -> Iterator[_Uploads]:
        pool = None
        if self._workers > 1:
            pool = ThreadPoolExecutor(self._workers, thread_name_prefix="attachment-upload")
        with pool or contextlib.nullcontext():  # leaving the pool waits for every store it started
            batch = _Uploads(self, self._workers, pool)
            yield batch
            batch.finish()

    def take_url_lengths(self) -> list[int]:
        """The lengths of the URLs signed since the last call (the handler makes them a metric)."""
        lengths = []
        while self._url_lengths:
            lengths.append(self._url_lengths.popleft())
        return lengths

    def sign(self, key: str) -> str:
        """A pre-signed GET, signed locally: known before the object is stored."""
        with translated(f"cannot sign s3://{self._bucket}/{key}"):
            url: str = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=self._expiry
            )
        return url

    def put(self, key: str, candidate: Candidate, data: bytes, url: str) -> None:
        with translated(f"cannot store attachment s3://{self._bucket}/{key}"):
            # Encrypted by the bucket's default encryption (SSE-S3 or the stack's KMS key).
            self._client.put_object(
                Bucket=self._bucket, Key=key, Body=data, ContentType=content_type(candidate.content_type)
            )
        # The URL carries the role's session token: its length (Connect takes at most 2,000
        # characters) depends on the credentials, not on this code, so it is watched in production.
        logger.info("attachment stored", extra={"url_length": len(url)})
        self._url_lengths.append(len(url))


class _Uploads:
    """One message's stores in flight, oldest first; a failed store is raised when its turn comes."""

    def __init__(self, target: AttachmentStore, workers: int, pool: Executor | None) -> None:
        self._target = target
        self._workers = workers
        self._pool = pool
        self._in_flight: deque[tuple[int, Future[None]]] = deque()  # (bytes held, store)

    def make_room(self, size: int) -> None:
        while self._in_flight and (
            len(self._in_flight) >= self._workers
            or sum(held for held, _ in self._in_flight) + size > MAX_ATTACHMENT_BYTES
        ):
            self._finish_oldest()

    def store(self, key: str, candidate: Candidate, data: bytes) -> str:
        url = self._target.sign(key)
        if self._pool is None:
            self._target.put(key, candidate, data, url)
        else:
            stored = self._pool.submit(self._target.put, key, candidate, data, url)
            self._in_flight.append((len(data), stored))
        return url

    def finish(self) -> None:
        while self._in_flight:
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        _, stored = self._in_flight.popleft()
        stored.result()  # a failed store raises here, in order
