"""Attachments: each rule, through S3 pre-signed URLs that the Connect emulator downloads.

Every test builds its message here, runs it through the handler and checks, for each sent
attachment, that the bytes behind its URL are the decoded MIME part (``assert_sent``).
"""

from __future__ import annotations

import base64
import email
import threading
import unicodedata
from collections.abc import Sequence
from email.message import EmailMessage, Message
from email.policy import compat32

import pytest
from tnefparse import TNEF

from ses_to_connect import handler
from ses_to_connect.adapters.s3 import AttachmentStore
from ses_to_connect_tools.local_pipeline.aws import LocalAws
from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator
from tests.support.corpus import CORPUS
from tests.support.mail import wire

from . import (
    assert_sent,
    attach,
    attachment_versions,
    decoded,
    deliver,
    invoke,
    last_part,
    new_message,
    only_contact,
    s3_body,
    ses_message_id,
    store,
)

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201d2c4e6c70000000049454e44ae426082"
)
# A picture with content, over inlineImageMinBytes (2,048): smaller inline images are signature decoration.
SCREENSHOT = PNG + bytes(4096)


def pdf(tag: str) -> bytes:
    """A distinct small PDF per attachment, so digests cannot be confused."""
    return PDF.replace(b"%%EOF", f"% {tag}\n%%EOF".encode())


def raw_part(data: bytes, **headers: str) -> EmailMessage:
    """A base64 part whose headers are written on the wire exactly as given (compat32)."""
    part = EmailMessage(policy=compat32)
    for name, value in headers.items():
        part[name.replace("_", "-")] = value
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(data).decode("ascii"))
    return part


def with_parts(subject: str, parts: Sequence[EmailMessage]) -> EmailMessage:
    message = new_message(subject)
    message.make_mixed()
    for part in parts:
        message.attach(part)
    return message


def html_message(subject: str, html: str) -> tuple[EmailMessage, EmailMessage]:
    """multipart/alternative(text, html); the html part is returned to add related parts to."""
    message = new_message(subject)
    message.add_alternative(html, subtype="html")
    html_part = last_part(message)
    assert isinstance(html_part, EmailMessage)
    return message, html_part


def add_image(html_part: EmailMessage, data: bytes, cid: str, filename: str | None) -> Message:
    """An image in the html part's multipart/related, with its Content-ID."""
    html_part.add_related(
        data, maintype="image", subtype="png", cid=f"<{cid}>", filename=filename, disposition="inline"
    )
    return last_part(html_part)


def skipped_listing(emulator: ConnectEmulator, message_id: str) -> str | None:
    listing = only_contact(emulator, message_id).params["Attributes"].get("sesAttachmentsSkipped")
    assert listing is None or isinstance(listing, str)
    return listing


def test_explicit_attachment_is_sent(aws: LocalAws, emulator: ConnectEmulator) -> None:
    message = new_message("Invoice attached")
    part = attach(message, pdf("invoice"), "application/pdf", "invoice.pdf")

    message_id, result = deliver(aws, message)

    assert (result["attachmentsSent"], result["attachmentsSkipped"]) == (1, {})
    contact = only_contact(emulator, message_id)
    assert_sent(aws, contact, message_id, [("invoice.pdf", decoded(part))])
    assert contact.params["Attributes"]["sesAttachmentsSent"] == "1"
    assert "sesAttachmentsSkipped" not in contact.params["Attributes"]


@pytest.mark.parametrize(("uploads", "threads"), [("1", {"MainThread"}), ("4", {"attachment-upload"})])
def test_attachment_uploads_setting_decides_where_the_stores_run(
    aws: LocalAws, emulator: ConnectEmulator, monkeypatch: pytest.MonkeyPatch, uploads: str, threads: set[str]
) -> None:
    monkeypatch.setenv("ATTACHMENT_UPLOADS", uploads)
    seen: set[str] = set()

    def note_thread(**_: object) -> None:
        seen.add(threading.current_thread().name.split("_")[0])

    store = handler.pipeline().io.attachments
    assert isinstance(store, AttachmentStore)
    store._client.meta.events.register("before-call.s3.PutObject", note_thread)
    message = new_message("Three files")
    parts = [attach(message, pdf(f"file {n}"), "application/pdf", f"file{n}.pdf") for n in range(3)]

    message_id, result = deliver(aws, message)

    assert (result["attachmentsSent"], seen) == (3, threads)
    expected = [(f"file{n}.pdf", decoded(part)) for n, part in enumerate(parts)]
    assert_sent(aws, only_contact(emulator, message_id), message_id, expected)


