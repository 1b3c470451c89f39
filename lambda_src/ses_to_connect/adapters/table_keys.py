"""DynamoDB key values that DynamoDB accepts, whatever the sender put in a header.

A partition key holds at most 2,048 bytes of UTF-8 (DynamoDB developer guide, "Service, account,
and table quotas": partition key value length), on reads as on writes; a Message-ID, In-Reply-To or
References id is the sender's choice and may be longer, or carry 8-bit bytes that are not UTF-8.
Such a value is replaced by its SHA-256, the same on every write and read, so a long id still
threads: nothing is skipped.
"""

from __future__ import annotations

import hashlib

MAX_PARTITION_KEY_BYTES = 2048
HASHED_PREFIX = "sha256:"


def table_key(value: str) -> str:
    """``value`` when DynamoDB can key on it, else ``sha256:<hex of its UTF-8 bytes>``."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # 8-bit header bytes kept as lone surrogates: not valid UTF-8
        size = MAX_PARTITION_KEY_BYTES + 1
    if size <= MAX_PARTITION_KEY_BYTES:
        return value
    return HASHED_PREFIX + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
