"""The body is what a mail client shows; every other part is an attachment or listed as skipped.
Each test writes the message it needs, part by part."""

from __future__ import annotations

import base64

import pytest

from ses_to_connect.attachments import Candidate, Skipped
from ses_to_connect.convert import (
    MAX_SKIPPED_ATTRIBUTE,
    UnsignedUrlSink,
    _skipped_listing,
    convert_offline,
    plan,
)
from ses_to_connect.html_text import html_to_text
from ses_to_connect.settings import DEFAULT_POLICY, Action, BodyPreference, Settings
from tests.support.constants import MESSAGE_ID
from tests.support.mail import Entity, handwritten, mime_head, multipart, part
from tests.unit.builders import only_request, raw_message, record, run, settings

TEXT = settings(body_preference=BodyPreference.TEXT)
NO_TEXT_NOTICE = (
    "[This email has no readable text body. The original message is stored at "
    f"s3://mail-bucket/inbound/{MESSAGE_ID}]"
)


def body_of(raw: bytes, config: Settings | None = None) -> tuple[str, str]:
    request = only_request(run(raw, config=config))
    return raw_message(request)["Body"], raw_message(request)["ContentType"]


def attachments(raw: bytes) -> tuple[list[str], str | None]:
    request = only_request(run(raw))
    names = [item["FileName"] for item in request.get("Attachments", [])]
    return names, request["Attributes"].get("sesAttachmentsSkipped")


PHOTO = base64.b64encode(b"\xff\xd8\xff\xe0 a small jpeg").decode()
TEXT_THEN_HTML = handwritten(
    body=multipart(
        "mixed",
        part("text/plain; charset=utf-8", "Order 42 <urgent>\r\nsecond line"),
        part("text/html; charset=utf-8", "<p>Tracking &amp; status</p>"),
    )
)


# --- inline parts of a multipart/mixed are all shown, in order ------------------------------------


def test_text_then_html_in_mixed_gives_an_html_body_with_the_text_escaped() -> None:
    assert body_of(TEXT_THEN_HTML) == (
        "<div>Order 42 &lt;urgent&gt;<br>\nsecond line</div>\n<hr>\n<p>Tracking &amp; status</p>",
        "text/html",
    )
    assert attachments(TEXT_THEN_HTML) == ([], None)


def test_text_then_html_in_mixed_gives_a_text_body_with_the_html_rendered() -> None:
    assert body_of(TEXT_THEN_HTML, config=TEXT) == (
        "Order 42 <urgent>\r\nsecond line\n\n----\n\nTracking & status",
        "text/plain",
    )


def test_text_in_a_nested_mixed_follows_the_first_text() -> None:
    raw = handwritten(
        body=multipart(
            "mixed",
            part("text/plain", "First part."),
            multipart("mixed", part("text/plain", "Hi there, the invoice is wrong."), boundary="b2"),
        )
    )
    assert body_of(raw) == ("First part.\n\n----\n\nHi there, the invoice is wrong.", "text/plain")


def test_iphone_signature_after_an_inline_photo_is_kept_and_the_photo_attached() -> None:
    raw = handwritten(
        body=multipart(
            "mixed",
            part("text/plain; charset=us-ascii", "Here is the broken part.\r\n"),
            part(
                'image/jpeg; name="photo.JPG"',
                PHOTO,
                'Content-Disposition: inline; filename="photo.JPG"',
                "Content-Transfer-Encoding: base64",
            ),
            part("text/plain; charset=us-ascii", "\r\n\r\nSent from my iPhone"),
        )
    )
    assert body_of(raw) == ("Here is the broken part.\n\n----\n\nSent from my iPhone", "text/plain")
    assert attachments(raw) == (["photo.JPG"], None)


def test_html_parts_with_text_between_them_stay_html_and_the_text_is_escaped() -> None:
    raw = handwritten(
        body=multipart(
            "mixed",
            part("text/html", "<p>Hello</p>"),
            part("text/plain", "if a < b & c > d"),
            part("text/html", "<p>Regards</p>"),
        )
    )
    assert body_of(raw, config=TEXT) == (
        "Hello\n\n----\n\nif a < b & c > d\n\n----\n\nRegards",
        "text/plain",
    )
    assert body_of(raw) == (
        "<p>Hello</p>\n<hr>\n<div>if a &lt; b &amp; c &gt; d</div>\n<hr>\n<p>Regards</p>",
        "text/html",
    )


