"""The stored attachment's Content-Type, through the handler and moto's S3: the type its extension
stands for, whatever the sender declared (an 8-bit type would make every upload attempt fail)."""

from __future__ import annotations

from ses_to_connect.event_builder import build_ses_event
from tests.support.constants import SUPPORT
from tests.support.mail import handwritten, multipart
from tests.unit.test_attachment_checks import MISLABELLED, TEXT, attached
from tests.unit.test_file_types import PE

from . import BUCKET, Bridge

MESSAGE_ID = "types0e2ic28trm7dfhrc2v0clambda4nbp0g1"


def test_each_object_is_stored_with_its_extensions_type_and_mismatches_are_not_stored(bridge: Bridge) -> None:
    raw = handwritten(
        body=multipart(
            "mixed",
            TEXT,
            *MISLABELLED,
            attached("text/html", b"a,b\r\n1,2\r\n", 'filename="page.csv"'),
            attached("application/pdf", PE, 'filename="evil.pdf"'),
        )
    )
    bridge.store(raw, MESSAGE_ID)
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})

    result = bridge.invoke(build_ses_event(raw, message_id=MESSAGE_ID, recipients=[SUPPORT]))

    (outcome,) = result["messages"]
    assert (outcome["attachmentsSent"], outcome["attachmentsSkipped"]) == (3, {"type_mismatch": 2})
    (request,) = bridge.sent
    listing = request["Attributes"]["sesAttachmentsSkipped"]
    assert listing == "page.csv (type_mismatch); evil.pdf (type_mismatch)"
    listed = bridge.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"attachments/{MESSAGE_ID}/")["Contents"]
    stored = {
        item["Key"].rsplit("/", 1)[1]: bridge.s3.head_object(Bucket=BUCKET, Key=item["Key"])["ContentType"]
        for item in listed
    }
    # Keys are by position among the candidates: page.csv (declared text/html) never became one;
    # the program (03) was decoded, found to be no PDF and never stored.
    assert stored == {"00.pdf": "application/pdf", "01.png": "image/png", "02.csv": "text/csv"}
    assert [item["FileName"] for item in request["Attachments"]] == ["x.pdf", "shot.png", "data.csv"]
