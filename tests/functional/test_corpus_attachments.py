"""The type checks refuse no real attachment of the shared corpus: each file refused as
``type_mismatch`` is listed here with what it really is (checked by hand), and none conflicts in
its names. A false refusal of a customer's file is worse than a missed mismatch."""

from __future__ import annotations

import re

from .test_corpus import MESSAGES, QUARANTINED, _conversion

REFUSED = {
    "mikel-mail__attachment_emails--attachment_with_base64_encoded_name.eml": [
        "This is a test.pdf",  # a DER-encoded S/MIME signature (PKCS#7 SignedData) declared application/pdf
    ],
    "mikel-mail__error_emails--missing_content_disposition.eml": [
        "attachment.jpg",  # a whole message declared image/jpg whose base64 holds a few lines of text
    ],
    "mikel-mail__mime_emails--raw_email_with_binary_encoded.eml": [
        "2013-08-13_19-08-28-1.jpg",  # the placeholder text BINARY_CONTENT_GOES_HERE
    ],
    "php-mime-mail-parser__m0013.eml": [
        "50032266 CAR 11_MNPA00A01_9PTX_H00 ATT N° 1467829.pdf",  # 10 bytes: "underscore"
    ],
    "php-mime-mail-parser__m0018.eml": ["사진.JPG"],  # base64 upper-cased in the fixture: no JPEG any more
    "stalwart-mail-parser__rfc--000.eml": ["attachment.jpg"],  # "... base64-encoded image data goes here ..."
    "stalwart-mail-parser__rfc--007.eml": ["attachment.jpg"] * 3,  # the one-letter images "C", "F", "G"
}
_ENTRY = re.compile(r"(?:^|; )(.*?) \(([a-z_:A-Z]+)\)(?=; |$)")


def test_only_the_files_that_really_are_something_else_are_refused() -> None:
    refused: dict[str, list[str]] = {}
    for name in MESSAGES:
        if name in QUARANTINED:
            continue
        listing = _conversion(name).requests[0]["Attributes"].get("sesAttachmentsSkipped", "")
        reasons = _ENTRY.findall(listing)
        assert "name_conflict" not in {reason for _, reason in reasons}, name
        files = [file for file, reason in reasons if reason == "type_mismatch"]
        if files:
            refused[name] = files
    assert refused == REFUSED
