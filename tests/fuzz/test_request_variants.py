"""Property: every variant of every destination's request is valid, whatever text the bridge copies in.

The bridge writes text it does not choose into a request's attributes: an operator's replay
reason, the envelope sender, file names (sent, skipped, refused by Connect), static attribute
values. Long and non-ASCII, together they can pass Connect's 32,768-byte attribute budget, and a
fallback (files refused, thread root unknown) lists more than the first request did. For any of
them, with any fallback steps recorded for any destination:

- ``final_requests`` raises nothing and gives each destination a request that Connect's rules
  (the emulator's oracle, independent of ``check_request``) and botocore's validation accept,
  under the variant's token, without what its steps dropped;
- the pipeline, with Connect refusing the files, creates every contact and raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from botocore.validate import ParamValidator
from hypothesis import event, given
from hypothesis import strategies as st

from ses_to_connect.attachments import Skip, Skipped
from ses_to_connect.convert import UnsignedUrlSink, client_token, final_requests, plan, variant_token
from ses_to_connect.delivery import DeliveryRecord, Drop, DropKind
from ses_to_connect.event_builder import build_ses_event
from ses_to_connect.limits import MAX_ATTRIBUTES_BYTES, attributes_size
from ses_to_connect.model import Outcome
from ses_to_connect.pipeline import Adapters, Pipeline
from ses_to_connect.ses_event import REPLAY_KEY, SesRecord, records
from ses_to_connect.settings import MAX_STATIC_ATTRIBUTES_BYTES, BodyPreference, Settings
from ses_to_connect.thread_match import ThreadMatch
from ses_to_connect_tools.local_pipeline.connect_emulator import check_start_email_contact
from tests.support.constants import SALES, SUPPORT
from tests.support.fakes import FakeMailStorage, FilesRefusingConnect

from . import EXAMPLES, fuzz_settings, start_email_contact_shape
from .strategies import BUCKET, make_settings

MESSAGE_ID = "0000018f9a7b2c1d-request-variants"
BODY = "See the attached files."
# Printable text of every UTF-8 width, four-byte characters (emoji, CJK extension B) included.
_CHARACTERS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn", "Cf", "Zl", "Zp"))
WIDEST = "\U0001f4ce"  # four UTF-8 bytes, the most a character takes
_WIDE = st.sampled_from([WIDEST, "\U00020000", "€", "é", "a"])
# More than the bridge's facts (ids, verdicts, counts, flags) and the marks of what it cuts take.
BRIDGE_FACTS_BYTES = 2_048
STEPS = (
    (),
    (Drop.files("INVALID_FILE_TYPE"),),
    (Drop.related(),),
    (Drop.related(), Drop.files("TOTAL_FILE_SIZE_EXCEEDED")),
    (Drop.files("INVALID_FILE_SIZE"), Drop.related()),
)


def texts(longest: int, *, crowded: bool) -> st.SearchStrategy[str]:
    """Four-byte characters to the longest when ``crowded``, else short pieces of any width
    repeated: long text without drawing every character."""
    if crowded:
        return st.just(WIDEST * longest)
    piece = st.text(_WIDE, min_size=1, max_size=3) | st.text(_CHARACTERS, min_size=1, max_size=6)
    return st.builds(lambda unit, times: (unit * times).strip(), piece, st.integers(0, longest))


def file_names(*, crowded: bool) -> st.SearchStrategy[str]:
    return texts(240, crowded=crowded).map(lambda stem: f"{stem[:240] or 'file'}.pdf")


@st.composite
def static_attributes(draw: st.DrawFn, *, crowded: bool) -> dict[str, str]:
    """Within the settings' budget, all of it when ``crowded``, in values of any width; never so
    much that the bridge's own facts cannot fit beside them (that request is quarantined:
    tests/unit/test_contact_requests.py)."""
    budget = min(MAX_STATIC_ATTRIBUTES_BYTES, MAX_ATTRIBUTES_BYTES - BRIDGE_FACTS_BYTES)
    count = 40 if crowded else draw(st.integers(0, 40))
    unit = WIDEST if crowded else draw(_WIDE)
    each = (budget // max(count, 1) - 4) // len(unit.encode())
    return {f"k{i}": unit * (each if crowded else draw(st.integers(0, each))) for i in range(count)}


@dataclass(frozen=True)
class Case:
    """A replayed message to both Connect addresses, with the text the bridge copies in."""

    config: Settings
    raw: bytes
    record: SesRecord


def message(names: list[str]) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Customer <customer@example.org>"
    mail["To"] = f"{SUPPORT}, {SALES}"
    mail["Subject"] = "Files"
    mail.set_content(BODY)
    for name in names:
        mail.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf", filename=name)
    if names:
        mail.set_boundary("request-variants")  # not a random one: hypothesis owns the randomness
    return mail.as_bytes()


@st.composite
def cases(draw: st.DrawFn, *, max_files: int) -> Case:
    """Half of them crowded: every text the bridge copies in at its longest, in four-byte characters."""
    crowded = draw(st.booleans())
    count = max_files if crowded else draw(st.integers(0, max_files))
    raw = message([f"{n}{draw(file_names(crowded=crowded))}" for n in range(count)])
    source = f"{draw(texts(1100, crowded=crowded)) or 'sender'}@example.org"
    ses_event = build_ses_event(raw, message_id=MESSAGE_ID, recipients=[SUPPORT, SALES], source=source)
    ses_event["Records"][0][REPLAY_KEY] = {
        "sourceKey": f"inbound/{MESSAGE_ID}",
        "deliver": True,
        "reason": draw(texts(1100, crowded=crowded)),
    }
    config = make_settings(
        draw(st.sampled_from(list(BodyPreference))),
        prefer_reply_to=False,
        expiry=None,
        static=draw(static_attributes(crowded=crowded)),
        deliver_everything=True,
    )
    return Case(config, raw, records(ses_event)[0])


@st.composite
def deliveries(draw: st.DrawFn) -> DeliveryRecord:
    """What the ledger may hold: stored files, skips, a thread root, and fallback steps per
    destination; half of them with every file name at its longest."""
    crowded = draw(st.booleans())
    names = draw(st.lists(file_names(crowded=crowded), max_size=10))
    count = 30 if crowded else draw(st.integers(0, 30))
    skipped = [
        Skipped(draw(file_names(crowded=crowded)), draw(st.sampled_from(list(Skip)))) for _ in range(count)
    ]
    dropped = {
        client_token(MESSAGE_ID, address): draw(st.sampled_from(STEPS)) for address in (SUPPORT, SALES)
    }
    return DeliveryRecord(
        attachments=tuple(
            {"FileName": name, "S3Url": f"https://{BUCKET}.s3.amazonaws.com/attachments/m/{n:02d}.pdf"}
            for n, name in enumerate(names)
        ),
        skipped=tuple(skipped),
        related_contact_id=draw(st.none() | st.just("11111111-aaaa-bbbb-cccc-222222222222")),
        valid_until=None,
        dropped={token: steps for token, steps in dropped.items() if steps},
        more_skipped=draw(st.sampled_from([{}, {Skip.TOO_MANY.value: 7}])),
        thread_match=draw(st.none() | st.sampled_from(list(ThreadMatch))),
    )


def assert_accepted(request: object) -> None:
    check_start_email_contact(request)  # type: ignore[arg-type]  # raises what Connect would refuse
    assert ParamValidator().validate(request, start_email_contact_shape()).generate_report() == ""


@fuzz_settings(short=100, long=2_000)
@given(case=cases(max_files=0), delivery=deliveries())
def test_every_destination_and_fallback_gives_a_request_connect_accepts(
    case: Case, delivery: DeliveryRecord
) -> None:
    EXAMPLES["test_every_destination_and_fallback_gives_a_request_connect_accepts"] += 1
    planned = plan(case.raw, case.record, case.config)
    assert planned.quarantine_reason is None

    finals = final_requests(planned, delivery)

    assert [final.destination.address for final in finals.destinations] == [SUPPORT, SALES]
    for final in finals.destinations:
        steps = delivery.steps(final.base_token)
        assert (final.steps, final.problems) == (steps, ())
        request = final.request
        assert request is not None
        assert_accepted(request)
        assert attributes_size(request["Attributes"]) <= MAX_ATTRIBUTES_BYTES
        assert request["ClientToken"] == variant_token(final.base_token, steps)
        if Drop.related() in steps:
            assert "RelatedContactId" not in request
        if any(step.kind is DropKind.ATTACHMENTS for step in steps):
            assert "Attachments" not in request
    assert final_requests(planned, delivery) == finals  # byte-identical on a retry
    cut = sorted({defect for defect in finals.defects if defect.startswith("attribute_cut")})
    event(f"cut: {', '.join(cut) or 'nothing'}")


@fuzz_settings(short=30, long=500)
@given(
    case=cases(max_files=14), refusal=st.sampled_from([None, "INVALID_FILE_TYPE", "TOTAL_FILE_SIZE_EXCEEDED"])
)
def test_the_pipeline_creates_every_contact_whatever_files_connect_refuses(
    case: Case, refusal: str | None
) -> None:
    EXAMPLES["test_the_pipeline_creates_every_contact_whatever_files_connect_refuses"] += 1
    connect = FilesRefusingConnect(refusal)
    mail = stored_mail(case.raw)
    pipeline = Pipeline(case.config, Adapters(mail, UnsignedUrlSink(BUCKET), connect))

    result = pipeline.process(case.record)

    assert (result.outcome, len(result.contact_ids), mail.quarantine_reasons) == (Outcome.CONTACT, 2, [])
    for request in connect.created:
        assert_accepted(request)
        assert request["Attributes"]["sesReplayReason"]
    cut = sorted(defect for defect in result.defects if defect.startswith("attribute_cut"))
    event(f"files refused: {refusal is not None}; cut: {', '.join(cut) or 'nothing'}")


def stored_mail(raw: bytes) -> FakeMailStorage:
    """The bucket holding ``raw`` where the replayed record names it."""
    mail = FakeMailStorage()
    mail.objects[f"inbound/{MESSAGE_ID}"] = raw
    return mail
