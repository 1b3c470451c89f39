"""What the agent sees of what the body cannot show, and HTML cleaned of what acts.
Each test writes the message it needs and asserts the exact text delivered."""

from __future__ import annotations

import base64

import pytest

from ses_to_connect import html_clean
from ses_to_connect.attachments import stored_index
from ses_to_connect.convert import final_requests, plan
from ses_to_connect.delivery import DeliveryRecord
from ses_to_connect.html_clean import clean_html
from ses_to_connect.limits import MAX_BODY, MAX_DESCRIPTION
from tests.support.constants import MESSAGE_ID
from tests.support.mail import Entity, handwritten, mime_head, multipart, part
from tests.unit.builders import fresh_interpreter, only_request, raw_message, record, run, settings

RAW_URI = f"s3://mail-bucket/inbound/{MESSAGE_ID}"
HEADING = "Not delivered with this email (the stored original has them):"
PHOTO = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 12).decode()  # 3 KB: not decoration
ICON = base64.b64encode(b"\x89PNG\r\n\x1a\n small icon").decode()  # under 2,048 bytes: decoration


def image(content_type: str, name: str, content_id: str, data: str) -> Entity:
    return part(
        f"{content_type}; name={name}",
        data,
        f"Content-ID: <{content_id}>",
        "Content-Transfer-Encoding: base64",
        f"Content-Disposition: inline; filename={name}",
    )


def related(html: str, *images: str) -> Entity:
    """An HTML body and the images it shows, as mailers send them."""
    return multipart("related", part("text/html", html), *images)


def delivered(structure: Entity, **overrides: object) -> tuple[str, str, list[str], dict[str, str], str]:
    """Body, content type, attachment names, attributes and description of the one request."""
    request = only_request(run(handwritten(body=structure), config=settings(**overrides)))
    names = [item["FileName"] for item in request.get("Attachments", [])]
    body = raw_message(request)
    return body["Body"], body["ContentType"], names, dict(request["Attributes"]), request["Description"]


# --- 5. images the body shows by cid: ---------------------------------------------------------


def test_a_cid_image_that_was_attached_is_named_where_it_stood_with_its_alt_text() -> None:
    body, kind, names, _, _ = delivered(
        related(
            '<p>My screen:</p><img src="cid:shot@x" alt="Cracked screen"><p>Thanks</p>',
            image("image/jpeg", "photo.jpg", "shot@x", PHOTO),
        )
    )
    assert (body, kind) == (
        "<p>My screen:</p>[image: Cracked screen (photo.jpg), attached]<p>Thanks</p>",
        "text/html",
    )
    assert names == ["photo.jpg"]


def test_a_cid_image_connect_does_not_take_says_why_where_it_stood_and_not_again_at_the_end() -> None:
    body, _, names, attributes, _ = delivered(
        related(
            '<p>See</p><img src="cid:anim@x">',
            image("image/gif", "dance.gif", "anim@x", PHOTO),
        )
    )
    assert body == "<p>See</p>[image: dance.gif, not delivered: file type not accepted]"
    assert names == []
    assert attributes["sesAttachmentsSkipped"] == "dance.gif (type_not_allowed)"


def test_signature_decoration_is_not_sent_and_leaves_only_its_alt_text() -> None:
    structure = multipart(
        "related",
        part(
            "text/html",
            '<p>Regards, Ann</p><img src="cid:logo@x" alt="Example Ltd"><img src="cid:in@x"><p>Call us</p>',
        ),
        image("image/png", "image001.png", "logo@x", ICON),
        image("image/png", "image002.png", "in@x", ICON),
    )
    body, _, names, attributes, description = delivered(structure)
    assert body == "<p>Regards, Ann</p>Example Ltd<p>Call us</p>"
    assert names == []
    assert attributes["sesAttachmentsSkipped"] == (
        "image001.png (small_inline_image); image002.png (small_inline_image)"
    )
    assert description == "Email from Customer <customer@example.org>: Help"  # decoration is not news

    body, _, names, _, _ = delivered(structure, inline_image_min_bytes=0)
    assert body == (
        "<p>Regards, Ann</p>[image: Example Ltd (image001.png), attached][image: image002.png, attached]"
        "<p>Call us</p>"
    )
    assert names == ["image001.png", "image002.png"]


def test_a_cid_image_whose_part_is_missing_says_so() -> None:
    body, _, _, _, _ = delivered(part("text/html", '<p>Look</p><img src="cid:gone@x" alt="Receipt">'))
    assert body == "<p>Look</p>[image: Receipt, not in the email]"


