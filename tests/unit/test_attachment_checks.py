"""Attachments that are not what they say are skipped with a reason: the content's
signature, the declared type and the part's several file names must agree with the extension."""

from __future__ import annotations

import base64

from ses_to_connect.attachments import Skip, find_candidates
from ses_to_connect.mime import parse_message
from ses_to_connect.model import Defects
from tests.support.mail import handwritten, multipart, part
from tests.unit.builders import only_request, run
from tests.unit.test_body import attachments
from tests.unit.test_file_types import DOCM, HTML, PDF, PE, PNG, SVG

TEXT = part("text/plain", "Please see the attached files.")


def attached(content_type: str, data: bytes, disposition: str) -> str:
    """A base64 part with the given Content-Type line value and Content-Disposition parameters."""
    return part(
        content_type,
        base64.encodebytes(data).decode(),
        f"Content-Disposition: attachment; {disposition}",
        "Content-Transfer-Encoding: base64",
    )


# Real files whose declared types are wrong or unusable: stored as .pdf, .png and .csv.
MISLABELLED = (
    attached("application/pédf", PDF, 'filename="x.pdf"'),
    attached("image/jpeg", PNG, 'filename="shot.png"'),
    attached("application/octet-stream", b"a,b\r\n1,2\r\n", 'filename="data.csv"'),
)


def test_a_program_named_pdf_is_skipped_as_type_mismatch_and_listed() -> None:
    raw = handwritten(
        body=multipart(
            "mixed",
            TEXT,
            attached("application/pdf", PE, 'filename="invoice.pdf"'),
            attached("application/pdf", PDF, 'filename="real.pdf"'),
        )
    )
    assert attachments(raw) == (["real.pdf"], "invoice.pdf (type_mismatch)")


def test_script_pages_named_as_images_or_text_are_skipped() -> None:
    raw = handwritten(
        body=multipart(
            "mixed",
            TEXT,
            attached("image/png", SVG, 'filename="logo.png"'),
            attached("application/pdf", HTML, 'filename="statement.pdf"'),
            attached("text/plain", HTML, 'filename="notes.txt"'),
            attached("image/png", PNG, 'filename="photo.png"'),
        )
    )
    assert attachments(raw) == (
        ["photo.png"],
        "logo.png (type_mismatch); statement.pdf (type_mismatch); notes.txt (type_mismatch)",
    )


def test_a_macro_enabled_document_named_docx_is_skipped() -> None:
    raw = handwritten(
        body=multipart("mixed", TEXT, attached("application/octet-stream", DOCM, 'filename="cv.docx"'))
    )
    assert attachments(raw) == ([], "cv.docx (type_mismatch)")


def test_a_program_type_declared_for_a_real_pdf_is_a_mismatch_before_it_is_decoded() -> None:
    raw = handwritten(
        body=multipart("mixed", TEXT, attached("application/x-msdownload", PDF, 'filename="a.pdf"'))
    )
    planned = find_candidates(parse_message(raw).files, None, Defects())
    assert planned[1] == [("a.pdf", Skip.TYPE_MISMATCH)]
    assert attachments(raw) == ([], "a.pdf (type_mismatch)")


def test_a_wrong_passive_type_does_not_refuse_a_real_file() -> None:
    """Mailers mislabel files (the corpus has a bank's statement .pdf sent as image/png): the content
    decides."""
    raw = handwritten(body=multipart("mixed", TEXT, attached("image/png", PDF, 'filename="statement.pdf"')))
    assert attachments(raw) == (["statement.pdf"], None)


def test_the_stored_type_is_the_extensions_never_the_senders() -> None:
    """An 8-bit or contradicting Content-Type never reaches the S3 store (botocore's signer raises on
    ``application/pédf``)."""
    raw = handwritten(body=multipart("mixed", TEXT, *MISLABELLED))
    candidates, skipped = find_candidates(parse_message(raw).files, None, Defects())
    assert [(c.file_name, c.content_type) for c in candidates] == [
        ("x.pdf", "application/pdf"),
        ("shot.png", "image/png"),
        ("data.csv", "text/csv"),
    ]
    assert skipped == []


def test_the_plain_and_rfc2231_names_must_agree_on_the_extension() -> None:
    """The stdlib keeps the first ``filename`` (here the plain one), mail clients that read RFC 2231
    prefer ``filename*``: the same part would be a PDF here and a program elsewhere."""
    raw = handwritten(
        body=multipart(
            "mixed",
            TEXT,
            attached("application/pdf", PDF, "filename=\"safe.pdf\"; filename*=UTF-8''evil.exe"),
            attached("application/pdf", PDF, "filename*=UTF-8''evil.exe; filename=\"safe2.pdf\""),
            attached('application/pdf; name="run.exe"', PDF, 'filename="report.pdf"'),
            attached("application/pdf", PDF, 'filename="a.pdf"; filename="a.exe"'),
        )
    )
    assert attachments(raw) == (
        [],
        "safe.pdf (name_conflict); safe2.pdf (name_conflict); report.pdf (name_conflict); "
        "a.pdf (name_conflict)",
    )


def test_names_that_differ_only_before_the_extension_or_in_encoding_agree() -> None:
    """As in the corpus: a name shortened in one parameter, one name in RFC 2231 and the other in
    RFC 2047, one with no extension at all."""
    raw = handwritten(
        body=multipart(
            "mixed",
            TEXT,
            attached('image/png; name="byo-ror-cover.png"', PNG, 'filename="truncated.png"'),
            attached('application/pdf; name="=?utf-8?Q?=C3=BC.pdf?="', PDF, "filename*=utf-8''%C3%BC.pdf"),
            attached('application/pdf; name="scan"', PDF, 'filename="scan.PDF"'),
        )
    )
    assert attachments(raw) == (["truncated.png", "ü.pdf", "scan.PDF"], None)


def test_a_forwarded_message_is_the_bridges_own_text_and_is_not_type_checked() -> None:
    """Its .txt is rendered by the bridge (its body may be anything the sender wrote, here a page of
    HTML source sent as text/plain), and its names are only used for the .txt's stem."""
    forwarded = part(
        'message/rfc822; name="Message01.eml"',
        "Content-Type: text/plain\r\n\r\n<html><script>x()</script></html>",  # no header shown first
        'Content-Disposition: attachment; filename="Contract.docx"',
    )
    raw = handwritten(body=multipart("mixed", TEXT, forwarded))
    assert attachments(raw) == (["Contract.txt"], None)


def test_an_rfc2231_charset_the_stdlib_raises_on_leaves_the_name_as_written() -> None:
    """``filename*=idna''…`` made ``get_filename`` raise UnicodeError (idna takes no error handler),
    and the message could never be converted."""
    raw = handwritten(
        body=multipart(
            "mixed",
            TEXT,
            attached("application/pdf", PDF, "filename*=idna''scan.pdf"),
            attached("application/pdf; name*=undefined''b%FCro.pdf", PDF, 'filename="büro.pdf"'),
        )
    )
    conversion = run(raw)
    assert [item["FileName"] for item in only_request(conversion)["Attachments"]] == ["scan.pdf", "büro.pdf"]
    assert "undecodable_header:filename" in conversion.defects
