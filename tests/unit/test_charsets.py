# ruff: noqa: RUF001  (Cyrillic and Greek test text has letters that look Latin)
"""One bad byte spoils one character, in bodies and in headers.

Each message is written here, in its charset and with its damage, and the
exact text that reaches Connect is asserted, with the defects recorded on the way.
"""

from __future__ import annotations

import base64

import pytest

from ses_to_connect import budget
from ses_to_connect.budget import MAX_DETECTIONS, Bound
from ses_to_connect.charsets import codec_for, decode
from ses_to_connect.headers import decode_words
from ses_to_connect.model import Defects
from tests.support.constants import FROM, SUBJECT, SUPPORT
from tests.support.mail import Header, handwritten
from tests.unit.builders import count_detections, fresh_interpreter, only_request, raw_message, run

FRENCH = "Bonjour, l'arrivée est prévue à 10h. Merci d'avance, Hélène."
RUSSIAN = "Здравствуйте! Пишу вам по поводу заказа номер 1234. Когда будет доставка? "


def message(body: bytes, content_type: str, *headers: bytes, cte: bytes = b"8bit") -> bytes:
    """One text part, written byte by byte: the tests need raw 8-bit content and headers."""
    head: list[Header] = [f"From: {FROM}", f"To: {SUPPORT}", *headers]
    if not any(h.lower().startswith(b"subject:") for h in headers):
        head.append(f"Subject: {SUBJECT}")
    return handwritten(head, body, content_type=content_type, cte=cte.decode("ascii"))


def body_and_defects(raw: bytes) -> tuple[str, list[str]]:
    conversion = run(raw)
    return raw_message(only_request(conversion))["Body"], conversion.defects


def subject_and_defects(raw: bytes) -> tuple[str, list[str]]:
    conversion = run(raw)
    return raw_message(only_request(conversion))["Subject"], conversion.defects


# --- 2. bodies: the declared charset's superset, only the bad bytes replaced --------------------


def test_one_stray_latin1_byte_in_utf8_spoils_that_character_only() -> None:
    body = FRENCH.encode().replace("Hélène".encode(), b"H\xe9l\xe8ne")

    text, defects = body_and_defects(message(body, "text/plain; charset=utf-8"))

    assert text == FRENCH.replace("Hélène", "H\ufffdl\ufffdne")
    assert defects == ["charset_mismatch:utf-8"]


def test_one_bad_byte_in_8kb_of_cyrillic_utf8_spoils_one_character() -> None:
    original = (RUSSIAN * 110)[:4000]  # 4,000 characters, about 7.4 kB of UTF-8
    body = original.encode()
    damaged = body[:5000] + b"\xff" + body[5000:]

    text, defects = body_and_defects(message(damaged, "text/plain; charset=utf-8"))

    assert text == body[:5000].decode() + "\ufffd" + body[5000:].decode()
    assert defects == ["charset_mismatch:utf-8"]


@pytest.mark.parametrize(
    ("label", "codec", "text"),
    [
        ("gb2312", "gbk", "请问订单什么时候发货？喆"),  # 喆 is in GBK, not in GB 2312
        ("Shift_JIS", "cp932", "ご注文①の件で、お問い合わせです"),  # ① is NEC's, in cp932
        ("euc-kr", "cp949", "주문 관련 문의드립니다 똠방각하"),  # 똠 is in cp949 (UHC) only
        ("big5", "cp950", "請問訂單何時出貨？價格€100"),  # € is cp950's
        ("big5", "big5hkscs", "請問訂單何時出貨？嘅"),  # 嘅 is HKSCS, which WHATWG's Big5 has too
    ],
)
def test_a_legacy_cjk_label_is_read_as_its_whatwg_superset(label: str, codec: str, text: str) -> None:
    assert codec_for(label) is not None
    with pytest.raises(UnicodeDecodeError):
        text.encode(codec).decode(label)  # what Python's own codec of that name makes of it

    body, defects = body_and_defects(message(text.encode(codec), f"text/plain; charset={label}"))

    assert (body, defects) == (text, [])


