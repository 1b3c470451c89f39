"""Reply threading: a DynamoDB table from each contact's Message-ID to its ContactId.

Each item also keeps the thread's root contact, so every reply in a thread links to the
contact that started it (Connect's RelatedContactId copies that contact's attributes).
"""

from __future__ import annotations

import time
from typing import Any

from ses_to_connect.adapters.aws_errors import translated
from ses_to_connect.adapters.table_keys import table_key

MAX_IDS_LOOKED_UP = 100  # BatchGetItem's limit; a References header rarely has more


class ThreadIndex:
    def __init__(self, client: Any, table: str, ttl_days: int) -> None:
        self._client = client
        self._table = table
        self._ttl_seconds = ttl_days * 86_400

    def find_root(self, message_ids: list[str]) -> str | None:
        """The root contact of the first (most direct) id that is known; unknown ids are normal."""
        ids = list(dict.fromkeys(map(table_key, message_ids)))[:MAX_IDS_LOOKED_UP]
        if not ids:
            return None
        keys = [{"messageId": {"S": message_id}} for message_id in ids]
        found: dict[str, str] = {}
        request: dict[str, Any] = {
            self._table: {"Keys": keys, "ProjectionExpression": "messageId, rootContactId"}
        }
        with translated(f"cannot read thread index {self._table}"):
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    found[item["messageId"]["S"]] = item["rootContactId"]["S"]
                request = response.get("UnprocessedKeys") or {}
        return next((found[message_id] for message_id in ids if message_id in found), None)

    def remember(self, message_id: str, contact_id: str, root_contact_id: str) -> None:
        item = {
            "messageId": {"S": table_key(message_id)},  # an id over DynamoDB's key limit, hashed
            "contactId": {"S": contact_id},
            "rootContactId": {"S": root_contact_id},
            "expiresAt": {"N": str(int(time.time()) + self._ttl_seconds)},
        }
        with translated(f"cannot write thread index {self._table}"):
            self._client.put_item(TableName=self._table, Item=item)