def test_two_inline_images_of_one_name_are_told_apart_by_their_position() -> None:
    body, _, names, _, _ = delivered(
        related(
            '<img src="cid:a@x"> and <img src="cid:b@x">',
            image("image/jpeg", "scan.jpg", "a@x", PHOTO),
            image("image/jpeg", "scan.jpg", "b@x", PHOTO),
        )
    )
    assert body == "[image: scan.jpg, attached] and [image: scan.jpg, attached as scan (2).jpg]"
    assert names == ["scan.jpg", "scan (2).jpg"]


@pytest.mark.parametrize(
    ("url", "index"),
    [
        ("https://mail-bucket.s3.amazonaws.com/attachments/m1/03.png", 3),
        ("https://b.s3.eu-west-1.amazonaws.com/a/m%2B1/12.pdf?X-Amz-Signature=ab&X-Amz-Expires=3600", 12),
        ("https://b.s3.amazonaws.com/a/m1/07", 7),
        ("https://elsewhere.example/file.png", None),
    ],
)
def test_a_stored_files_position_is_read_back_from_its_url(url: str, index: int | None) -> None:
    assert stored_index(url) == index


# --- 5. files not delivered, in the body ------------------------------------------------------

FILES = multipart(
    "mixed",
    part("text/plain", "Invoice attached."),
    part(
        "application/octet-stream; name=setup.exe",
        "TVqQ",
        "Content-Transfer-Encoding: base64",
        "Content-Disposition: attachment; filename=setup.exe",
    ),
    part(
        "application/pdf; name=invoice.pdf",
        "JVBERi0=",
        "Content-Transfer-Encoding: base64",
        "Content-Disposition: attachment; filename=invoice.pdf",
    ),
    part(
        'application/zip; name="<b>&co.zip"',
        "UEsDBA==",
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="<b>&co.zip"',
    ),
)


def test_files_not_delivered_are_listed_after_the_text_in_words() -> None:
    body, kind, names, _, description = delivered(FILES)
    assert (body, kind) == (
        f"Invoice attached.\n\n----\n{HEADING}\n- setup.exe: file type not accepted\n"
        "- <b>&co.zip: file type not accepted",
        "text/plain",
    )
    assert names == ["invoice.pdf"]
    assert description == (
        "Email from Customer <customer@example.org>: Help · 1 attachment delivered · "
        "2 not delivered (setup.exe, <b>&co.zip)"
    )


def test_files_not_delivered_are_listed_escaped_after_an_html_body() -> None:
    structure = Entity(
        FILES.replace(
            "Content-Type: text/plain\r\n\r\nInvoice attached.",
            "Content-Type: text/html\r\n\r\n<p>Invoice attached.</p>",
        )
    )
    body, kind, _, _, _ = delivered(structure)
    assert (body, kind) == (
        f"<p>Invoice attached.</p>\n<hr>\n<p>{HEADING}</p><ul><li>setup.exe: file type not accepted</li>"
        "<li>&lt;b&gt;&amp;co.zip: file type not accepted</li></ul>",
        "text/html",
    )


def test_the_notice_fits_within_the_body_limit_when_the_text_fills_it() -> None:
    structure = Entity(FILES.replace("Invoice attached.", "a" * (MAX_BODY + 10)))
    body, _, _, _, _ = delivered(structure)
    assert len(body) == MAX_BODY
    assert body.endswith(
        f"{HEADING}\n- setup.exe: file type not accepted\n- <b>&co.zip: file type not accepted"
    )
    assert "[Message truncated: the first 5,242," in body[-400:]


# --- 5. the description -----------------------------------------------------------------------


def test_the_description_names_the_sender_subject_files_and_flags_within_its_limit() -> None:
    raw = handwritten(mime_head("Refund " * 700), FILES)
    request = only_request(run(raw, verdicts={"spf": "FAIL"}))
    assert request["Description"].startswith("Email from Customer <customer@example.org>: Refund Refund")
    assert len(request["Description"]) <= MAX_DESCRIPTION

    request = only_request(run(handwritten(body=FILES), verdicts={"spf": "FAIL"}))
    assert request["Description"] == (
        "Email from Customer <customer@example.org>: Help · 1 attachment delivered · "
        "2 not delivered (setup.exe, <b>&co.zip) · flags: spf:FAIL"
    )
    # The SES message id is not in the description but stays where operators look it up.
    assert request["Attributes"]["sesMessageId"] == MESSAGE_ID
    assert request["References"]["sesMessageId"]["Value"] == MESSAGE_ID