def test_only_html_parts_stay_html_even_with_the_text_preference() -> None:
    raw = handwritten(
        body=multipart("mixed", part("text/html", "<p>one</p>"), part("text/html", "<p>two</p>"))
    )
    assert body_of(raw, config=TEXT) == ("<p>one</p>\n<hr>\n<p>two</p>", "text/html")


def test_an_inline_text_part_with_a_file_name_is_shown() -> None:
    raw = handwritten(
        body=multipart(
            "mixed",
            part("text/plain", "See below."),
            part(
                "text/plain; name=notes.txt", "the notes", "Content-Disposition: inline; filename=notes.txt"
            ),
        )
    )
    assert body_of(raw) == ("See below.\n\n----\n\nthe notes", "text/plain")
    assert attachments(raw) == ([], None)


# --- multipart/alternative shows one child ---------------------------------------------------------


def test_alternative_shows_the_preferred_type_and_attaches_none_of_the_others() -> None:
    raw = handwritten(
        body=multipart(
            "alternative",
            part("text/plain", "plain version"),
            multipart(
                "related",
                part("text/html", '<p>html version</p><img src="cid:logo@x">'),
                part(
                    "image/png", "iVBORw0KGgo=", "Content-ID: <logo@x>", "Content-Transfer-Encoding: base64"
                ),
                boundary="b2",
            ),
        )
    )
    # The 8-byte logo is under inlineImageMinBytes: decoration, neither shown nor sent (it has no alt text).
    assert body_of(raw) == ("<p>html version</p>", "text/html")
    assert attachments(raw) == ([], "attachment.png (small_inline_image)")
    assert body_of(raw, config=TEXT) == ("plain version", "text/plain")


def test_alternative_shows_the_last_part_of_the_preferred_type() -> None:
    """RFC 2046 5.1.4: alternatives come in increasing faithfulness to the original."""
    raw = handwritten(
        body=multipart("alternative", part("text/plain", "short"), part("text/plain", "the full version"))
    )
    assert body_of(raw) == ("the full version", "text/plain")


def test_an_empty_preferred_alternative_gives_way_to_one_with_text() -> None:
    raw = handwritten(
        body=multipart("alternative", part("text/plain", "the text"), part("text/html", " \r\n"))
    )
    assert body_of(raw) == ("the text", "text/plain")


# --- what is not shown is an attachment or listed ------------------------------------------------


def test_a_forwarded_news_article_is_shown_under_its_headers_and_sent_as_text() -> None:
    article = (
        "From: poster@example.net\r\nNewsgroups: comp.infosystems.www.servers.unix\r\n"
        "Subject: Secure web servers\r\n\r\nI am evaluating secure web servers for my company."
    )
    raw = handwritten(
        body=multipart("mixed", part("text/plain", "FYI, see the article."), part("message/news", article))
    )
    assert body_of(raw) == (
        "FYI, see the article.\n\n----\n\n---------- Forwarded message ----------\n"
        "From: poster@example.net\nSubject: Secure web servers\n\n"
        "I am evaluating secure web servers for my company.",
        "text/plain",
    )
    assert attachments(raw) == (["Secure web servers.txt"], None)


def test_an_inline_forward_is_shown_where_it_stands_with_its_own_files_attached() -> None:
    """AOL, Evolution and many clients forward inline; Thunderbird and Apple Mail show it in the body."""
    inner = (
        "From: Shop <orders@shop.example>\r\nDate: Mon, 7 Dec 2026 09:00:00 +0000\r\n"
        "Subject: Order 4711\r\nTo: customer@example.org\r\n"
        + multipart(
            "mixed",
            part("text/html", "<p>Your order <b>4711</b> has shipped.</p>"),
            part(
                "application/pdf",
                "JVBERi0=",
                "Content-Transfer-Encoding: base64",
                "Content-Disposition: attachment; filename=invoice.pdf",
            ),
            boundary="inner",
        )
    )
    raw = handwritten(
        body=multipart(
            "mixed",
            part("text/plain", "It never arrived, see below."),
            part("message/rfc822", inner, "Content-Disposition: inline"),
            part("text/plain", "Thanks, Jane"),
        )
    )
    body, content_type = body_of(raw)
    assert content_type == "text/html"
    assert body == (
        "<div>It never arrived, see below.</div>\n<hr>\n"
        "<div>---------- Forwarded message ----------<br>\nFrom: Shop &lt;orders@shop.example&gt;<br>\n"
        "Date: Mon, 7 Dec 2026 09:00:00 +0000<br>\nSubject: Order 4711<br>\nTo: customer@example.org</div>\n"
        "<p>Your order <b>4711</b> has shipped.</p>\n<hr>\n<div>Thanks, Jane</div>"
    )
    assert attachments(raw) == (["Order 4711.txt", "invoice.pdf"], None)


