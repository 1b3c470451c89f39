"""S/MIME parts (RFC 8551): read an opaque-signed message, recognise an encrypted one.

Outlook sends signed mail as ``application/pkcs7-mime; smime-type=signed-data`` when clear
signing is off: the whole MIME entity sits inside the PKCS#7 (CMS) structure, readable without
any key. Unwrapped, it is converted like any other message. The signature is not verified (that
needs the sender's certificate chain and a trust decision the bridge cannot make), and the
contact says so. Encrypted mail (``enveloped-data``) cannot be read without the recipient's
private key: the agent gets a notice instead, and the raw message stays in S3.

``asn1crypto`` (a well-kept, pure-Python ASN.1/CMS parser) reads the structure; this module is
imported by :mod:`ses_to_connect.mime` only when such a part appears, so no other message pays
for it. It reads lazily: only the outer structure and the signed content are parsed.
"""

from __future__ import annotations

from typing import NamedTuple

from asn1crypto import cms

from ses_to_connect.model import DefectKind, Defects, Smime


class Unwrapped(NamedTuple):
    """What an S/MIME part holds: the signed MIME entity, or nothing readable."""

    kind: Smime
    entity: bytes | None  # the signed MIME entity; None when encrypted or unreadable


_ENCRYPTED = frozenset({"enveloped_data", "authenticated_enveloped_data", "encrypted_data"})


def unwrap(data: bytes, defects: Defects) -> Unwrapped | None:
    """The content of a ``pkcs7-mime`` part, or None (recorded) when it is not a CMS structure."""
    try:
        info = cms.ContentInfo.load(data)
        content_type = info["content_type"].native
        if content_type in _ENCRYPTED:
            return Unwrapped(Smime.ENCRYPTED, None)
        if content_type != "signed_data":
            defects.add(DefectKind.SMIME_UNREADABLE, str(content_type)[:40])
            return None
        entity = info["content"]["encap_content_info"]["content"].native
    # asn1crypto raises ValueError, TypeError, KeyError... on damaged DER.
    except Exception:  # noqa: BLE001
        defects.add(DefectKind.SMIME_UNREADABLE, "invalid")
        return None
    if not isinstance(entity, bytes) or not entity.strip():
        defects.add(DefectKind.SMIME_UNREADABLE, "no_content")  # a detached signature, sent alone
        return Unwrapped(Smime.SIGNED_NOT_VERIFIED, None)
    return Unwrapped(Smime.SIGNED_NOT_VERIFIED, entity)
