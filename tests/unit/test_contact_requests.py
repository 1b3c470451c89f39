"""Every destination's final request, fallbacks included: tokens, dropped parts and Connect's limits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING

import pytest

from ses_to_connect.convert import UnsignedUrlSink, client_token, variant_token
from ses_to_connect.delivery import Delivery
from ses_to_connect.event_builder import build_ses_event
from ses_to_connect.limits import MAX_ATTRIBUTES_BYTES, attributes_size
from ses_to_connect.model import Outcome
from ses_to_connect.pipeline import Adapters, Pipeline
from ses_to_connect.ses_event import REPLAY_KEY, SesRecord, records
from tests.unit.builders import MESSAGE_ID, SUPPORT, settings
from tests.unit.pipeline_fakes import RefusingFiles, StoredMail

if TYPE_CHECKING:
    pass

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


# --- the pipeline never raises on a request it built ----------------------------------------


WIDE = "\U0001f4ce"  # a character of four UTF-8 bytes, the most one takes


def long_non_ascii_message(file_names: Sequence[str]) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Customer <customer@example.org>"
    mail["To"] = SUPPORT
    mail["Subject"] = "Files"
    mail.set_content("See the files.")
    for name in file_names:
        mail.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf", filename=name)
    return mail.as_bytes()


def replayed(raw: bytes, reason: str, source: str) -> SesRecord:
    event = build_ses_event(raw, message_id=MESSAGE_ID, recipients=[SUPPORT], source=source)
    event["Records"][0][REPLAY_KEY] = {"sourceKey": f"mail/{MESSAGE_ID}", "deliver": True, "reason": reason}
    return records(event)[0]


def test_refused_files_whose_listing_breaks_the_attribute_budget_still_give_a_valid_fallback() -> None:
    """The reviewer's probe: the first request fits Connect's 32,768-byte attribute budget; the
    fallback without the refused files lists them in ``sesAttachmentsSkipped``, long non-ASCII
    names beside a long non-ASCII replay reason and sender, and would not fit."""
    names = [f"{WIDE * 240}{n}.pdf" for n in range(10)]
    raw = long_non_ascii_message(names)
    config = settings(static_attributes={f"k{i}": "v" * 150 for i in range(100)}, inbound_prefix="mail/")
    record = replayed(raw, reason=WIDE * 2000, source=f"{WIDE * 1000}@example.org")
    connect = RefusingFiles()
    mail = StoredMail(raw)
    pipeline = Pipeline(config, Adapters(mail, UnsignedUrlSink("mail-bucket"), connect))

    result = pipeline.process(record)

    [request] = connect.created
    assert (result.outcome, result.contact_ids, mail.quarantined) == (Outcome.CONTACT, ("contact-1",), [])
    assert "Attachments" not in request
    assert attributes_size(request["Attributes"]) <= MAX_ATTRIBUTES_BYTES
    assert request["Attributes"]["sesAttachmentsSent"] == "0"
    assert request["Attributes"]["sesAttachmentsSkipped"].endswith(" more")
    assert request["Attributes"]["sesReplayReason"] == WIDE * 1024  # cut only as far as needed
    assert "attribute_cut:sesAttachmentsSkipped" in result.defects
    assert result.attachments_skipped == {"rejected_by_connect:INVALID_FILE_TYPE": 10}