def test_iso_2022_jp_reads_nec_row_13_and_half_width_katakana_as_whatwg_does() -> None:
    """Python's iso2022_jp knows neither; WHATWG's decoder reads JIS X 0208 with cp932's table."""
    body = (
        "ご注文".encode("iso2022_jp") + b"\x1b$B-!\x1b(B" + b"\x1b(I6@6E\x1b(B" + " 〜".encode("iso2022_jp")
    )
    with pytest.raises(UnicodeDecodeError):
        body.decode("iso2022_jp")

    text, defects = body_and_defects(message(body, "text/plain; charset=iso-2022-jp", cte=b"7bit"))

    assert (text, defects) == ("ご注文①ｶﾀｶﾅ ～", [])  # and WAVE DASH as cp932 has it, like the rest


def test_iso_8859_1_with_windows_smart_quotes_reads_as_windows_1252() -> None:
    body = "\u201cQuoted\u201d \u2013 it\u2019s 10\u20ac\u2026".encode("cp1252")

    text, defects = body_and_defects(message(body, "text/plain; charset=iso-8859-1"))

    assert (text, defects) == ("\u201cQuoted\u201d \u2013 it\u2019s 10\u20ac\u2026", [])


def test_windows_1252_maps_its_five_unassigned_bytes_to_c1_controls_as_whatwg_does() -> None:
    """Python's cp1252 raises on 0x81, 0x8D, 0x8F, 0x90 and 0x9D; the WHATWG index maps them."""
    data = b"a\x81b\x8dc\x8fd\x90e\x9df\x80"

    decoded = decode(data, codec_for("iso-8859-1"))

    assert decoded == ("a\x81b\x8dc\x8fd\x90e\x9df\u20ac", "windows-1252", True, False)


def test_8bit_text_declared_us_ascii_is_utf8_when_it_is_valid_utf8_else_windows_1252() -> None:
    utf8, utf8_defects = body_and_defects(message("naïve “quotes”".encode(), "text/plain; charset=us-ascii"))
    cp1252, cp1252_defects = body_and_defects(
        message("naïve “quotes”".encode("cp1252"), "text/plain; charset=us-ascii")
    )

    assert (utf8, utf8_defects) == ("naïve “quotes”", ["charset_mismatch:us-ascii", "charset_guessed:utf-8"])
    assert (cp1252, cp1252_defects) == ("naïve “quotes”", ["charset_mismatch:us-ascii"])


def test_an_undeclared_8bit_body_is_detected_and_recorded() -> None:
    body = (RUSSIAN * 3).encode("cp1251")

    text, defects = body_and_defects(message(body, "text/plain"))

    assert text == RUSSIAN * 3
    assert defects == ["undeclared_8bit_body", "charset_guessed:windows-1251"]


def test_a_body_that_is_wholly_in_another_charset_than_declared_is_detected() -> None:
    body = (RUSSIAN * 3).encode("koi8_r")

    text, defects = body_and_defects(message(body, "text/plain; charset=utf-8"))

    assert text == RUSSIAN * 3
    assert defects == ["charset_mismatch:utf-8", "charset_guessed:koi8-r"]


def test_an_unknown_charset_is_detected_and_recorded() -> None:
    text, defects = body_and_defects(message((RUSSIAN * 3).encode("cp1251"), "text/plain; charset=x-klingon"))

    assert text == RUSSIAN * 3
    assert defects == ["unknown_charset:x-klingon", "charset_guessed:windows-1251"]


def test_a_byte_order_mark_wins_over_the_label_and_is_not_text() -> None:
    text, defects = body_and_defects(
        message(b"\xef\xbb\xbf" + FRENCH.encode(), "text/plain; charset=iso-8859-1")
    )

    assert text == FRENCH
    assert defects == ["charset_mismatch:windows-1252", "charset_guessed:utf-8"]


