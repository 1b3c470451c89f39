"""The attachments of a ``StartEmailContact`` request as Connect takes them: each ``S3Url`` a
pre-signed URL S3 would honour (signature, dates, the signing key's expiry), downloaded within
the instance's size limits. Downloads go to loopback hosts only, so that a test never makes the
emulator fetch from the internet or real S3.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import http.client
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, urlsplit, urlunsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ses_to_connect_tools.local_pipeline.connect_validation import violation

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
_DOWNLOAD_TIMEOUT_SECONDS = 10.0
MAX_PRESIGNED_EXPIRES = 604_800  # SigV4's limit: 7 days


@dataclass(frozen=True)
class AttachmentDigest:
    """What the emulator downloaded from one attachment's S3Url."""

    file_name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class SigningKey:
    """Credentials the emulator accepts attachment URLs from; ``expires_at`` (wall clock) as STS sets it."""

    secret: str
    expires_at: float | None = None


def _loopback_url(url: str, where: str) -> SplitResult:
    parts = urlsplit(url)
    # Only loopback hosts: a test must never make the emulator fetch from the internet or real S3.
    if parts.scheme not in ("http", "https") or parts.hostname not in _LOOPBACK_HOSTS:
        raise violation(where, "be an http(s) URL on 127.0.0.1 or localhost (emulator restriction)")
    return parts


def check_presigned(url: str, where: str, now: float, keys: Mapping[str, SigningKey] | None) -> None:
    """Refuse a pre-signed URL S3 would refuse at ``now``: not yet valid, expired, or not signed by ``keys``.

    The signature is recomputed with botocore's own SigV4 query signer from the URL's parameters
    and the secret of its access key. ``keys`` None checks the dates only (any signer accepted).
    """
    parts = _loopback_url(url, where)
    query = {name: values[0] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
    if "X-Amz-Signature" not in query:
        if keys is not None:
            raise violation(where, "be a pre-signed URL (SigV4 query parameters)")
        return
    try:
        signed_at = calendar.timegm(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
        expires = int(query["X-Amz-Expires"])
        access_key, _day, region, service, _terminal = query["X-Amz-Credential"].split("/")
    except (KeyError, ValueError) as error:
        raise violation(where, f"carry complete SigV4 query parameters ({error!r})") from error
    if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or not 1 <= expires <= MAX_PRESIGNED_EXPIRES:
        raise violation(where, "be signed with AWS4-HMAC-SHA256 for 1 to 604800 seconds")
    if now < signed_at:
        raise violation(where, "be valid already (its X-Amz-Date is in the future)")
    if now > signed_at + expires:
        raise violation(where, "not have expired (X-Amz-Date + X-Amz-Expires is past)")
    if keys is None:
        return
    key = keys.get(access_key)
    if key is None:
        raise violation(where, "be signed by a known access key")
    if key.expires_at is not None and now >= key.expires_at:
        raise violation(where, "be signed with credentials that have not expired")
    unsigned = "&".join(pair for pair in parts.query.split("&") if not pair.startswith("X-Amz-Signature="))
    request = AWSRequest(method="GET", url=urlunsplit(parts._replace(query=unsigned)))
    request.context["timestamp"] = query["X-Amz-Date"]
    credentials = Credentials(access_key, key.secret, query.get("X-Amz-Security-Token"))
    signer = S3SigV4QueryAuth(credentials, service, region, expires=expires)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, query["X-Amz-Signature"]):
        raise violation(where, "carry a valid signature")


def download(url: str, where: str, max_bytes: int) -> tuple[int, str]:
    """Size and sha256 of the body at ``url``, which must be on a loopback host."""
    parts = _loopback_url(url, where)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    # http.client rather than urllib: it follows no redirects and honours no proxy settings.
    try:
        connection = connection_class(str(parts.hostname), parts.port, timeout=_DOWNLOAD_TIMEOUT_SECONDS)
    except ValueError as error:
        raise violation(where, f"have a valid port ({error})") from error
    digest = hashlib.sha256()
    size = 0
    response: http.client.HTTPResponse | None = None
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        if response.status != 200:
            raise violation(where, f"be downloadable (it answered HTTP {response.status})")
        while chunk := response.read(1 << 16):
            size += len(chunk)
            if size > max_bytes:
                raise violation(
                    where, f"point at a file of at most {max_bytes} bytes", reason="INVALID_FILE_SIZE"
                )
            digest.update(chunk)
    except (OSError, http.client.HTTPException) as error:
        raise violation(where, f"be downloadable ({error!r})") from error
    finally:
        # A response left half-read keeps the socket's file open past connection.close().
        if response is not None:
            response.close()
        connection.close()
    return size, digest.hexdigest()


def download_all(
    attachments: Sequence[Mapping[str, str]], max_bytes: int, max_total_bytes: int
) -> tuple[AttachmentDigest, ...]:
    """Download every attachment: each at most ``max_bytes``, all together at most ``max_total_bytes``."""
    digests: list[AttachmentDigest] = []
    total = 0
    for index, attachment in enumerate(attachments):
        size, sha256 = download(attachment["S3Url"], f"Attachments[{index}].S3Url", max_bytes)
        total += size
        if total > max_total_bytes:
            raise violation(
                "Attachments",
                f"total at most {max_total_bytes} bytes",
                "ServiceQuotaExceededException",
                "TOTAL_FILE_SIZE_EXCEEDED",
            )
        digests.append(AttachmentDigest(attachment["FileName"], size, sha256))
    return tuple(digests)
