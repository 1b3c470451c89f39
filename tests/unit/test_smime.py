"""S/MIME: an opaque-signed message reads as the message it carries; an encrypted one says so.

The two messages in ``data/`` were made here with OpenSSL 3.0, as Outlook sends them when clear
signing is off (``application/x-pkcs7-mime``, the whole entity base64 inside the CMS structure)::

    openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 \\
        -subj "/CN=Jane Customer/emailAddress=jane@example.org"
    openssl smime -sign -nodetach -binary -in inner.eml -signer cert.pem -inkey key.pem \\
        -from "Jane Customer <jane@example.org>" -to support@example.com -subject "Invoice 4711" \\
        -outform SMIME > smime-opaque-signed.eml
    openssl smime -encrypt -aes256 -in inner.eml -from "Jane Customer <jane@example.org>" \\
        -to support@example.com -subject "Invoice 4711 (encrypted)" -outform SMIME cert.pem \\
        > smime-encrypted.eml

``inner.eml`` is a multipart/mixed with a German text and a one-page PDF, ``invoice.pdf``.
"""

from __future__ import annotations

import base64
from pathlib import Path

from tests.support.mail import handwritten, multipart, part
from tests.unit.builders import fresh_interpreter, only_request, raw_message, run
from tests.unit.test_body import attachments

DATA = Path(__file__).parent / "data"
SIGNED = (DATA / "smime-opaque-signed.eml").read_bytes()
ENCRYPTED = (DATA / "smime-encrypted.eml").read_bytes()


def test_an_opaque_signed_message_reads_as_the_message_inside() -> None:
    conversion = run(SIGNED)
    request = only_request(conversion)

    assert raw_message(request)["Body"] == (
        "Hello support,\r\n\r\nmy invoice 4711 shows the wrong address. Grüße, Jane\r\n"
    )
    assert request["Attributes"]["sesSmime"] == "signed-not-verified"
    assert attachments(SIGNED) == (["invoice.pdf"], None)  # smime.p7m is no file for the agent
    assert not [defect for defect in conversion.defects if defect.startswith("smime")]


def test_an_encrypted_message_tells_the_agent_where_the_original_is() -> None:
    conversion = run(ENCRYPTED)
    request = only_request(conversion)

    body = raw_message(request)["Body"]
    assert body.startswith("[This email is encrypted (S/MIME): only the recipient's private key can open it")
    assert body.endswith(f"The original message is stored at {request['Attributes']['sesRawMessage']}]")
    assert request["Attributes"]["sesSmime"] == "encrypted"
    assert attachments(ENCRYPTED) == ([], None)


def test_a_clear_signed_message_is_flagged_and_its_signature_is_no_file() -> None:
    raw = handwritten(
        body=multipart(
            'signed; protocol="application/pkcs7-signature"; micalg=sha-256',
            part("text/plain", "Please call me back."),
            part(
                'application/pkcs7-signature; name="smime.p7s"',
                "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAA==",
                "Content-Transfer-Encoding: base64",
                'Content-Disposition: attachment; filename="smime.p7s"',
            ),
        )
    )
    request = only_request(run(raw))

    assert raw_message(request)["Body"] == "Please call me back."
    assert request["Attributes"]["sesSmime"] == "signed-not-verified"
    assert "sesAttachmentsSkipped" not in request["Attributes"]


def test_a_damaged_pkcs7_part_is_recorded_and_kept_as_a_file() -> None:
    raw = handwritten(
        body=multipart(
            "mixed",
            part("text/plain", "See attached."),
            part(
                'application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
                base64.b64encode(b"not a CMS structure").decode(),
                "Content-Transfer-Encoding: base64",
            ),
        )
    )
    conversion = run(raw)

    assert raw_message(only_request(conversion))["Body"].startswith("See attached.")
    assert "smime_unreadable:invalid" in conversion.defects
    assert attachments(raw) == ([], "smime.p7m (type_not_allowed)")


def test_signed_layers_inside_signed_layers_stop_at_three() -> None:
    """Each layer needs a real CMS structure around the next one; a sender can nest thousands."""
    from asn1crypto import cms  # noqa: PLC0415

    entity = b"Content-Type: text/plain\r\n\r\ninnermost"
    for _ in range(5):
        info = cms.ContentInfo(
            {
                "content_type": "signed_data",
                "content": {
                    "version": "v1",
                    "digest_algorithms": [],
                    "encap_content_info": {"content_type": "data", "content": entity},
                    "signer_infos": [],
                },
            }
        )
        entity = (
            b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(info.dump())
        )
    conversion = run(b"From: a@example.org\r\nTo: support@example.com\r\nSubject: x\r\n" + entity)

    assert "smime_unreadable:too_many_layers" in conversion.defects
    assert "innermost" not in raw_message(only_request(conversion))["Body"]


def test_asn1crypto_is_imported_only_when_an_smime_part_arrives() -> None:
    script = (
        "import sys; import ses_to_connect.handler; print('asn1crypto' in sys.modules); "
        "from ses_to_connect.mime import parse_message; parse_message(sys.stdin.buffer.read()); "
        "print('asn1crypto' in sys.modules)"
    )
    assert fresh_interpreter(script, stdin=SIGNED) == ["False", "True"]