@pytest.mark.parametrize(
    ("label", "encoding"),
    [
        ("gb2312", "gbk"),
        ("GBK", "gbk"),
        ("shift_jis", "shift_jis"),
        ("x-sjis", "shift_jis"),
        ("ks_c_5601-1987", "euc-kr"),
        ("big5", "big5"),
        ("iso-8859-1", "windows-1252"),
        ("latin-1", "windows-1252"),  # Python's alias, mapped through the codec it names
        ("iso_8859_15", "iso-8859-15"),
        ("us-ascii", "us-ascii"),
        ("646", "us-ascii"),
        ("iso-8859-9", "windows-1254"),
        ("tis-620", "windows-874"),
        ("utf8", "utf-8"),
        ("UTF-16", "utf-16le"),
        ("iso-2022-kr", "iso2022_kr"),  # WHATWG's "replacement": a mail reader reads it
        ("utf-7", "utf-7"),
        ("x-klingon", None),
        ("base64", None),
        ("idna", None),
        ("undefined", None),
        ("\x80utf-8", None),
        ("utf\x00-8", None),
    ],
)
def test_labels_resolve_to_whatwg_encodings_or_to_none(label: str, encoding: str | None) -> None:
    assert codec_for(label) == encoding


@pytest.mark.parametrize(
    "label",
    [
        # The stdlib's bytes-to-bytes and text-to-text codecs, by name and by alias: not charsets.
        *("base64", "base_64", "hex", "zlib", "zip", "bz2", "quopri", "quoted-printable", "uu"),
        *("rot13", "rot_13"),
        # Text codecs that are no charset of mail.
        *("idna", "punycode", "undefined", "unicode_escape", "raw_unicode_escape"),
    ],
)
def test_codecs_that_are_not_charsets_are_refused(label: str) -> None:
    assert codec_for(label) is None


def test_the_detector_is_not_imported_at_cold_start_only_when_needed() -> None:
    script = (
        "import sys; import ses_to_connect.handler; print('charset_normalizer' in sys.modules); "
        "from ses_to_connect.charsets import decode; decode(b'caf\\xe9 cr\\xe8me', None); "
        "print('charset_normalizer' in sys.modules)"
    )
    assert fresh_interpreter(script) == ["False", "True"]


# --- 3. headers: word by word, with the same rule --------------------------------------------


def test_a_gb2312_encoded_word_with_a_gbk_character_is_decoded() -> None:
    word = b"=?gb2312?B?" + base64.b64encode("订单喆".encode("gbk")) + b"?="

    subject, defects = subject_and_defects(message(b"ok", "text/plain", b"Subject: " + word))

    assert (subject, defects) == ("订单喆", [])


def test_one_bad_encoded_word_leaves_the_others_decoded() -> None:
    raw = message(
        b"ok",
        "text/plain",
        b"Subject: =?utf-8?q?Caf=C3=A9?= =?utf-8?b?A?= =?iso-8859-1?q?na=EFve?= =?x-klingon?q?ok?= end",
    )

    subject, defects = subject_and_defects(raw)

    assert subject == "Café =?utf-8?b?A?= naïveok end"
    assert defects == ["undecodable_header:subject"]


def test_an_iso_2022_jp_encoded_word_with_a_numero_sign_is_decoded() -> None:
    word = b"=?iso-2022-jp?B?GyRCJygnJS1iGyhCNDEgGyRCJ2AnZBsoQiAyOC4wOS4yMDE2?="  # a real one

    subject, defects = subject_and_defects(message(b"ok", "text/plain", b"Subject: " + word))

    assert (subject, defects) == ("ЖД№41 от 28.09.2016", [])


def test_a_raw_cp1251_subject_is_read_in_the_charset_the_body_declares() -> None:
    raw = message(
        "Текст".encode("cp1251"),
        "text/plain; charset=windows-1251",
        b"Subject: " + "Привет".encode("cp1251"),
    )

    assert subject_and_defects(raw) == ("Привет", ["8bit_header:subject"])


def test_a_charset_that_is_not_ascii_compatible_is_no_hint_for_raw_header_bytes() -> None:
    subject = b"Frau M\xfcllers"  # UTF-16 would read it too, as 6 CJK characters
    raw = message("Text".encode("utf-16"), "text/plain; charset=utf-16", b"Subject: " + subject)

    assert subject_and_defects(raw) == ("Frau Müllers", ["8bit_header:subject"])