def test_a_forward_marked_attachment_stays_an_attachment() -> None:
    article = "From: poster@example.net\r\nSubject: Secure web servers\r\n\r\nThe article text."
    raw = handwritten(
        body=multipart(
            "mixed",
            part("text/plain", "See the attached mail."),
            part("message/rfc822", article, "Content-Disposition: attachment"),
        )
    )
    assert body_of(raw) == ("See the attached mail.", "text/plain")
    assert attachments(raw) == (["Secure web servers.txt"], None)


def test_a_forwarded_article_alone_is_shown_in_the_body() -> None:
    article = "From: poster@example.net\r\nSubject: Secure web servers\r\n\r\nThe article text."
    raw = handwritten(body=multipart("mixed", part("message/news", article)))
    assert body_of(raw) == (
        "---------- Forwarded message ----------\nFrom: poster@example.net\nSubject: Secure web servers"
        "\n\nThe article text.",
        "text/plain",
    )
    assert attachments(raw) == (["Secure web servers.txt"], None)


def test_a_forward_without_headers_shows_only_its_text_and_a_fragment_is_not_a_forward() -> None:
    headless = handwritten(
        body=multipart("mixed", part("text/plain", "one"), part("message/rfc822", "\r\ntwo"))
    )
    assert body_of(headless) == ("one\n\n----\n\ntwo", "text/plain")
    fragment = handwritten(
        body=multipart(
            "mixed",
            part("text/plain", "one"),
            part('message/partial; id="x@example"; number=1; total=2', "Subject: Part\r\n\r\ndata"),
        )
    )
    assert body_of(fragment) == ("one", "text/plain")


class StoredFiles(UnsignedUrlSink):
    """An attachment sink that keeps what it is given, by file name."""

    def __init__(self) -> None:
        super().__init__("mail-bucket")
        self.files: dict[str, bytes] = {}

    def store(self, key: str, candidate: Candidate, data: bytes) -> str:
        self.files[candidate.file_name] = data
        return super().store(key, candidate, data)


def stored_files(raw: bytes) -> dict[str, str]:
    sink = StoredFiles()
    only_request(convert_offline(raw, record(raw), settings(), sink))
    return {name: data.decode() for name, data in sink.files.items()}


def test_each_payload_is_the_same_bytes_at_every_call() -> None:
    """Signing the files again (Connect refused stale URLs) decodes them again: the same bytes,
    whether base64 (decoded at once, or damaged and decoded leniently), quoted-printable or
    a forwarded message rendered as text."""
    scan = bytes(range(256)) * 64
    raw = handwritten(
        body=multipart(
            "mixed",
            part("text/plain", "see the files"),
            part(
                "application/pdf",
                base64.encodebytes(scan).decode(),
                'Content-Disposition: attachment; filename="scan.pdf"',
                "Content-Transfer-Encoding: base64",
            ),
            part(
                "application/pdf",
                "QUJDRA",  # "ABCD" without its padding
                'Content-Disposition: attachment; filename="cut.pdf"',
                "Content-Transfer-Encoding: base64",
            ),
            part(
                "text/csv",
                "price=3D10=E2=82=AC",
                'Content-Disposition: attachment; filename="prices.csv"',
                "Content-Transfer-Encoding: quoted-printable",
            ),
            part("message/rfc822", "From: a@example.net\r\nSubject: Offer\r\n\r\nten euros"),
        )
    )
    planned = plan(raw, record(raw), settings())

    first = {candidate.file_name: candidate.payload() for candidate in planned.candidates}
    again = {candidate.file_name: candidate.payload() for candidate in planned.candidates}

    assert first == {
        "scan.pdf": scan,
        "cut.pdf": b"ABCD",
        "prices.csv": "price=10€".encode(),
        "Offer.txt": b"From: a@example.net\nSubject: Offer\n\nten euros",
    }
    assert again == first


def test_a_forwarded_html_message_is_sent_as_readable_text() -> None:
    inner = (
        "From: a@example.net\r\nSubject: Offer\r\nContent-Type: text/html\r\n\r\n"
        "<html><head><style>p {color: red}</style></head><body><p>Price:&nbsp;10&euro;</p></body></html>"
    )
    raw = handwritten(body=multipart("mixed", part("text/plain", "fwd"), part("message/rfc822", inner)))
    assert stored_files(raw) == {"Offer.txt": "From: a@example.net\nSubject: Offer\n\nPrice: 10€"}