def test_named_part_without_disposition_is_sent(aws: LocalAws, emulator: ConnectEmulator) -> None:
    part = raw_part(pdf("nodisp"), Content_Type='application/pdf; name="report.pdf"')
    message = with_parts("A part with a name and no disposition", [part])
    raw = wire(message)
    assert b"Content-Disposition" not in raw

    message_id, result = deliver(aws, message)

    assert result["attachmentsSent"] == 1
    assert_sent(aws, only_contact(emulator, message_id), message_id, [("report.pdf", decoded(part))])


def test_inline_image_referenced_by_cid_is_sent_after_explicit_attachments(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    message, html = html_message("Screenshot", '<p>See:</p><img src="cid:shot@example.org">')
    image = add_image(html, SCREENSHOT, "shot@example.org", "screenshot.png")
    explicit = attach(message, pdf("after-in-mime-order"), "application/pdf", "log.pdf")

    message_id, result = deliver(aws, message)

    assert (result["attachmentsSent"], result["attachmentsSkipped"]) == (2, {})
    contact = only_contact(emulator, message_id)
    # The image comes first in the MIME tree; explicit attachments are sent first all the same.
    assert contact.params["EmailMessage"]["RawMessage"]["ContentType"] == "text/html"
    assert_sent(
        aws, contact, message_id, [("log.pdf", decoded(explicit)), ("screenshot.png", decoded(image))]
    )


def test_unreferenced_image_is_still_sent_as_an_explicit_attachment(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    message, html = html_message("Two images, one shown", '<img src="cid:shown@example.org">')
    shown = add_image(html, SCREENSHOT + b"shown", "shown@example.org", "shown.png")
    unshown = add_image(html, SCREENSHOT + b"unshown", "unshown@example.org", "unshown.png")

    message_id, result = deliver(aws, message)

    assert result["attachmentsSent"] == 2
    assert_sent(
        aws,
        only_contact(emulator, message_id),
        message_id,
        [("unshown.png", decoded(unshown)), ("shown.png", decoded(shown))],
    )


def test_disallowed_extensions_are_skipped_and_listed(aws: LocalAws, emulator: ConnectEmulator) -> None:
    message = new_message("Programs attached")
    allowed = attach(message, pdf("allowed"), "application/pdf", "allowed.pdf")
    attach(message, b"MZ not really a program", "application/octet-stream", "setup.exe")
    attach(message, b"PK\x03\x04 not really a zip", "application/zip", "archive.zip")
    attach(message, b"MZ double extension", "application/octet-stream", "invoice.pdf.exe")

    message_id, result = deliver(aws, message)

    assert (result["attachmentsSent"], result["attachmentsSkipped"]) == (1, {"type_not_allowed": 3})
    assert_sent(aws, only_contact(emulator, message_id), message_id, [("allowed.pdf", decoded(allowed))])
    assert skipped_listing(emulator, message_id) == (
        "setup.exe (type_not_allowed); archive.zip (type_not_allowed); invoice.pdf.exe (type_not_allowed)"
    )
    assert [key for key, _ in attachment_versions(aws, message_id)] == [f"attachments/{message_id}/00.pdf"]


def test_extension_is_derived_from_the_content_type(aws: LocalAws, emulator: ConnectEmulator) -> None:
    message = new_message("Names without extensions")
    scan = attach(message, pdf("scan"), "application/pdf", "scan")
    photo = attach(message, b"\xff\xd8\xff\xe0 jpeg bytes", "image/jpeg", "photo")
    attach(message, b"opaque", "application/octet-stream", "data")

    message_id, result = deliver(aws, message)

    assert (result["attachmentsSent"], result["attachmentsSkipped"]) == (2, {"type_not_allowed": 1})
    assert_sent(
        aws,
        only_contact(emulator, message_id),
        message_id,
        [("scan.pdf", decoded(scan)), ("photo.jpg", decoded(photo))],
    )
    assert skipped_listing(emulator, message_id) == "data (type_not_allowed)"


def test_attachment_over_20_mib_is_skipped_as_too_large(aws: LocalAws, emulator: ConnectEmulator) -> None:
    message = new_message("A very large scan")
    big = bytes(range(256)) * (21 * 1024 * 1024 // 256)  # 21 MiB decoded
    assert len(big) > 20 * 1024 * 1024
    attach(message, big, "application/pdf", "huge.pdf")
    small = attach(message, pdf("small"), "application/pdf", "small.pdf")

    message_id, result = deliver(aws, message)

    assert (result["attachmentsSent"], result["attachmentsSkipped"]) == (1, {"too_large": 1})
    assert_sent(aws, only_contact(emulator, message_id), message_id, [("small.pdf", decoded(small))])
    assert skipped_listing(emulator, message_id) == "huge.pdf (too_large)"
    # Nothing is stored for the skipped one: only the small attachment's object exists.
    assert [key for key, _ in attachment_versions(aws, message_id)] == [f"attachments/{message_id}/01.pdf"]


def test_attachment_one_byte_over_20_mb_is_skipped_and_the_message_still_ends_as_a_contact(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    """Connect takes attachments of at most 20 MB; the pipeline reads that as 20,000,000 bytes,
    the stricter of decimal and binary megabytes. One byte more is skipped as too_large, and the
    rest of the message still becomes its contact."""
    message = new_message("A scan just over 20 MB")
    big = bytes(range(256)) * (20_000_001 // 256) + b"x" * (20_000_001 % 256)
    assert len(big) == 20_000_001
    attach(message, big, "application/pdf", "borderline.pdf")
    small = attach(message, pdf("small-2"), "application/pdf", "small.pdf")

    message_id, result = deliver(aws, message)

    assert (result["outcome"], result["attachmentsSent"], result["attachmentsSkipped"]) == (
        "contact",
        1,
        {"too_large": 1},
    )
    assert_sent(aws, only_contact(emulator, message_id), message_id, [("small.pdf", decoded(small))])
    assert skipped_listing(emulator, message_id) == "borderline.pdf (too_large)"
    assert [key for key, _ in attachment_versions(aws, message_id)] == [f"attachments/{message_id}/01.pdf"]


def test_twelve_attachments_send_ten_explicit_before_inline(aws: LocalAws, emulator: ConnectEmulator) -> None:
    message, html = html_message(
        "Twelve attachments",
        "".join(f'<img src="cid:img{i}@example.org">' for i in range(3)),
    )
    images = [
        add_image(html, SCREENSHOT + bytes([i]), f"img{i}@example.org", f"img{i}.png") for i in range(3)
    ]
    documents = [attach(message, pdf(f"doc{i}"), "application/pdf", f"doc{i}.pdf") for i in range(9)]

    message_id, result = deliver(aws, message)

    assert (result["attachmentsSent"], result["attachmentsSkipped"]) == (10, {"too_many": 2})
    expected = [(f"doc{i}.pdf", decoded(part)) for i, part in enumerate(documents)]
    expected.append(("img0.png", decoded(images[0])))
    contact = only_contact(emulator, message_id)
    assert_sent(aws, contact, message_id, expected)
    assert contact.params["Attributes"]["sesAttachmentsSent"] == "10"
    assert skipped_listing(emulator, message_id) == "img1.png (too_many); img2.png (too_many)"


def test_empty_attachment_is_skipped(aws: LocalAws, emulator: ConnectEmulator) -> None:
    message = new_message("One empty file")
    attach(message, b"", "application/pdf", "empty.pdf")
    full = attach(message, pdf("full"), "application/pdf", "full.pdf")

    message_id, result = deliver(aws, message)

    assert (result["attachmentsSent"], result["attachmentsSkipped"]) == (1, {"empty": 1})
    assert_sent(aws, only_contact(emulator, message_id), message_id, [("full.pdf", decoded(full))])
    assert skipped_listing(emulator, message_id) == "empty.pdf (empty)"


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        pytest.param("attachment; filename*=utf-8''%E2%82%AC%20rates.pdf", "€ rates.pdf", id="rfc2231"),
        pytest.param(
            "attachment;\n filename*0*=utf-8''%E2%82%AC;\n filename*1*=%20rates%202024.pdf",
            "€ rates 2024.pdf",
            id="rfc2231-continuation",
        ),
        pytest.param("attachment; filename*=iso-8859-1''%E9t%E9.pdf", "été.pdf", id="rfc2231-latin1"),
        pytest.param('attachment; filename="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="', "résumé.pdf", id="rfc2047-q"),
        pytest.param('attachment; filename="=?utf-8?b?0YHRh9C10YIucGRm?="', "счет.pdf", id="rfc2047-b"),
        pytest.param('attachment; filename="../../etc/passwd.txt"', "passwd.txt", id="posix-traversal"),
        pytest.param('attachment; filename="C:\\temp\\x.pdf"', "x.pdf", id="windows-path"),
        pytest.param(
            "attachment; filename*=utf-8''..%2F..%2Fsecret.pdf", "secret.pdf", id="encoded-traversal"
        ),
        pytest.param(
            "attachment; filename*=utf-8''%01report%09final%1F2024.pdf",
            "report final 2024.pdf",
            id="control-characters",
        ),
    ],
)
def test_file_names_are_decoded_and_made_safe(
    aws: LocalAws, emulator: ConnectEmulator, disposition: str, expected: str
) -> None:
    part = raw_part(pdf(disposition), Content_Type="application/pdf", Content_Disposition=disposition)
    message = with_parts("A file name to clean", [part])
    assert f"Content-Disposition: {disposition}\r\n".replace("\n ", "\r\n ").encode() in wire(message)

    message_id, result = deliver(aws, message)

    assert result["attachmentsSent"] == 1
    assert_sent(aws, only_contact(emulator, message_id), message_id, [(expected, decoded(part))])
    assert not any(unicodedata.category(c).startswith("C") for c in expected)


def test_rfc2047_file_name_from_the_corpus(aws: LocalAws, emulator: ConnectEmulator) -> None:
    """php-mime-mail-parser m0013: a name split over two folded encoded words in a quoted string.

    The corpus keeps the name but not the file (its content is the word "underscore"): a PDF
    stands in for it, so the file is sent, under its decoded name."""
    path = CORPUS / "php-mime-mail-parser__m0013.eml"
    if not path.exists():
        pytest.skip(f"corpus folder not available: {path} is missing")
    placeholder = base64.b64encode(b"underscore")
    raw = path.read_bytes()
    assert raw.count(placeholder) == 1
    raw = raw.replace(placeholder, base64.b64encode(PDF))
    [part] = [p for p in email.message_from_bytes(raw, policy=compat32).walk() if p.get_filename()]

    event = store(aws, raw)
    result = invoke(event)

    message_id = ses_message_id(event)
    assert result["attachmentsSent"] == 1
    assert_sent(
        aws,
        only_contact(emulator, message_id),
        message_id,
        [("50032266 CAR 11_MNPA00A01_9PTX_H00 ATT N° 1467829.pdf", decoded(part))],
    )


def test_long_file_name_is_cut_to_256_keeping_its_extension(aws: LocalAws, emulator: ConnectEmulator) -> None:
    message = new_message("A very long file name")
    part = attach(message, pdf("long"), "application/pdf", "n" * 296 + ".pdf")

    message_id, _ = deliver(aws, message)

    expected = "n" * 252 + ".pdf"
    assert len(expected) == 256
    assert_sent(aws, only_contact(emulator, message_id), message_id, [(expected, decoded(part))])


def test_duplicate_names_are_made_unique(aws: LocalAws, emulator: ConnectEmulator) -> None:
    message = new_message("Two scans with the same name")
    first = attach(message, pdf("scan-1"), "application/pdf", "scan.pdf")
    second = attach(message, pdf("scan-2"), "application/pdf", "scan.pdf")
    third = attach(message, pdf("scan-3"), "application/pdf", "Scan.PDF")

    message_id, result = deliver(aws, message)

    assert result["attachmentsSent"] == 3
    assert_sent(
        aws,
        only_contact(emulator, message_id),
        message_id,
        [("scan.pdf", decoded(first)), ("scan (2).pdf", decoded(second)), ("Scan (3).PDF", decoded(third))],
    )


def test_forwarded_message_becomes_a_text_file_named_after_its_subject(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    inner = EmailMessage()
    inner["From"] = "Original Sender <original@partner.example>"
    inner["To"] = "customer@example.org"
    inner["Subject"] = "Quarterly numbers"
    inner["Date"] = "Mon, 01 Jan 2024 08:00:00 +0000"
    inner.set_content("The numbers are in the sheet.\n")
    sheet = attach(inner, b"quarter,amount\nQ1,10\n", "text/csv", "numbers.csv")
    message = new_message("Fwd: Quarterly numbers")
    message.add_attachment(inner)
    assert last_part(message).get_content_type() == "message/rfc822"

    message_id, result = deliver(aws, message)

    assert (result["attachmentsSent"], result["attachmentsSkipped"]) == (2, {})
    contact = only_contact(emulator, message_id)
    [forwarded, _] = contact.params["Attachments"]
    text = s3_body(aws, forwarded["S3Url"].split("?")[0].split("/ses-to-connect-mail/")[1])
    # The forwarded body keeps its CRLF line ends; compare line by line.
    assert text.decode().replace("\r\n", "\n") == (
        "From: Original Sender <original@partner.example>\n"
        "Date: Mon, 01 Jan 2024 08:00:00 +0000\n"
        "Subject: Quarterly numbers\n"
        "To: customer@example.org\n"
        "\n"
        "The numbers are in the sheet.\n"
    )
    # The forwarded message's own attachment is sent too, after the rendering of the message.
    assert_sent(aws, contact, message_id, [("Quarterly numbers.txt", text), ("numbers.csv", decoded(sheet))])


def _corpus_message(name: str) -> bytes:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus folder not available: {path} is missing (TNEF needs a real winmail.dat)")
    return path.read_bytes()


def _tnef_attachments(raw: bytes) -> list[tuple[str, bytes]]:
    """What tnefparse itself finds in the message's winmail.dat: (long file name, data)."""
    message = email.message_from_bytes(raw, policy=compat32)
    [part] = [p for p in message.walk() if p.get_content_type() == "application/ms-tnef"]
    return [(str(a.long_filename() or a.name), bytes(a.data)) for a in TNEF(decoded(part)).attachments]


def test_winmail_dat_is_unpacked(aws: LocalAws, emulator: ConnectEmulator) -> None:
    raw = _corpus_message("mimekit__tnef--rich-text.eml")
    inside = _tnef_attachments(raw)
    assert [name for name, _ in inside] == [
        "kitten-playing-with-a-christmas-tree.jpg",
        "Untitled Attachment",
        "Untitled Attachment",
    ]

    event = store(aws, raw)
    result = invoke(event)

    message_id = ses_message_id(event)
    assert (result["attachmentsSent"], result["attachmentsSkipped"]) == (1, {"type_not_allowed": 2})
    assert_sent(aws, only_contact(emulator, message_id), message_id, [inside[0]])
    assert skipped_listing(emulator, message_id) == (
        "Untitled Attachment (type_not_allowed); Untitled Attachment (type_not_allowed)"
    )


def test_winmail_dat_without_attachments_is_still_accounted_for(
    aws: LocalAws, emulator: ConnectEmulator
) -> None:
    """A TNEF part that holds only Outlook's rich body: not sent, so it must be listed with a reason."""
    raw = _corpus_message("mimekit__tnef--ukr.eml")
    assert _tnef_attachments(raw) == []

    event = store(aws, raw)
    result = invoke(event)

    message_id = ses_message_id(event)
    assert result["outcome"] == "contact"
    contact = only_contact(emulator, message_id)
    assert "Attachments" not in contact.params
    listing = skipped_listing(emulator, message_id)
    assert listing is not None and listing.startswith("winmail.dat ("), (
        "winmail.dat was neither sent nor listed as skipped"
    )
