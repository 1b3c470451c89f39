"""Every destination's final request, fallbacks included: tokens, dropped parts and Connect's limits."""

from __future__ import annotations

import json

import pytest

from ses_to_connect.convert import client_token
from ses_to_connect.delivery import Delivery, variant_token
from tests.unit.builders import MESSAGE_ID

# (message id, destination, steps the ledger recorded, the ClientToken deployed functions sent).
# A change to any of them makes a redeployed function send a retried or replayed message under a
# new token: Connect would create a second contact.
PINNED_TOKENS = [
    (
        MESSAGE_ID,
        "support@example.com",
        [],
        "00c69b53197295ad363b8e96c471a3a6f3eda24d4c59123f02be6e52beb7b631",
    ),
    (
        MESSAGE_ID,
        "support@example.com",
        ["attachments:INVALID_FILE_TYPE"],
        "22a1d42905d2f0bf6ff492fa9cad8c44a82fdfe87122161f4d384a4d0f3012c8",
    ),
    (
        MESSAGE_ID,
        "support@example.com",
        ["related"],
        "d9f8a9897cf6387508f548ce85dea178412bc2b4ad313e25bc5d59bf0642975d",
    ),
    (
        MESSAGE_ID,
        "support@example.com",
        ["related", "attachments:INVALID_FILE_SIZE"],
        "cabb30364a32f21be60ec5afe6c118522d6bdb963c21cf945ff6017b9305d371",
    ),
    (MESSAGE_ID, "Sales@Example.COM", [], "9f334a13659da3424ab4b49eb14fbd8a4d7dd08ff08058a244b6b1eb5f88d0ba"),
    (
        MESSAGE_ID,
        "Sales@Example.COM",
        ["attachments:TOTAL_FILE_SIZE_EXCEEDED", "related"],
        "bc74d1fd922502282a20450ceb0eacbf8d96864b3e6b2fb4466b1eccc86c003e",
    ),
    (
        "0000018f-replay",
        "ünïcode@exämple.org",
        [],
        "c8bbd5c7cf648ade163ffd365541c580e52e166e59b340a3e5a60bb56c2e0785",
    ),
    (
        "0000018f-replay",
        "ünïcode@exämple.org",
        ["attachments:INVALID_FILE_TYPE"],
        "8f44e4c7fcede031b78c8956163591edb314b5c30c11a0c7e5d2c8310e143a49",
    ),
]


@pytest.mark.parametrize(("message_id", "destination", "steps", "token"), PINNED_TOKENS)
def test_client_tokens_are_those_deployed_functions_sent(
    message_id: str, destination: str, steps: list[str], token: str
) -> None:
    """The ledger stores the steps as text: read back, they give the token sent before."""
    base = client_token(message_id, destination)
    ledger_item = {
        "attachments": [],
        "skipped": [],
        "relatedContactId": None,
        "validUntil": None,
        "moreSkipped": {},
        "dropped": {base: steps},
    }
    recorded = Delivery.from_json(json.dumps(ledger_item))

    assert variant_token(base, recorded.steps(base)) == token