# --- 6. HTML that acts ------------------------------------------------------------------------


def no_images(content_id: str, alt: str) -> str:
    return f"[{content_id}]"


@pytest.mark.parametrize(
    ("markup", "cleaned"),
    [
        ("<p>Hi</p><script>alert(1)</script>", "<p>Hi</p>"),
        ('<p onclick="steal()" onmouseover="x()">Hi</p>', "<p>Hi</p>"),
        ('<a href="javascript:alert(1)">pay</a>', "<a>pay</a>"),
        ('<a href=" JaVaScRiPt:alert(1)">pay</a>', "<a>pay</a>"),
        ('<a href="vbscript:x">x</a><a href="data:text/html,x">y</a>', "<a>x</a><a>y</a>"),
        ('<base href="https://evil.example/"><a href="/login">log in</a>', "<a>log in</a>"),
        ('<img src="/api/logout" alt="x"><a href="#top">top</a>', '<img alt="x"><a href="#top">top</a>'),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example/"><p>Hi</p>', "<p>Hi</p>"),
        (
            '<meta charset="iso-8859-1">'
            '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">ok',
            "ok",
        ),
        ('<form action="https://evil.example/"><input name="pin"><button>Send</button></form>', "Send"),
        (
            '<iframe src="https://evil.example/"></iframe><object data="x.swf">o</object><embed src="x">e',
            "e",
        ),
        ("<svg><script>alert(1)</script><circle/></svg>ok", "ok"),
        ("<style>body{background:url(https://track.example/)}</style><p>Hi</p>", "<p>Hi</p>"),
        (
            '<p style="color: red; background-image: url(https://track.example/x)">Hi</p>',
            '<p style="color: red">Hi</p>',
        ),
        ("<!-- hidden --><p>Hi</p>", "<p>Hi</p>"),
        # What presents is kept: tables, inline styles, images, links, old presentational markup.
        (
            '<table border="1" cellpadding="4" style="border-collapse: collapse"><tr><td colspan="2" '
            'bgcolor="#eee" align="center">Order</td></tr></table>',
            '<table border="1" cellpadding="4" style="border-collapse: collapse"><tbody><tr><td colspan="2" '
            'bgcolor="#eee" align="center">Order</td></tr></tbody></table>',
        ),
        (
            '<a href="https://shop.example/o/42?a=1&amp;b=2" title="Order">order 42</a>',
            '<a href="https://shop.example/o/42?a=1&amp;b=2" title="Order">order 42</a>',
        ),
        (
            '<a href="mailto:help@shop.example">mail</a> <a href="tel:+3312345">call</a>',
            '<a href="mailto:help@shop.example">mail</a> <a href="tel:+3312345">call</a>',
        ),
        (
            '<img src="https://shop.example/logo.png" alt="Shop" width="120">',
            '<img src="https://shop.example/logo.png" alt="Shop" width="120">',
        ),
        (
            '<font face="Arial" color="#333" size="2"><b>Hi</b> <i>there</i></font>',
            '<font face="Arial" color="#333" size="2"><b>Hi</b> <i>there</i></font>',
        ),
        ('<img src="cid:image001.png@01DA">', "[image001.png@01DA]"),
        ("<p>caf\u00e9 \U0001f44d\u200d</p>", "<p>caf\u00e9 \U0001f44d\u200d</p>"),
    ],
)
def test_what_acts_or_misleads_is_removed_and_what_presents_is_kept(markup: str, cleaned: str) -> None:
    assert clean_html(markup, no_images) == cleaned


def test_a_whole_document_keeps_its_body_and_loses_its_head_declarations() -> None:
    body, kind, _, _, _ = delivered(
        part(
            "text/html; charset=utf-8",
            '<html><head><meta charset="iso-8859-1"><base href="https://evil.example/">'
            "<title>x</title><script>steal()</script></head>"
            '<body onload="steal()" bgcolor="#fff"><p>Where is my parcel?</p></body></html>',
        )
    )
    assert (body, kind) == (
        '<html><head></head><body bgcolor="#fff"><p>Where is my parcel?</p></body></html>',
        "text/html",
    )