def test_a_forwarded_message_sent_in_base64_is_decoded_with_its_own_attachments() -> None:
    """RFC 2046 forbids base64 for message/rfc822; mailers use it (imap-tools' corpus)."""
    inner = handwritten(
        mime_head("Original"),
        multipart(
            "mixed",
            part("text/plain; charset=utf-8", "the original text, déjà vu"),
            part(
                "application/pdf",
                "JVBERi0=",
                "Content-Transfer-Encoding: base64",
                "Content-Disposition: attachment; filename=scan.pdf",
            ),
        ),
    )
    raw = handwritten(
        body=multipart(
            "mixed",
            part("text/plain", "See the forwarded mail."),
            part("message/rfc822", base64.encodebytes(inner).decode(), "Content-Transfer-Encoding: base64"),
        )
    )
    conversion = run(raw)
    assert attachments(raw) == (["Original.txt", "scan.pdf"], None)
    assert stored_files(raw)["Original.txt"].endswith(
        "Subject: Original\nTo: support@example.com\n\nthe original text, déjà vu"
    )
    assert "encoded_forwarded_message:base64" in conversion.defects


def test_a_text_file_sent_as_an_attachment_keeps_its_name_and_stays_out_of_the_body() -> None:
    raw = handwritten(
        body=multipart(
            "mixed",
            part("text/plain", "Please find the log attached."),
            part(
                "text/plain; name=server.log",
                "ERROR 1\r\nERROR 2",
                'Content-Disposition: attachment; filename="server.log"',
            ),
            part("text/plain", "the data", "Content-Disposition: attachment; filename=data.txt"),
        )
    )
    assert body_of(raw) == (
        "Please find the log attached.\n\n----\n"
        "Not delivered with this email (the stored original has them):\n"
        "- server.log: file type not accepted",
        "text/plain",
    )
    # Connect takes no .log file: it is listed under its name.
    assert attachments(raw) == (["data.txt"], "server.log (type_not_allowed)")


def test_a_text_attachment_alone_is_not_taken_for_the_body() -> None:
    raw = handwritten(
        body=multipart(
            "mixed", part("text/plain", "the data", "Content-Disposition: attachment; filename=data.txt")
        )
    )
    assert body_of(raw) == (NO_TEXT_NOTICE, "text/plain")
    assert attachments(raw) == (["data.txt"], None)


@pytest.mark.parametrize("blank", ["", " ", "\r\n\r\n", " \t\r\n  \r\n"])
def test_a_body_of_white_space_only_gets_the_no_readable_text_notice(blank: str) -> None:
    conversion = run(handwritten(body=part("text/plain", blank)))
    assert raw_message(only_request(conversion))["Body"] == NO_TEXT_NOTICE
    assert "no_text_body" in conversion.defects


def test_white_space_parts_add_no_separator() -> None:
    raw = handwritten(
        body=multipart(
            "mixed", part("text/plain", "Hello"), part("text/plain", "  \r\n"), part("text/html", "")
        )
    )
    assert body_of(raw) == ("Hello", "text/plain")


@pytest.mark.parametrize(
    "container",
    [
        'Content-Type: multipart/mixed; boundary="never-used"\r\n\r\nthe text of a container\r\n',
        "Content-Type: multipart/mixed\r\n\r\nthe text of a container\r\n",  # no boundary at all
        "Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
        "Content-Type: multipart/alternative; boundary=lost\r\n\r\nthe text of a container\r\n--b1--\r\n",
    ],
    ids=["boundary-never-appears", "no-boundary", "nested"],
)
def test_a_broken_multipart_container_is_shown_as_text_not_listed_as_a_file(container: str) -> None:
    conversion = run(handwritten(body=Entity(container)))
    request = only_request(conversion)
    assert raw_message(request)["Body"].strip() == "the text of a container"
    assert "sesAttachmentsSkipped" not in request["Attributes"]
    assert {"StartBoundaryNotFoundDefect", "NoBoundaryInMultipartDefect"} & set(conversion.defects)


def test_a_delivery_report_is_shown_as_text_when_delivered() -> None:
    raw = handwritten(
        body=multipart(
            "report; report-type=delivery-status",
            part("text/plain", "Your message could not be delivered."),
            part(
                "message/delivery-status",
                "Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; gone@example.net\r\n"
                "Action: failed\r\nStatus: 5.1.1\r\n",
            ),
        )
    )
    body, content_type = body_of(
        raw, config=settings(policy={**DEFAULT_POLICY, "guard:bounce": Action.DELIVER})
    )
    assert (body, content_type) == (
        "Your message could not be delivered.\n\n----\n\nReporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.1.1",
        "text/plain",
    )


