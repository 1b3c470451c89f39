"""The scripted Connect keeps ClientTokens as the emulator does, under both readings of a refusal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pytest

from ses_to_connect.adapters.connect import ContactStarter
from ses_to_connect.errors import AttachmentsRejected, DeliveryError, IdempotencyConflict
from ses_to_connect_tools.local_pipeline.connect_emulator import RefusedTokens
from tests.support.fakes import Clock, ScriptableConnect

if TYPE_CHECKING:
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

BASE: dict[str, Any] = {
    "InstanceId": "11111111-2222-3333-4444-555555555555",
    "FromEmailAddress": {"EmailAddress": "customer@example.org"},
    "DestinationEmailAddress": "support@example.com",
    "EmailMessage": {
        "MessageSourceType": "RAW",
        "RawMessage": {"Subject": "Help", "Body": "Hi", "ContentType": "text/plain"},
    },
    "ClientToken": "token-1",
}


def request(**changes: Any) -> StartEmailContactRequestTypeDef:
    return cast("StartEmailContactRequestTypeDef", {**BASE, **changes})


REQUEST = request()
OTHER = request(Description="another request")


def connect(reading: RefusedTokens = "forgotten") -> tuple[ScriptableConnect, ContactStarter]:
    fake = ScriptableConnect(Clock(), reading)
    return fake, ContactStarter(fake)


def test_the_same_token_and_request_answer_the_same_contact() -> None:
    fake, starter = connect()
    assert starter.start(REQUEST) == starter.start(REQUEST) == fake.contacts[0].contact_id
    assert len(fake.contacts) == 1


def test_the_same_token_with_another_request_is_an_idempotency_conflict() -> None:
    _, starter = connect()
    starter.start(REQUEST)
    with pytest.raises(IdempotencyConflict):
        starter.start(OTHER)


@pytest.mark.parametrize(("reading", "uses_it_up"), [("kept", True), ("forgotten", False)])
def test_a_refused_request_uses_its_token_up_only_when_kept(reading: RefusedTokens, uses_it_up: bool) -> None:
    fake, starter = connect(reading)
    fake.refuse("InvalidRequestException", "INVALID_FILE_TYPE")
    with pytest.raises(AttachmentsRejected):
        starter.start(REQUEST)

    if uses_it_up:
        with pytest.raises(IdempotencyConflict):
            starter.start(OTHER)
    else:
        assert starter.start(OTHER) == fake.contacts[0].contact_id


@pytest.mark.parametrize("reading", ["kept", "forgotten"])
def test_a_refused_request_sent_again_is_evaluated_again(reading: RefusedTokens) -> None:
    fake, starter = connect(reading)
    fake.refuse("ResourceNotFoundException")
    with pytest.raises(DeliveryError):
        starter.start(REQUEST)

    assert starter.start(REQUEST) == fake.contacts[0].contact_id


def test_a_request_connect_would_refuse_is_refused() -> None:
    fake, starter = connect()
    with pytest.raises(DeliveryError) as raised:
        starter.start(request(DestinationEmailAddress="x" * 300))
    assert (raised.value.code, raised.value.retryable) == ("InvalidRequestException", False)
    assert fake.contacts == []


def test_an_unknown_related_contact_is_not_found_after_the_token_check() -> None:
    fake, starter = connect()
    with pytest.raises(DeliveryError) as raised:
        starter.start(request(RelatedContactId="nobody"))
    assert raised.value.code == "ResourceNotFoundException"
    fake.known_contact_ids.add("somebody")
    assert starter.start(request(ClientToken="token-2", RelatedContactId="somebody"))
