"""Reading stored mail from S3 and copying it to quarantine."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ses_to_connect.errors import StorageError

_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class MailStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def read(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
            data: bytes = response["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise StorageError(
                f"cannot read s3://{self._bucket}/{key}: {code}", missing=code in _MISSING_CODES
            ) from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read s3://{self._bucket}/{key}: {type(exc).__name__}") from exc
        return data

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