# --- the skipped listing -------------------------------------------------------------------------


def test_a_skipped_listing_that_fits_is_every_entry() -> None:
    skipped = [Skipped("a.exe", "type_not_allowed"), Skipped("b.pdf", "too_large")]
    assert _skipped_listing(skipped) == "a.exe (type_not_allowed); b.pdf (too_large)"


def test_a_long_skipped_listing_ends_with_how_many_more_within_the_limit() -> None:
    skipped = [Skipped(f"file-{n:03d}.exe", "type_not_allowed") for n in range(300)]
    entry = "file-000.exe (type_not_allowed)"  # 31 characters, 33 with "; "

    listing = _skipped_listing(skipped)

    kept = (MAX_SKIPPED_ATTRIBUTE - len("; … and 177 more") + 2) // 33
    assert len(listing) <= MAX_SKIPPED_ATTRIBUTE
    assert listing.endswith(f"file-{kept - 1:03d}.exe (type_not_allowed); … and {300 - kept} more")
    assert listing.startswith(entry)
    assert listing.count("(type_not_allowed)") == kept == 123


def test_a_listing_whose_first_entry_does_not_fit_says_how_many() -> None:
    skipped = [Skipped("x" * 3000, "too_large"), Skipped("y" * 3000, "too_large")]
    assert _skipped_listing(skipped) == f"{'x' * 3000} (too_large); … and 1 more"
    skipped = [Skipped("x" * 4090, "too_large")] * 2
    assert _skipped_listing(skipped) == "… and 2 more"


def test_files_known_only_by_number_are_counted_in_how_many_more() -> None:
    """The delivery record keeps a bounded list of names; the rest still count in the listing."""
    skipped = [Skipped("a.exe", "type_not_allowed"), Skipped("b.pdf", "too_large")]
    assert _skipped_listing(skipped, unnamed=0) == "a.exe (type_not_allowed); b.pdf (too_large)"
    assert (
        _skipped_listing(skipped, unnamed=600)
        == "a.exe (type_not_allowed); b.pdf (too_large); … and 600 more"
    )
    many = [Skipped(f"file-{n:03d}.exe", "type_not_allowed") for n in range(300)]
    listing = _skipped_listing(many, unnamed=690)
    assert len(listing) <= MAX_SKIPPED_ATTRIBUTE
    named = listing.count("(type_not_allowed)")
    assert listing.endswith(f"; … and {300 - named + 690} more")


def test_the_listing_reaches_the_request_through_a_conversion() -> None:
    parts = [
        part(
            "application/x-msdownload",
            "TVo=",
            f'Content-Disposition: attachment; filename="tool-{n:04d}.exe"',
        )
        for n in range(200)
    ]
    request = only_request(run(handwritten(body=multipart("mixed", part("text/plain", "hi"), *parts))))
    listing = request["Attributes"]["sesAttachmentsSkipped"]
    assert len(listing) <= MAX_SKIPPED_ATTRIBUTE
    assert listing.startswith("tool-0000.exe (type_not_allowed); tool-0001.exe (type_not_allowed)")
    # 200 entries of 32 characters, 34 with "; ": 120 fit with "; … and 80 more".
    assert listing.endswith("tool-0119.exe (type_not_allowed); … and 80 more")


# --- HTML as text ----------------------------------------------------------------------------------


def test_html_to_text_keeps_the_words_a_browser_shows_one_line_per_block() -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style><script>alert(1)</script></head><body>"
        "<h1>Order&nbsp;status</h1><p>Your   order\n is <b>late</b>.</p><ul><li>one</li><li>two</li></ul>"
        "<pre>  kept\n    as is</pre><!-- a comment --><p>a &lt; b &amp; c</p></body></html>"
    )
    assert (
        html_to_text(html) == "Order status\n\nYour order is late.\n\none\n\ntwo\n\nkept\nas is\n\na < b & c"
    )


@pytest.mark.parametrize(
    "html", ["<", "<p", "</", "<!", "<![CDATA[", "<a href='x", "&#99999999;", "<scr<script>ipt>"]
)
def test_html_to_text_never_raises_on_broken_markup(html: str) -> None:
    assert isinstance(html_to_text(html), str)
