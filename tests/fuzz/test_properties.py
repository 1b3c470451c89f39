"""Property-based tests: whatever arrives, the conversion ends in a valid request or a quarantine.

The invariant, for every generated message, SES record and settings:

- ``convert_offline()`` raises nothing;
- the outcome is ``contact`` with at least one request, each accepted by the Connect emulator's
  rules (Connect's documented limits and the botocore model, independent of the function's own
  ``check_request``) and by botocore's client-side validation of ``StartEmailContact``, or
  ``quarantine`` with a non-empty reason, never ``request_limit_violation``, and no request;
- converting the same input again gives byte-identical requests;
- no CR or LF reaches a Subject, an address, a display name, a file name or a header value.

Short run (README test command): 100-200 derandomized examples per test, not shrunk; rerun
with ``HYPOTHESIS_PROFILE=debug`` for the same examples shrunk to a minimal failing case. Long
run: ``HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/fuzz/test_properties.py``
(10,000 examples of the main property, 2,000 of each other one). The terminal summary prints
how many examples ran; ``--hypothesis-show-statistics`` shows how often each outcome was reached.
"""

from __future__ import annotations

import json

import pytest
from botocore.validate import ParamValidator
from hypothesis import event, given
from hypothesis import strategies as st

from ses_to_connect.convert import convert_offline
from ses_to_connect.event_builder import build_ses_event
from ses_to_connect.model import Conversion, Outcome
from ses_to_connect.ses_event import SesRecord, records
from ses_to_connect.settings import Settings
from ses_to_connect_tools.local_pipeline.connect_emulator import check_start_email_contact
from tests.support.constants import SUPPORT
from tests.support.corpus import CORPUS_MISSING, corpus_files

from . import EXAMPLES, fuzz_settings, single_line_fields, start_email_contact_shape
from .strategies import (
    Envelope,
    bridge_settings,
    chunkings,
    corpus_mutations,
    hostile_messages,
    mime_messages,
    mutated,
    ses_envelopes,
)


def assert_invariant(raw: bytes, record: SesRecord, config: Settings) -> Conversion:
    """The whole invariant for one input; returns the conversion for further checks."""
    conversion = convert_offline(raw, record, config)

    if conversion.outcome is Outcome.CONTACT:
        assert conversion.reason is None
        assert len(conversion.requests) >= 1
    else:
        assert conversion.outcome is Outcome.QUARANTINE
        assert isinstance(conversion.reason, str)
        assert conversion.reason
        assert conversion.reason != "request_limit_violation"  # the core built a request Connect refuses
        assert conversion.requests == []
    for request in conversion.requests:
        check_start_email_contact(request)  # raises what Connect would refuse it with
        report = ParamValidator().validate(request, start_email_contact_shape()).generate_report()
        assert report == ""
        broken = [
            (path, value) for path, value in single_line_fields(request) if "\r" in value or "\n" in value
        ]
        assert broken == []

    again = convert_offline(raw, record, config)
    assert json.dumps(again.requests, sort_keys=True) == json.dumps(conversion.requests, sort_keys=True)
    assert (again.outcome, again.reason, again.defects) == (
        conversion.outcome,
        conversion.reason,
        conversion.defects,
    )
    return conversion


@fuzz_settings(short=200, long=10_000)
@given(raw=hostile_messages(), envelope=ses_envelopes(), config=bridge_settings())
def test_any_message_becomes_valid_requests_or_a_quarantine(
    raw: bytes, envelope: Envelope, config: Settings
) -> None:
    """The main property: generated trees, damaged trees and damaged corpus messages."""
    EXAMPLES["test_any_message_becomes_valid_requests_or_a_quarantine"] += 1
    conversion = assert_invariant(raw, envelope.record(), config)

    # Shown by --hypothesis-show-statistics: how often each path was taken.
    event(f"outcome: {conversion.outcome.value} {conversion.reason or ''}".strip())
    attachments = sum(len(request.get("Attachments", [])) for request in conversion.requests)
    event(f"attachments sent: {min(attachments, 3)}{'+' if attachments >= 3 else ''}")


@pytest.mark.skipif(not corpus_files(), reason=CORPUS_MISSING)
@fuzz_settings(short=100, long=2_000)
@given(raw=corpus_mutations(), envelope=ses_envelopes(), config=bridge_settings())
def test_damaged_corpus_messages_hold_the_invariant(raw: bytes, envelope: Envelope, config: Settings) -> None:
    EXAMPLES["test_damaged_corpus_messages_hold_the_invariant"] += 1
    assert_invariant(raw, envelope.record(), config)


@fuzz_settings(short=100, long=2_000)
@given(raw=st.one_of(mime_messages(), mutated(mime_messages())), data=st.data())
def test_chunked_input_converts_exactly_like_whole_input(raw: bytes, data: st.DataObject) -> None:
    """The handler feeds the parser 1 MiB S3 chunks; where a chunk ends must not matter."""
    EXAMPLES["test_chunked_input_converts_exactly_like_whole_input"] += 1
    chunks = data.draw(chunkings(raw))
    envelope = data.draw(ses_envelopes())
    config = data.draw(bridge_settings())
    record = envelope.record()

    whole = convert_offline(raw, record, config)
    chunked = convert_offline(iter(chunks), record, config)

    assert chunked.as_json() == whole.as_json()


@fuzz_settings(short=100, long=2_000)
@given(raw=hostile_messages(), config=bridge_settings())
def test_the_event_built_from_any_message_converts(raw: bytes, config: Settings) -> None:
    """``build_ses_event`` (offline command, local pipeline) reads the same hostile headers."""
    EXAMPLES["test_the_event_built_from_any_message_converts"] += 1
    event = build_ses_event(raw, message_id="o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1", recipients=[SUPPORT])
    json.dumps(event)  # the event is what Lambda would receive: plain JSON
    (record,) = records(event)

    assert_invariant(raw, record, config)