def test_a_raw_cp1251_subject_without_any_hint_is_detected() -> None:
    raw = message(b"ok", "text/plain", b"Subject: " + "Узнай как заработать миллион".encode("cp1251"))

    assert subject_and_defects(raw) == ("Узнай как заработать миллион", ["8bit_header:subject"])


def test_a_latin1_display_name_is_not_a_replacement_character() -> None:
    raw = message(b"ok", "text/plain").replace(
        b"From: " + FROM.encode(), b"From: Hans M\xfcller <hans@example.org>"
    )

    request = only_request(run(raw, source="hans@example.org"))

    assert request["FromEmailAddress"] == {"EmailAddress": "hans@example.org", "DisplayName": "Hans Müller"}


@pytest.mark.parametrize(
    ("name", "charset"),
    [("Νίκος Παπαδόπουλος", "windows-1253"), ("田中 太郎", "shift_jis"), ("Łukasz Żółć", "iso-8859-2")],
)
def test_raw_8bit_display_names_are_read_in_the_charset_the_body_declares(name: str, charset: str) -> None:
    """Short names are where detection guesses worst: the message's own charset is the better hint."""
    raw = message("Text".encode(charset), f"text/plain; charset={charset}").replace(
        b"From: " + FROM.encode(), b"From: " + name.encode(charset) + b" <sender@example.org>"
    )

    request = only_request(run(raw, source="sender@example.org"))

    assert request["FromEmailAddress"] == {"EmailAddress": "sender@example.org", "DisplayName": name}


def test_utf8_text_that_already_has_replacement_characters_is_not_garbled_again() -> None:
    subject = "Re: Caf\ufffd \ufffd\ufffd au lait"
    raw = message(b"ok", "text/plain", b"Subject: " + subject.encode())

    assert subject_and_defects(raw) == (subject, ["8bit_header:subject"])


def test_a_utf8_name_cut_mid_character_keeps_utf8() -> None:
    raw = message(b"ok", "text/plain", b"Subject: " + "Jos\u00e9 P\u00e9rez".encode()[:-3] + b"\xc3")

    assert subject_and_defects(raw) == ("José Pé\ufffd", ["8bit_header:subject"])


@pytest.mark.parametrize(
    ("header", "subject"),
    [
        # White space between an encoded word and plain text is kept, across a fold too.
        (b"=?utf-8?q?Caf=C3=A9?=\r\n au lait", "Café au lait"),
        (b"Un =?utf-8?q?caf=C3=A9?=\r\n\t=?utf-8?q?_cr=C3=A8me?=", "Un café crème"),
        # Between two encoded words it is dropped (RFC 2047, 6.2).
        (b"=?utf-8?q?Caf=C3=A9?=\r\n =?utf-8?q?au?=", "Caféau"),
        # A character split across two words of one charset is joined before decoding.
        (b"=?utf-8?q?Caf=C3?= =?utf-8?q?=A9?=", "Café"),
        (b"=?utf-8*fr?Q?Caf=C3=A9?=", "Café"),  # RFC 2231 language
    ],
)
def test_white_space_around_encoded_words_follows_rfc_2047(header: bytes, subject: str) -> None:
    assert subject_and_defects(message(b"ok", "text/plain", b"Subject: " + header)) == (subject, [])


def test_a_header_of_many_unusable_encoded_words_is_not_detected_word_by_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each detection costs a fraction of a millisecond: thousands of hostile words must not add up."""
    calls = count_detections(monkeypatch)
    word = "=?x-unknown?B?" + base64.b64encode("Привет".encode("cp1251")).decode() + "?="

    few = decode_words(" x ".join([word] * 3), Defects(), "subject")
    assert len(calls) == 3 and few.startswith("Привет x Привет")
    calls.clear()

    # The budget is per message: past it, every value of the message reads windows-1252.
    with budget.metered() as meter:
        first = decode_words(" x ".join([word] * (MAX_DETECTIONS - 1)), Defects(), "references")
        many = decode_words(" x ".join([word] * 3), Defects(), "filename")
    assert len(calls) == MAX_DETECTIONS and first.endswith("x Привет")
    assert many.startswith("Привет x Ïðèâåò x ")  # read as windows-1252, each word on its own
    assert Bound.DETECTIONS in meter.reached
