"""Every destination's final request, fallbacks included: tokens, dropped parts and Connect's limits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from email.message import EmailMessage

import pytest

from ses_to_connect.attachments import Skipped
from ses_to_connect.convert import (
    Plan,
    UnsignedUrlSink,
    _skipped_listing,
    client_token,
    final_requests,
    plan,
    variant_token,
)
from ses_to_connect.delivery import DeliveryRecord
from ses_to_connect.errors import DeliveryError
from ses_to_connect.event_builder import build_ses_event
from ses_to_connect.limits import MAX_ATTRIBUTES_BYTES, attributes_size
from ses_to_connect.model import Outcome
from ses_to_connect.pipeline import Adapters, Pipeline
from ses_to_connect.ses_event import REPLAY_KEY, SesRecord, records
from ses_to_connect.settings import Settings
from tests.support.constants import MESSAGE_ID, SUPPORT
from tests.support.fakes import FakeMailStorage, FilesRefusingConnect
from tests.support.mail import handwritten
from tests.unit.builders import run, settings

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
    ledger_item: dict[str, object] = {
        "attachments": [],
        "skipped": [],
        "relatedContactId": None,
        "validUntil": None,
        "moreSkipped": {},
        "dropped": {base: steps},
    }
    recorded = DeliveryRecord.from_json(json.dumps(ledger_item))

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
    connect = FilesRefusingConnect()
    mail = stored_mail(raw)
    pipeline = Pipeline(config, Adapters(mail, UnsignedUrlSink("mail-bucket"), connect))

    result = pipeline.process(record)

    [request] = connect.created
    assert (result.outcome, result.contact_ids) == (Outcome.CONTACT, ("contact-1",))
    assert mail.quarantine_reasons == []
    assert "Attachments" not in request
    assert attributes_size(request["Attributes"]) <= MAX_ATTRIBUTES_BYTES
    assert request["Attributes"]["sesAttachmentsSent"] == "0"
    assert request["Attributes"]["sesAttachmentsSkipped"].endswith(" more")
    assert request["Attributes"]["sesReplayReason"] == WIDE * 1024  # cut only as far as needed
    assert "attribute_cut:sesAttachmentsSkipped" in result.defects
    assert result.attachments_skipped == {"rejected_by_connect:INVALID_FILE_TYPE": 10}


# --- within Connect's attribute budget, or a recorded decision ---------------------------------


def with_static_attributes(config: Settings, attributes: dict[str, str]) -> Settings:
    """``config`` with static attributes past the settings' own budget: the stack accepts all of
    Connect's 32,768 bytes, so the core must not count on the function's reader refusing them."""
    object.__setattr__(config, "static_attributes", attributes)  # past the frozen dataclass's checks
    return config


def planned_message(raw: bytes, config: Settings, *, reason: str, source: str) -> Plan:
    planned = plan(raw, replayed(raw, reason=reason, source=source), config)
    assert planned.quarantine_reason is None
    return planned


def test_attributes_over_the_budget_are_cut_in_order_and_the_static_ones_never() -> None:
    static = {f"k{i}": "v" * 250 for i in range(100)}  # 26,000 bytes
    config = with_static_attributes(settings(inbound_prefix="mail/"), static)
    planned = planned_message(handwritten(), config, reason=WIDE * 1024, source=f"{WIDE * 1024}@example.org")
    skipped = tuple(Skipped(f"{WIDE * 200}{n}.exe", "type_not_allowed") for n in range(10))

    finals = final_requests(planned, DeliveryRecord((), skipped, None, None))

    attributes = [final.request["Attributes"] for final in finals.destinations if final.request]
    assert len(attributes) == 1
    [shown] = attributes
    assert attributes_size(shown) <= MAX_ATTRIBUTES_BYTES
    assert {key: shown[key] for key in static} == static
    assert shown["sesAttachmentsSkipped"] == "… and 10 more"
    assert shown["sesReplayReason"].endswith("…")
    assert shown["sesReplayReason"].startswith(WIDE * 100)  # cut only as far as needed
    assert shown["sesEnvelopeSender"] == WIDE * 1024
    assert [d for d in finals.defects if d.startswith("attribute_cut")] == [
        "attribute_cut:sesAttachmentsSkipped",
        "attribute_cut:sesReplayReason",
    ]


def test_a_skipped_listing_cut_to_a_byte_budget_keeps_whole_entries() -> None:
    skipped = [Skipped(f"{WIDE * 10}{n}.exe", "type_not_allowed") for n in range(5)]
    entry = f"{WIDE * 10}0.exe (type_not_allowed)"  # 64 bytes, 66 with "; "

    listing = _skipped_listing(skipped, max_bytes=66 * 2 + len("; … and 3 more".encode()))

    assert listing == f"{entry}; {WIDE * 10}1.exe (type_not_allowed); … and 3 more"
    assert _skipped_listing(skipped, max_bytes=10) == "… and 5 more"


def test_a_message_whose_first_request_cannot_fit_is_quarantined_with_the_limit_it_breaks() -> None:
    config = with_static_attributes(settings(), {"pad": "x" * MAX_ATTRIBUTES_BYTES})
    conversion = run(handwritten(), config=config)

    assert (conversion.outcome, conversion.reason, conversion.requests) == (
        Outcome.QUARANTINE,
        "request_limit_violation",
        [],
    )
    assert any(d.startswith("request_limit_violation:Attributes: ") for d in conversion.defects)


def test_a_fallback_that_cannot_fit_is_not_sent_and_fails_for_good() -> None:
    """The first request fills the budget to the byte; without the refused file it must list the
    file, and nothing the bridge may cut makes room: the destination fails, nothing is sent."""
    raw = long_non_ascii_message(["invoice.pdf"])
    config = settings(inbound_prefix="mail/")
    record = replayed(raw, reason="x", source="customer@example.org")
    stored = ({"FileName": "invoice.pdf", "S3Url": "https://mail-bucket.s3.amazonaws.com/a/00.pdf"},)
    first = final_requests(plan(raw, record, config), DeliveryRecord(stored, (), None, None))
    [request] = [final.request for final in first.destinations if final.request]
    pad = MAX_ATTRIBUTES_BYTES - attributes_size(request["Attributes"]) - len("pad")
    config = with_static_attributes(config, {**config.static_attributes, "pad": "x" * pad})
    connect = FilesRefusingConnect()
    pipeline = Pipeline(config, Adapters(stored_mail(raw), UnsignedUrlSink("mail-bucket"), connect))

    with pytest.raises(DeliveryError) as raised:
        pipeline.process(record)

    assert (raised.value.code, raised.value.retryable, connect.created) == (
        "RequestLimitViolation",
        False,
        [],
    )
    assert "Connect refused the request (InvalidRequestException INVALID_FILE_TYPE)" in str(raised.value)
    assert "without attachments breaks Connect's limits: Attributes: " in str(raised.value)


def stored_mail(raw: bytes) -> FakeMailStorage:
    """The bucket holding ``raw`` where the replayed record names it."""
    mail = FakeMailStorage()
    mail.objects[f"mail/{MESSAGE_ID}"] = raw
    return mail
