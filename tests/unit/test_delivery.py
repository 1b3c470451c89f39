"""``ses_to_connect.delivery``: derived tokens, URL validity, and the ledger's JSON."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from ses_to_connect.attachments import Skipped
from ses_to_connect.convert import variant_token
from ses_to_connect.delivery import (
    MAX_SKIPPED_BYTES,
    DeliveryRecord,
    Drop,
    urls_valid_until,
)
from ses_to_connect.timing import URL_SAFETY_MARGIN_SECONDS

BASE = "a" * 64


def signed_url(date: str, expires: int) -> str:
    return (
        "https://mail.s3.amazonaws.com/attachments/m/00.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential=ASIA%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={date}"
        f"&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
    )


def test_the_first_request_keeps_the_base_token_and_each_fallback_has_its_own() -> None:
    files = Drop.files("INVALID_FILE_TYPE")
    attachments = variant_token(BASE, [files])
    both = variant_token(BASE, [Drop.related(), files])

    assert variant_token(BASE, []) == BASE
    assert attachments == hashlib.sha256(f"{BASE}\nattachments:INVALID_FILE_TYPE".encode()).hexdigest()
    assert len({BASE, attachments, both, variant_token(BASE, [Drop.related()])}) == 4
    assert variant_token(BASE, (Drop.related(), files)) == both  # deterministic


def test_urls_are_valid_until_the_first_expires_less_the_margin() -> None:
    start = datetime(2024, 1, 1, 12, 0, tzinfo=UTC).timestamp()

    valid = urls_valid_until([signed_url("20240101T120000Z", 3600), signed_url("20240101T123000Z", 600)])

    assert valid == start + 1800 + 600 - URL_SAFETY_MARGIN_SECONDS
    assert urls_valid_until([]) is None
    assert urls_valid_until(["https://mail.s3.amazonaws.com/attachments/m/00.pdf"]) is None


def test_a_delivery_survives_the_ledger_unchanged() -> None:
    delivery = DeliveryRecord.signed(
        [{"FileName": "a.pdf", "S3Url": signed_url("20240101T120000Z", 3600)}],
        [Skipped("b.exe", "type_not_allowed")],
        "root-contact",
        {BASE: (Drop.related(),)},
    ).with_steps("b" * 64, (Drop.files("INVALID_FILE_SIZE"),))

    again = DeliveryRecord.from_json(delivery.to_json())

    assert again == delivery
    assert again.to_json() == delivery.to_json()
    assert (again.steps(BASE), again.steps("c" * 64)) == ((Drop.related(),), ())
    assert not again.replayable(again.valid_until or 0) and again.replayable((again.valid_until or 0) - 1)


def test_how_the_thread_was_found_is_kept_and_older_records_read_without_it() -> None:
    delivery = DeliveryRecord.signed([], [], "root-contact", {}, "agent-reply")
    assert DeliveryRecord.from_json(delivery.to_json()).thread_match == "agent-reply"
    recorded_before = (
        '{"attachments": [], "dropped": {}, "moreSkipped": {}, "relatedContactId": "root-contact", '
        '"skipped": [], "validUntil": null}'
    )
    assert (
        DeliveryRecord.from_json(recorded_before).thread_match is None
    )  # its requests had no sesThreadMatch


def test_only_the_first_skipped_files_are_kept_by_name_the_rest_counted() -> None:
    skipped = [Skipped(f"f{n:04}.pdf", "too_many" if n % 2 else "empty") for n in range(2000)]

    delivery = DeliveryRecord.signed([], skipped, None, {})

    kept = len(delivery.skipped)
    assert 0 < kept < 2000
    assert delivery.skipped == tuple(skipped[:kept])
    assert delivery.valid_until is None and delivery.replayable(float("inf"))
    assert delivery.skip_counts() == {"too_many": 1000, "empty": 1000}
    assert DeliveryRecord.from_json(delivery.to_json()).skip_counts() == delivery.skip_counts()


def test_the_record_fits_a_dynamodb_item_whatever_the_names() -> None:
    """DynamoDB items hold at most 400 KB of UTF-8: long CJK or emoji names must not outgrow it."""
    for char in ("田", "😀"):
        skipped = [Skipped(char * 250 + f"{n}.pdf", "too_many") for n in range(990)]
        url = signed_url("20240101T000000Z", 3600) + "&X-Amz-Security-Token=" + "t" * 1200
        attachments = [{"FileName": char * 250 + ".pdf", "S3Url": url}] * 10

        record = DeliveryRecord.signed(attachments, skipped, None, {}).to_json().encode()

        assert len(record) < 100_000, len(record)
        named = DeliveryRecord.from_json(record.decode()).skipped
        assert len(named) > 0 and sum(len(item.file_name.encode()) for item in named) <= MAX_SKIPPED_BYTES
        assert DeliveryRecord.from_json(record.decode()).skip_counts() == {"too_many": 990}
