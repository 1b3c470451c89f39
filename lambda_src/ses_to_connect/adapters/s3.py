"""Stored mail in S3: read it in chunks, quarantine it, store and sign its attachments."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from ses_to_connect.attachments import Candidate
from ses_to_connect.errors import StorageError

# Without s3:ListBucket (not granted), S3 answers AccessDenied for a key that does not exist.
# Either way retrying cannot help: the event goes to the failure queue at once.
_PERMANENT_CODES = frozenset({"NoSuchKey", "404", "NotFound", "AccessDenied", "403"})
CHUNK_BYTES = 256 * 1024
logger = Logger(child=True)


class MailStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def read_chunks(self, key: str) -> Iterator[bytes]:
        """The object in 256 KiB chunks: the parser never holds the whole message as one bytes, and
        small chunks keep its line buffer small (1 MiB chunks cost 0.5x the message size in RSS)."""
        try:
            body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
            yield from body.iter_chunks(CHUNK_BYTES)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise StorageError(
                f"cannot read s3://{self._bucket}/{key}: {code}", permanent=code in _PERMANENT_CODES
            ) from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read s3://{self._bucket}/{key}: {type(exc).__name__}") from exc

    def quarantine(self, source_key: str, target_key: str, reason: str, message_id: str) -> None:
        """Copy (never move) the raw message, with the reason in the object's metadata."""
        try:
            self._client.copy_object(
                Bucket=self._bucket,
                Key=target_key,
                CopySource={"Bucket": self._bucket, "Key": source_key},
                MetadataDirective="REPLACE",
                Metadata={"quarantine-reason": reason, "ses-message-id": message_id},
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot quarantine s3://{self._bucket}/{source_key}: {exc}") from exc

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        try:
            body = json.dumps(document, sort_keys=True).encode()
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot write s3://{self._bucket}/{key}: {exc}") from exc


class AttachmentStore:
    """The :class:`~ses_to_connect.attachments.AttachmentSink` of the Lambda: S3 plus a pre-signed GET."""

    def __init__(self, client: Any, bucket: str, url_expiry_seconds: int) -> None:
        self._client = client
        self._bucket = bucket
        self._expiry = url_expiry_seconds
        self._url_lengths: deque[int] = deque()  # appended from the upload threads (thread-safe)

    def store(self, key: str, candidate: Candidate, data: bytes) -> str:
        try:
            # Encrypted by the bucket's default encryption (SSE-S3 or the stack's KMS key).
            self._client.put_object(
                Bucket=self._bucket, Key=key, Body=data, ContentType=candidate.content_type
            )
            url: str = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=self._expiry
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot store attachment s3://{self._bucket}/{key}: {exc}") from exc
        # The URL carries the role's session token: its length (Connect takes at most 2,000
        # characters) depends on the credentials, not on this code, so it is watched in production.
        logger.info("attachment stored", extra={"url_length": len(url)})
        self._url_lengths.append(len(url))
        return url

    def take_url_lengths(self) -> list[int]:
        """The lengths of the URLs signed since the last call (the handler makes them a metric)."""
        lengths = []
        while self._url_lengths:
            lengths.append(self._url_lengths.popleft())
        return lengths