def test_html_that_shows_nothing_once_cleaned_gets_a_notice_instead_of_an_empty_body() -> None:
    body, kind, _, _, _ = delivered(
        part("text/html", "<title>everything after an unclosed title is its text")
    )
    assert (body, kind) == (
        f"[The HTML body of this email shows no text. The original message is stored at {RAW_URI}]",
        "text/plain",
    )


def test_the_sanitizer_is_not_imported_at_cold_start_only_for_an_html_body() -> None:
    script = (
        "import sys; import ses_to_connect.handler; print('justhtml' in sys.modules); "
        "from tests.unit.builders import run; run(b'Subject: x\\r\\nFrom: a@example.org\\r\\n\\r\\nplain'); "
        "print('justhtml' in sys.modules); "
        "run(b'Subject: x\\r\\nFrom: a@example.org\\r\\nContent-Type: text/html\\r\\n\\r\\n<p>hi</p>'); "
        "print('justhtml' in sys.modules)"
    )
    assert fresh_interpreter(script) == ["False", "False", "True"]


def test_the_html_is_cleaned_once_however_often_the_requests_are_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pipeline builds a message's requests again for each destination and each fallback."""
    calls: list[str] = []

    def counted(markup: str, label: html_clean.ImageLabel) -> str:
        calls.append(markup)
        return clean_html(markup, label)

    monkeypatch.setattr(html_clean, "clean_html", counted)
    raw = handwritten(body=part("text/html", "<p>cleaned once</p><script>x()</script>"))
    planned = plan(raw, record(raw), settings())
    nothing_stored = DeliveryRecord(attachments=(), skipped=(), related_contact_id=None, valid_until=None)
    bodies = {
        raw_message(final_requests(planned, nothing_stored).conversion().requests[0])["Body"]
        for _ in range(3)
    }
    assert bodies == {"<p>cleaned once</p>"}
    assert len(calls) == 1


def test_a_file_name_that_reverses_itself_is_listed_as_connect_shows_names() -> None:
    structure = multipart(
        "mixed",
        part("text/plain", "Invoice"),
        part(
            "application/octet-stream",
            "TVqQ",
            "Content-Transfer-Encoding: base64",
            "Content-Disposition: attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe",
        ),
    )
    body, _, _, _, description = delivered(structure)
    assert body.endswith("\n- invoicefdp.exe: file type not accepted")
    assert description.endswith("1 not delivered (invoicefdp.exe)")


def test_ids_names_and_classes_are_dropped_so_they_cannot_stand_for_the_viewers_own_elements() -> None:
    markup = '<form id="login"><p class="MsoNormal" id="x">Hi</p><a name="top" href="https://a.example">a</a>'
    assert clean_html(markup, no_images) == '<p>Hi</p><a href="https://a.example">a</a>'


def test_files_of_one_name_and_reason_are_counted_on_one_line() -> None:
    unnamed = part(
        "audio/basic", "AAAA", "Content-Transfer-Encoding: base64", "Content-Disposition: attachment"
    )
    body, _, _, _, description = delivered(multipart("mixed", part("text/plain", "Hi"), unnamed, unnamed))
    assert body == f"Hi\n\n----\n{HEADING}\n- attachment: file type not accepted (2 files)"
    assert description.endswith("2 not delivered (attachment (2 files))")


def test_a_small_image_marked_attachment_is_a_file_not_decoration() -> None:
    marked = image("image/png", "stamp.png", "stamp@x", ICON).replace("inline;", "attachment;")
    body, _, names, _, _ = delivered(related('<p>Stamped</p><img src="cid:stamp@x">', marked))
    assert body == "<p>Stamped</p>[image: stamp.png, attached]"
    assert names == ["stamp.png"]


def test_html_too_large_to_clean_is_shown_as_text_with_a_notice() -> None:
    from ses_to_connect.budget import MAX_CLEANED_HTML_CHARS  # noqa: PLC0415

    paragraph = "<p>Order 5521 never arrived &amp; nobody answers.</p>\n"
    html_body = "<html><body>" + paragraph * (MAX_CLEANED_HTML_CHARS // len(paragraph) + 1) + "</body></html>"
    request = only_request(run(handwritten(body=part("text/html; charset=utf-8", html_body))))

    body = raw_message(request)
    assert body["ContentType"] == "text/plain"
    assert body["Body"].startswith("[This HTML body is too large to clean for display: it is shown as text.")
    assert "Order 5521 never arrived & nobody answers." in body["Body"]
    assert "<p>" not in body["Body"]
