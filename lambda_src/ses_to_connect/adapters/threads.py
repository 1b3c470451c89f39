"""Reply threading: a DynamoDB table from each contact's Message-ID to its ContactId.

Each item also keeps the thread's root contact, so every reply in a thread links to the
contact that started it (Connect's RelatedContactId copies that contact's attributes), and how
the id became known (``matchedBy``: absent for the bridge's own contacts, ``agent-reply`` for an
agent reply read from Connect). Items keyed ``customer:<address>`` list the thread roots of each
customer's recent contacts: where to look for agent replies (docs/threading.md).
"""

from __future__ import annotations

import time
from typing import Any

from ses_to_connect.adapters.aws_errors import translated
from ses_to_connect.adapters.table_keys import table_key
from ses_to_connect.thread_match import ThreadEntry, ThreadMatch

MAX_IDS_LOOKED_UP = 100  # BatchGetItem's limit; a References header rarely has more
# Thread roots kept per customer (newest first): the threads searched for an agent's reply.
MAX_CUSTOMER_THREADS = 3
MAX_ADDRESS = 254  # RFC 5321's longest path: any longer address is not kept (nor its key too long)
_CUSTOMER_KEY = "customer:"


class ThreadIndex:
    def __init__(self, client: Any, table: str, ttl_days: int) -> None:
        self._client = client
        self._table = table
        self._ttl_seconds = ttl_days * 86_400

    def entries(self, message_ids: list[str]) -> dict[str, ThreadEntry]:
        """What the index knows of each of these ids; unknown ids are normal (absent)."""
        # A bracketless "id" may look like a customer key: it is no Message-ID the bridge stored.
        wanted = [m for m in dict.fromkeys(message_ids) if not m.startswith(_CUSTOMER_KEY)]
        keys_of = {m: table_key(m) for m in wanted[:MAX_IDS_LOOKED_UP]}  # long ids hashed
        ids = list(dict.fromkeys(keys_of.values()))
        if not ids:
            return {}
        keys = [{"messageId": {"S": message_id}} for message_id in ids]
        found: dict[str, ThreadEntry] = {}
        request: dict[str, Any] = {
            self._table: {"Keys": keys, "ProjectionExpression": "messageId, rootContactId, matchedBy"}
        }
        with translated(f"cannot read thread index {self._table}"):
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    match = item.get("matchedBy", {}).get("S", ThreadMatch.REFERENCES)
                    found[item["messageId"]["S"]] = ThreadEntry(
                        item["rootContactId"]["S"], ThreadMatch(match)
                    )
                request = response.get("UnprocessedKeys") or {}
        return {message_id: found[key] for message_id, key in keys_of.items() if key in found}

    def remember_agent_reply(self, message_id: str, contact_id: str, root_contact_id: str) -> None:
        """An agent reply's Message-ID, read from Connect: a later reply naming it finds its thread."""
        self._put(message_id, contact_id, root_contact_id, {"matchedBy": {"S": ThreadMatch.AGENT_REPLY}})

    def customer_threads(self, address: str) -> list[str]:
        """The roots of the customer's recent threads, newest first."""
        if len(address) > MAX_ADDRESS:
            return []
        with translated(f"cannot read thread index {self._table}"):
            item = self._client.get_item(
                TableName=self._table, Key={"messageId": {"S": _CUSTOMER_KEY + address.lower()}}
            ).get("Item")
        return [] if item is None else [value["S"] for value in item["roots"]["L"]]

    def remember_customer_thread(self, address: str, root_contact_id: str) -> None:
        """Put the thread first in the customer's list. A lost race loses a candidate: no wrong link."""
        if len(address) > MAX_ADDRESS:
            return
        roots = [root_contact_id, *(r for r in self.customer_threads(address) if r != root_contact_id)]
        item = {
            "messageId": {"S": _CUSTOMER_KEY + address.lower()},
            "roots": {"L": [{"S": root} for root in roots[:MAX_CUSTOMER_THREADS]]},
            "expiresAt": {"N": str(int(time.time()) + self._ttl_seconds)},
        }
        with translated(f"cannot write thread index {self._table}"):
            self._client.put_item(TableName=self._table, Item=item)

    def remember(self, message_id: str, contact_id: str, root_contact_id: str) -> None:
        self._put(message_id, contact_id, root_contact_id, {})

    def _put(self, message_id: str, contact_id: str, root_contact_id: str, extra: dict[str, Any]) -> None:
        if message_id.startswith(_CUSTOMER_KEY):
            return  # never looked up (see entries), and it must not replace a customer's list
        item = {
            **extra,
            "messageId": {"S": table_key(message_id)},  # an id over DynamoDB's key limit, hashed
            "contactId": {"S": contact_id},
            "rootContactId": {"S": root_contact_id},
            "expiresAt": {"N": str(int(time.time()) + self._ttl_seconds)},
        }
        with translated(f"cannot write thread index {self._table}"):
            self._client.put_item(TableName=self._table, Item=item)
