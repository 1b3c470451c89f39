"""Hypothesis strategies for hostile and broken mail: raw MIME bytes and the SES record around them.

Everything here produces what the bridge really receives: the bytes the SES S3 action stored
(never an ``email`` object, so the generator can write what no library would) and the SES
receipt event. Messages are assembled with ``\\n`` line ends and converted at the end to CRLF,
LF, CR or a random mix of the three.

- :func:`mime_messages`: random MIME trees (multipart mixed/alternative/related/report/signed,
  ``message/rfc822`` nesting, up to six levels), real and bogus charsets, every transfer
  encoding intact or damaged, folded headers, RFC 2047 and RFC 2231 valid and broken, odd,
  missing and duplicated boundaries, NULs and control characters, raw 8-bit headers, missing
  From/To/Subject, thousands of headers.
- :func:`mutated`: byte-level damage (flip, insert, delete, duplicate, truncate) of any of them.
- :func:`corpus_mutations`: the same damage applied to the shared public corpus.
- :func:`ses_envelopes`: verdict sets, envelope recipients and senders, as SES would send them.
"""

from __future__ import annotations

import base64
import quopri
import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from ses_to_connect.ses_event import VERDICT_NAMES, SesRecord, records
from ses_to_connect.settings import DEFAULT_POLICY, Action, BodyPreference, ConnectAddress, Settings
from tests.support.constants import INSTANCE_ID, SALES, SALES_FLOW, SUPPORT
from tests.support.corpus import corpus_files

BUCKET = "ses-to-connect-mail-fuzz"

MAX_DEPTH = 6

CHARSETS = (
    "utf-8",
    "UTF-8",
    "us-ascii",
    "iso-8859-1",
    "windows-1252",
    "koi8-r",
    "shift_jis",
    "gb2312",
    "iso-2022-jp",
    "utf-16",
    "utf-7",
    "x-unknown",
    "base64",
    "rot13",
    "unicode_escape",
    "undefined",
    "idna",
    "",
    '"utf-8"',
    "'iso-8859-1'",
    "utf8mb4",
    "x-user-defined",
    "utf\x00-8",  # a NUL inside the name
    "\u00e9utf-8",  # an 8-bit byte inside the name
)
# Charsets Python can encode generated text in (for bodies that really are in their charset).
_ENCODABLE = frozenset(
    {"utf-8", "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "gb2312", "utf-16"}
)
TRANSFER_ENCODINGS = (
    "7bit",
    "8bit",
    "binary",
    "base64",
    "BASE64",
    "quoted-printable",
    "Quoted-Printable",
    "x-uuencode",
    "bogus",
    "",
    None,
)
LEAF_TYPES = (
    "text/plain",
    "text/html",
    "TEXT/HTML",
    "text/html; format=fixed",
    "text/csv",
    "text/enriched",
    "application/pdf",
    "application/octet-stream",
    "application/msword",
    "application/ms-tnef",
    "application/pkcs7-signature",
    "image/png",
    "image/jpeg",
    "audio/wav",
    "message/delivery-status",
    "message/disposition-notification",
    "text/rfc822-headers",
    "text/calendar",
    "text/",
    "foo",
    "multipart/mixed",  # a multipart with no boundary and no parts
    None,
)
MULTIPART_SUBTYPES = ("mixed", "alternative", "related", "report", "signed", "digest", "x-custom", "MIXED")
VERDICT_STATUSES = ("PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED", "pass", "fail", "", "WEIRD")
DMARC_POLICIES = (None, "reject", "REJECT", "quarantine", "none", "")
CONTROL_CHARACTERS = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u2028\u2029\ufeff"

_TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12
)
_NASTY = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.text(
    alphabet=f"\r\n\t <>\"',;:@\\()[]={CONTROL_CHARACTERS}?", max_size=20
)


def rarely(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in ``one_in`` draws. The middle value is the rare one: hypothesis starts
    from and shrinks towards the lowest, so simple and minimal examples stay ordinary mail."""
    return draw(st.integers(1, one_in)) == one_in // 2 + 1


# --- line ends -----------------------------------------------------------------------------


@st.composite
def with_line_ends(draw: st.DrawFn, message: bytes) -> bytes:
    """``message`` (written with LF) with CRLF, LF, CR or a random mix of line ends."""
    style = draw(st.sampled_from(["crlf", "crlf", "lf", "cr", "mixed"]))
    if style == "lf":
        return message
    if style != "mixed":
        return message.replace(b"\n", b"\r\n" if style == "crlf" else b"\r")
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))  # noqa: S311 (test data, not crypto)
    # A blank line written as CR then LF reads as one line end: the header block may run on.
    return re.sub(b"\n", lambda _: rnd.choice([b"\r\n", b"\n", b"\r"]), message)


# --- header values -------------------------------------------------------------------------


def _q_encode(data: bytes) -> str:
    return "".join(
        chr(byte) if chr(byte).isalnum() and byte < 128 else "_" if byte == 32 else f"={byte:02X}"
        for byte in data
    )


@st.composite
def encoded_words(draw: st.DrawFn) -> bytes:
    """RFC 2047 encoded words, valid or broken in one of the ways senders break them."""
    text = draw(_NASTY)
    charset = draw(st.sampled_from(CHARSETS))
    data = text.encode(charset if charset in _ENCODABLE else "utf-8", "replace")
    kind = draw(
        st.sampled_from(
            ["b", "q", "b-bad-padding", "q-bad-escape", "bad-encoding", "unterminated", "8bit", "crlf"]
        )
    )
    if kind in {"b", "b-bad-padding"}:
        payload = base64.b64encode(data).decode()
        if kind == "b-bad-padding":
            payload = payload.rstrip("=") + draw(st.sampled_from(["", "=", "===", "!", "A"]))
        return f"=?{charset}?{draw(st.sampled_from('bB'))}?{payload}?=".encode()
    if kind == "q":
        return f"=?{charset}?{draw(st.sampled_from('qQ'))}?{_q_encode(data)}?=".encode()
    if kind == "q-bad-escape":
        return f"=?{charset}?q?{_q_encode(data)}=ZZ=4?=".encode()
    if kind == "bad-encoding":
        return f"=?{charset}?x?{_q_encode(data)}?=".encode()
    if kind == "unterminated":
        return f"=?{charset}?q?{_q_encode(data)}".encode()
    if kind == "crlf":  # decodes to a line break: header injection through an encoded word
        return f"=?utf-8?q?{_q_encode(data)}=0D=0ABcc:_evil@attacker.example?=".encode()
    return b"=?utf-8?q?" + text.encode("utf-8", "surrogatepass") + b"?="


def _one_line(value: bytes) -> bytes:
    return value.replace(b"\r", b" ").replace(b"\n", b" ")


@st.composite
def mostly_one_line(draw: st.DrawFn, value: bytes) -> bytes:
    """A raw CR or LF ends a header early (and often the whole header block): keep one in 40."""
    return value if rarely(draw, 40) else _one_line(value)


@st.composite
def header_texts(draw: st.DrawFn) -> bytes:
    """A header value: plain, 8-bit, encoded words, control characters, or very long."""
    pieces = draw(
        st.lists(
            st.one_of(
                _TOKEN.map(str.encode),
                _NASTY.map(lambda s: s.encode("utf-8", "surrogatepass")),
                encoded_words(),
                st.binary(max_size=16),
                st.sampled_from([b"Re:", b"Fwd:", b"\xe9t\xe9", b"\xff\xfe", b"\x00", b"\r", b"\x1b[31m"]),
            ),
            max_size=8,
        )
    )
    value = b" ".join(pieces)
    if draw(st.booleans()):
        value = value * draw(st.integers(1, 200))  # long: up to several KB
    return draw(mostly_one_line(value))


@st.composite
def folded(draw: st.DrawFn, value: bytes) -> bytes:
    """Folds inserted anywhere, including in the middle of an encoded word."""
    if not value or not draw(st.booleans()):
        return value
    cuts = sorted(draw(st.lists(st.integers(0, len(value)), max_size=6, unique=True)))
    out, last = [], 0
    for cut in cuts:
        out.append(value[last:cut])
        last = cut
    out.append(value[last:])
    return b"".join(piece + draw(st.sampled_from([b"\n ", b"\n\t", b"\n  "])) for piece in out[:-1]) + out[-1]


# --- addresses -----------------------------------------------------------------------------

_LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.+-_", min_size=1, max_size=12)
_DOMAIN = st.sampled_from(
    ["example.com", "example.org", "customer.example", "EXAMPLE.COM", "xn--bcher-kva.example"]
)


@st.composite
def addr_specs(draw: st.DrawFn) -> bytes:
    valid = draw(st.builds(lambda local, domain: f"{local}@{domain}", _LOCAL, _DOMAIN))
    return draw(
        st.sampled_from(
            [
                valid.encode(),
                SUPPORT.encode(),
                SALES.upper().encode(),
                b"not-an-address",
                b"@",
                b"a@b",
                b"",
                b"MAILER-DAEMON@example.net",
                "jörg@exämple.com".encode(),
                b"a@b.c d",
                b"a\x00b@example.com",
                b"a\r\nb@example.com",
                ("x" * 300 + "@example.com").encode(),
                b'"quoted local"@example.com',
                b"@route.example:" + valid.encode(),
            ]
        )
    )


@st.composite
def mailboxes(draw: st.DrawFn) -> bytes:
    spec = draw(addr_specs())
    form = draw(st.sampled_from(["bare", "angle", "quoted", "encoded", "raw8bit", "comment", "nasty"]))
    if form == "bare":
        return spec
    if form == "angle":
        return draw(_TOKEN).encode() + b" <" + spec + b">"
    if form == "quoted":
        name = draw(_NASTY).replace("\\", "\\\\").replace('"', '\\"')
        return b'"' + name.encode("utf-8", "surrogatepass") + b'" <' + spec + b">"
    if form == "encoded":
        return draw(encoded_words()) + b" <" + spec + b">"
    if form == "raw8bit":
        return draw(st.sampled_from(["Jürgen Müller", "Иван", "山田太郎"])).encode(
            draw(st.sampled_from(["utf-8", "koi8-r", "shift_jis", "latin-1"])), "replace"
        ) + (b" <" + spec + b">")
    if form == "comment":
        return spec + b" (comment (nested) \\) )"
    return draw(_NASTY).encode("utf-8", "surrogatepass") + b" <" + spec + b">"


@st.composite
def address_lists(draw: st.DrawFn) -> bytes:
    boxes = draw(st.lists(mailboxes(), max_size=8))
    if rarely(draw, 10):  # more than Connect's 50 addresses
        boxes += [f"r{i}@example.org".encode() for i in range(draw(st.integers(40, 70)))]
    value = b", ".join(boxes)
    group = draw(st.sampled_from([None, b"undisclosed-recipients:;", b"team: ", b"a, b,, ,<>,"]))
    if group == b"team: ":
        value = group + value + b";"
    elif group is not None:
        value = value + b", " + group if value else group
    return draw(mostly_one_line(value))


# --- parts ---------------------------------------------------------------------------------

_NAME_STEMS = (
    "report",
    "../../../etc/passwd",
    "..\\..\\boot.ini",
    "....//",
    "",
    "   ",
    "scan\x00",
    "invoice\r\nX-Evil: 1",
    "ünïcødé",
    "a" * 300,
    "CON",
    ".hidden",
)
_NAME_SUFFIXES = (".pdf", ".PDF", ".txt", ".exe", ".png", ".docx", ".tar.gz", "", ".", ".p" + "d" * 20)


@st.composite
def file_name_params(draw: st.DrawFn, param: str) -> bytes:
    """``name=``/``filename=`` in every spelling: plain, quoted, RFC 2047, RFC 2231 (valid and broken)."""
    name = draw(st.sampled_from(_NAME_STEMS)) + draw(st.sampled_from(_NAME_SUFFIXES))
    form = draw(st.sampled_from(["quoted", "token", "rfc2047", "rfc2231", "rfc2231-cont", "rfc2231-broken"]))
    if form == "quoted":
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return draw(mostly_one_line(f'{param}="{escaped}"'.encode("utf-8", "surrogatepass")))
    if form == "token":
        return draw(mostly_one_line(f"{param}={name}".encode("utf-8", "surrogatepass")))
    if form == "rfc2047":
        return f'{param}="=?utf-8?b?{base64.b64encode(name.encode()).decode()}?="'.encode()
    quoted = "".join(f"%{b:02X}" for b in name.encode())
    if form == "rfc2231":
        return f"{param}*=utf-8'en'{quoted}".encode()
    if form == "rfc2231-cont":
        half = len(quoted) // 2 // 3 * 3
        return f"{param}*0*=utf-8''{quoted[:half]}; {param}*1*={quoted[half:]}".encode()
    return draw(
        st.sampled_from(
            [
                f"{param}*=x-bogus''{quoted}".encode(),
                f"{param}*=utf-8''%ZZ%4".encode(),
                f"{param}*0=a; {param}*2=c.pdf".encode(),
                f"{param}*=''".encode(),
                f"{param}*1*=''abc.pdf".encode(),
                f"{param}*=\"utf-8''%E2%82%AC.pdf\"".encode(),
            ]
        )
    )


@st.composite
def payloads(draw: st.DrawFn, content_type: str | None, charset: str | None) -> bytes:
    """Raw (decoded) content for a leaf: text in its charset, HTML with cid: references, or binary."""
    kind = draw(st.sampled_from(["text", "html", "binary", "empty", "long"]))
    if kind == "binary" or (content_type or "").startswith(("image/", "application/", "audio/")):
        return draw(st.binary(max_size=300))
    if kind == "empty":
        return b""
    text = draw(st.text(max_size=120))
    if kind == "html":
        text = (
            f'<html><body><p onclick="x()">{text}</p>'
            '<img src="cid:img1@fuzz"><script>1</script></body></html>'
        )
    if kind == "long":
        text = text * draw(st.integers(1, 400))
    name = (charset or "utf-8").strip("\"'").lower()
    return text.encode(
        name if name in _ENCODABLE else "utf-8", "replace" if name != "utf-16" else "surrogatepass"
    )


@st.composite
def transfer_encoded(draw: st.DrawFn, data: bytes) -> tuple[str | None, bytes]:
    """The Content-Transfer-Encoding header value and the body, sometimes damaged or mismatched."""
    cte = draw(st.sampled_from(TRANSFER_ENCODINGS))
    name = (cte or "").lower()
    if name == "base64":
        body = base64.encodebytes(data)
        damage = draw(st.sampled_from(["none", "none", "padding", "junk", "one-line", "truncated"]))
        if damage == "padding":
            body = body.rstrip(b"=\n") + draw(st.sampled_from([b"", b"=", b"===", b"=\n=="])) + b"\n"
        elif damage == "junk":
            body = b"!!*%$\n" + body + b"\n-- not base64 --\n"
        elif damage == "one-line":
            body = base64.b64encode(data) + b"\n"
        elif damage == "truncated":
            body = body[: len(body) // 2]
    elif name == "quoted-printable":
        body = quopri.encodestring(data)
        damage = draw(st.sampled_from(["none", "none", "bad-escape", "soft-break-at-end", "lowercase"]))
        if damage == "bad-escape":
            body += b"=ZZ =4\n=\n=G1"
        elif damage == "soft-break-at-end":
            body = body.rstrip(b"\n") + b"="
        elif damage == "lowercase":
            body = body.lower()
    else:
        body = data
    if rarely(draw, 8):  # the header lies about the encoding
        cte = draw(st.sampled_from(TRANSFER_ENCODINGS))
    return cte, body


@dataclass(frozen=True)
class _Ctx:
    depth: int  # levels still allowed below this part


def _header(name: bytes, value: bytes) -> bytes:
    return name + b": " + value + b"\n"


@st.composite
def leaf_parts(draw: st.DrawFn) -> bytes:
    content_type = draw(st.sampled_from(LEAF_TYPES))
    charset = draw(st.none() | st.sampled_from(CHARSETS))
    headers = b""
    if content_type is not None:
        params = []
        if charset is not None:
            params.append(b"charset=" + charset.encode())
        if draw(st.booleans()):
            params.append(draw(file_name_params("name")))
        if rarely(draw, 10):
            params.append(draw(st.sampled_from([b"format=flowed", b";;", b"charset*=utf-8''%FF", b"x=\xff"])))
        value = b"; ".join([content_type.encode(), *params])
        headers += _header(draw(st.sampled_from([b"Content-Type", b"content-type", b"CONTENT-TYPE"])), value)
    disposition = draw(
        st.sampled_from([None, b"attachment", b"inline", b"ATTACHMENT", b"attachment;", b"form-data"])
    )
    if disposition is not None:
        if draw(st.booleans()):
            disposition += b"; " + draw(file_name_params("filename"))
        headers += _header(b"Content-Disposition", disposition)
    if rarely(draw, 5):
        headers += _header(
            b"Content-ID", draw(st.sampled_from([b"<img1@fuzz>", b"img1@fuzz", b"<>", b"<\r\n>"]))
        )
    cte, body = draw(transfer_encoded(draw(payloads(content_type, charset))))
    if cte is not None:
        headers += _header(b"Content-Transfer-Encoding", cte.encode())
    if rarely(draw, 6):
        headers += _header(b"X-Part-Junk", draw(header_texts()))
    return headers + b"\n" + body


@st.composite
def boundaries(draw: st.DrawFn) -> bytes:
    return draw(
        st.one_of(
            _TOKEN.map(lambda t: f"=_{t}".encode()),
            st.text(alphabet="abcXYZ0129'()+_,-./:=? ", min_size=1, max_size=70).map(str.encode),
            st.sampled_from([b"", b"-", b"--", b"a" * 200, b"b\xff\x00d", b"simple"]),
        )
    )


@st.composite
def multipart_parts(draw: st.DrawFn, ctx: _Ctx, parent_boundary: bytes | None) -> bytes:
    subtype = draw(st.sampled_from(MULTIPART_SUBTYPES))
    boundary = draw(boundaries())
    if parent_boundary is not None and rarely(draw, 7):
        boundary = parent_boundary  # the nested part reuses its parent's boundary
    params = [b"multipart/" + subtype.encode()]
    boundary_form = draw(st.sampled_from(["quoted", "quoted", "token", "missing", "twice", "empty-quoted"]))
    if boundary_form == "quoted":
        params.append(b'boundary="' + boundary + b'"')
    elif boundary_form == "token":
        params.append(b"boundary=" + boundary)
    elif boundary_form == "twice":
        params += [b'boundary="' + boundary + b'"', b'boundary="other-' + boundary + b'"']
    elif boundary_form == "empty-quoted":
        params.append(b'boundary=""')
    if subtype == "report":
        params.append(
            b"report-type=" + draw(st.sampled_from([b"delivery-status", b"disposition-notification"]))
        )
    if subtype == "signed":
        params.append(b'protocol="application/pkcs7-signature"; micalg=sha-256')
    headers = _header(b"Content-Type", draw(folded(b"; ".join(params))))
    if rarely(draw, 10):
        headers += _header(
            b"Content-Transfer-Encoding", draw(st.sampled_from([b"base64", b"8bit", b"bogus"]))
        )

    fewest = 0 if rarely(draw, 10) else 1  # now and then a multipart with no parts
    children = draw(
        st.lists(
            any_parts(_Ctx(ctx.depth - 1), boundary), min_size=fewest, max_size=4 if ctx.depth > 3 else 3
        )
    )
    body = b""
    if draw(st.booleans()):
        body += draw(
            st.sampled_from([b"This is a multi-part message in MIME format.\n", b"--\n--x\n", b"\n\n"])
        )
    for child in children:
        delimiter = b"--" + boundary
        odd = draw(st.integers(0, 11))
        if odd == 0:
            delimiter += b"   \t"  # trailing white space is allowed
        elif odd == 1:
            delimiter = b"--" + boundary[:-1]  # a near miss
        elif odd == 2:
            delimiter = b"--" + boundary + b"--"  # a close delimiter too early
        body += delimiter + b"\n" + child + b"\n"
    ending = draw(st.sampled_from(["close", "close", "close", "missing", "epilogue", "close-twice"]))
    if ending != "missing":
        body += b"--" + boundary + b"--\n"
    if ending == "epilogue":
        body += b"epilogue text\n--" + boundary + b"\nafter the end\n"
    if ending == "close-twice":
        body += b"--" + boundary + b"--\n"
    return headers + b"\n" + body


@st.composite
def rfc822_parts(draw: st.DrawFn, ctx: _Ctx) -> bytes:
    headers = _header(b"Content-Type", b"message/rfc822")
    if draw(st.booleans()):
        headers += _header(b"Content-Disposition", b"attachment; " + draw(file_name_params("filename")))
    if rarely(draw, 8):
        headers += _header(
            b"Content-Transfer-Encoding", draw(st.sampled_from([b"base64", b"7bit", b"binary"]))
        )
    inner = draw(top_headers()) + draw(any_parts(_Ctx(ctx.depth - 1), None))
    return headers + b"\n" + inner


@st.composite
def any_parts(draw: st.DrawFn, ctx: _Ctx, parent_boundary: bytes | None) -> bytes:
    if ctx.depth <= 0:
        return draw(leaf_parts())
    kind = draw(st.sampled_from(["leaf", "leaf", "multipart", "multipart", "rfc822"]))
    if kind == "leaf":
        return draw(leaf_parts())
    if kind == "multipart":
        return draw(multipart_parts(ctx, parent_boundary))
    return draw(rfc822_parts(ctx))


# --- whole messages ------------------------------------------------------------------------

_ADDRESS_HEADERS = (b"From", b"To", b"Cc", b"Reply-To", b"Sender", b"Bcc")
_ID_HEADERS = (b"Message-ID", b"In-Reply-To", b"References")


@st.composite
def message_ids(draw: st.DrawFn) -> bytes:
    ids = draw(
        st.lists(
            st.one_of(
                st.builds(lambda a, b: f"<{a}@{b}>".encode(), _TOKEN, _DOMAIN),
                st.sampled_from([b"<>", b"<a b@c>", b"no-angle@example.com", b"<x\x00y@z>", b"<<nested>>"]),
                encoded_words(),
            ),
            max_size=6,
        )
    )
    if rarely(draw, 16):  # a References header far over Connect's 20,000 characters
        ids += [f"<ref-{i}@example.com>".encode() for i in range(draw(st.integers(800, 1500)))]
    return draw(mostly_one_line(b" ".join(ids)))


@st.composite
def top_headers(draw: st.DrawFn) -> bytes:
    """The headers of a message: each common one missing, present, or repeated, in random order."""
    lines: list[bytes] = []
    for name in _ADDRESS_HEADERS:
        for _ in range(
            draw(st.sampled_from([0, 1, 1, 1, 2]) if name != b"Bcc" else st.sampled_from([0, 0, 1]))
        ):
            lines.append(_header(name, draw(folded(draw(address_lists())))))
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        lines.append(
            _header(
                draw(st.sampled_from([b"Subject", b"subject", b"SUBJECT"])),
                draw(folded(draw(header_texts()))),
            )
        )
    for name in _ID_HEADERS:
        for _ in range(draw(st.sampled_from([0, 1, 1, 2]))):
            lines.append(_header(name, draw(folded(draw(message_ids())))))
    for name, values in (
        (b"X-SES-Spam-Verdict", [b"PASS", b"FAIL", b"gray", b"", b"x" * 300, b"\xff\x00"]),
        (b"X-SES-Virus-Verdict", [b"PASS", b"FAIL", b"GRAY", b"PROCESSING_FAILED"]),
        (b"Auto-Submitted", [b"no", b"auto-replied", b"auto-generated; x=1"]),
        (b"Precedence", [b"list", b"bulk", b"junk", b"auto_reply"]),
        (b"X-Autoreply", [b"", b"yes"]),
        (b"MIME-Version", [b"1.0", b"1.0 (generated)", b"2.0", b""]),
        (b"Date", [b"Tue, 01 Apr 2025 10:00:00 +0000", b"yesterday", b"\x00"]),
        (b"Return-Path", [b"<bounce@example.net>", b"<>", b"garbage"]),
    ):
        if rarely(draw, 4):
            lines.append(_header(name, draw(st.sampled_from(values))))
    if rarely(draw, 12):  # most of these end the header block
        lines.append(
            draw(
                st.sampled_from(
                    [
                        b"Bad Header No Colon\n",
                        b": no name\n",
                        b"X-\xff\xfe: 8-bit name\n",
                        b" leading fold\n",
                        b"X-Nul\x00: v\n",
                    ]
                )
            )
        )
    extra = draw(st.sampled_from([0, 0, 0, 0, 3, 60, 1500, 6000]))
    lines += [b"X-Junk-%d: value %d\n" % (i, i) for i in range(extra)]
    if extra and draw(st.booleans()):
        lines += [b"Received: from relay%d.example.net by mx.example.com\n" % i for i in range(extra)]
    order = draw(st.permutations(range(len(lines)))) if len(lines) <= 40 else range(len(lines))
    return b"".join(lines[i] for i in order)


@st.composite
def mime_messages(draw: st.DrawFn) -> bytes:
    """A whole raw message as stored by SES: generated headers and a random MIME tree."""
    depth = draw(st.integers(1, MAX_DEPTH))
    root = draw(st.sampled_from(["multipart", "multipart", "multipart", "leaf", "rfc822"]))
    if root == "multipart":
        body = draw(multipart_parts(_Ctx(depth), None))
    elif root == "rfc822":
        body = draw(rfc822_parts(_Ctx(depth)))
    else:
        body = draw(leaf_parts())
    prefix = b""
    if rarely(draw, 10):
        prefix = b"From MAILER-DAEMON Tue Apr  1 10:00:00 2025\n"  # an mbox envelope line
    message = prefix + draw(top_headers()) + body
    return draw(with_line_ends(message))


# --- byte-level damage ---------------------------------------------------------------------


@st.composite
def _mutation(draw: st.DrawFn, data: bytes) -> bytes:
    size = len(data)
    op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate", "zero"]))
    start = draw(st.integers(0, size))
    if op == "truncate":
        return data[:start]
    end = min(size, start + draw(st.integers(1, 512)))
    if op == "flip":
        mask = draw(st.integers(1, 255))
        return data[:start] + bytes(b ^ mask for b in data[start:end]) + data[end:]
    if op == "insert":
        return (
            data[:start]
            + draw(st.binary(min_size=1, max_size=64) | st.sampled_from([b"\r", b"\n--", b"=?", b"\x00"]))
            + data[start:]
        )
    if op == "delete":
        return data[:start] + data[end:]
    if op == "duplicate":
        return data[:end] + data[start:end] * draw(st.integers(1, 20)) + data[end:]
    return data[:start] + b"\x00" * (end - start) + data[end:]


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    for _ in range(draw(st.integers(1, 6))):
        data = draw(_mutation(data))
    return data


def mutated(messages: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Byte-level mutations (flip, insert, delete, duplicate, truncate, zero) of ``messages``."""
    return messages.flatmap(mutated_bytes)


@cache
def _corpus_bytes(path: Path) -> bytes:
    return path.read_bytes()


def corpus_messages() -> st.SearchStrategy[bytes]:
    """The corpus messages unchanged (``st.nothing()`` where the corpus is absent)."""
    files = corpus_files()
    if not files:
        return st.nothing()
    return st.sampled_from(files).map(_corpus_bytes)


def corpus_mutations() -> st.SearchStrategy[bytes]:
    """Byte-level mutations of the shared corpus; callers skip with :data:`CORPUS_MISSING` when absent."""
    return mutated(corpus_messages())


def hostile_messages() -> st.SearchStrategy[bytes]:
    """Everything at once: generated trees, damaged generated trees, damaged corpus messages."""
    sources = [mime_messages(), mutated(mime_messages())]
    if corpus_files():
        sources.append(corpus_mutations())
    return st.one_of(*sources)


# --- the SES side --------------------------------------------------------------------------


@st.composite
def envelope_recipients(draw: st.DrawFn) -> list[str]:
    """RCPT TO addresses: configured Connect addresses (any case), strangers and garbage."""
    configured = st.sampled_from([SUPPORT, SALES]).flatmap(
        lambda a: st.sampled_from([a, a.upper(), f" {a} ", a.capitalize()])
    )
    other = st.sampled_from(
        [
            "other@example.org",
            "",
            "not an address",
            "support@example.com\r\nbcc@x",
            "SUPPORT@EXAMPLE.COM.",
            "\x00",
        ]
    )
    if rarely(draw, 20):
        return []  # SES never sends this, but the record reader must cope
    first = draw(st.one_of(configured, configured, configured, other))
    return [first, *draw(st.lists(st.one_of(configured, other), max_size=4))]


@st.composite
def envelope_sources(draw: st.DrawFn) -> str:
    """MAIL FROM: a normal sender, the null sender, a daemon, a Connect address, or garbage."""
    return draw(
        st.one_of(
            st.builds(lambda local, domain: f"{local}@{domain}", _LOCAL, _DOMAIN),
            st.sampled_from(
                [
                    "",
                    "<>",
                    "MAILER-DAEMON@example.net",
                    SUPPORT,
                    "bounce+srs=abc@example.net",
                    "evil@example.com\r\nX-Injected: 1",
                    "x" * 2000 + "@example.com",
                    "jörg@exämple.com",
                ]
            ),
            _NASTY,
        )
    )


@st.composite
def verdict_sets(draw: st.DrawFn) -> dict[str, str | None]:
    """A status per verdict, or None where the event leaves the verdict out."""
    return {name: draw(st.none() | st.sampled_from(VERDICT_STATUSES)) for name in VERDICT_NAMES}


@dataclass(frozen=True)
class Envelope:
    """What SES says about one message, beside the stored bytes."""

    message_id: str
    source: str
    recipients: tuple[str, ...]
    verdicts: dict[str, str | None]
    dmarc_policy: str | None
    invocation_type: str

    def event(self) -> dict[str, Any]:
        """The SES Lambda-action event; headers and commonHeaders are irrelevant to the core."""
        receipt: dict[str, Any] = {
            "timestamp": "2025-04-01T10:00:00.000Z",
            "processingTimeMillis": 1,
            "recipients": list(self.recipients),
            "action": {"type": "Lambda", "invocationType": self.invocation_type},
        }
        for name, status in self.verdicts.items():
            if status is not None:
                receipt[f"{name}Verdict"] = {"status": status}
        if self.dmarc_policy is not None:
            receipt["dmarcPolicy"] = self.dmarc_policy
        mail = {
            "timestamp": "2025-04-01T10:00:00.000Z",
            "source": self.source,
            "messageId": self.message_id,
            "destination": list(self.recipients),
            "headersTruncated": False,
            "headers": [],
            "commonHeaders": {},
        }
        return {
            "Records": [
                {"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {"mail": mail, "receipt": receipt}}
            ]
        }

    def record(self) -> SesRecord:
        return records(self.event())[0]


def ses_envelopes() -> st.SearchStrategy[Envelope]:
    return st.builds(
        Envelope,
        message_id=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=20, max_size=40),
        source=envelope_sources(),
        recipients=envelope_recipients().map(tuple),
        verdicts=verdict_sets(),
        dmarc_policy=st.sampled_from(DMARC_POLICIES),
        invocation_type=st.sampled_from(["Event", "RequestResponse"]),
    )


def chunkings(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """``data`` split at random points, as the handler feeds S3 chunks to the parser."""
    cuts: st.SearchStrategy[list[int]] = st.lists(st.integers(0, len(data)), max_size=8, unique=True)

    def split(points: list[int]) -> list[bytes]:
        edges = sorted(points)
        return [data[a:b] for a, b in zip([0, *edges], [*edges, len(data)], strict=True)]

    return cuts.map(split)


# --- settings ------------------------------------------------------------------------------


def make_settings(
    body_preference: BodyPreference,
    prefer_reply_to: bool,
    expiry: int | None,
    static: dict[str, str],
    deliver_everything: bool,
) -> Settings:
    policy = {rule: Action.DELIVER for rule in DEFAULT_POLICY} if deliver_everything else dict(DEFAULT_POLICY)
    return Settings(
        instance_id=INSTANCE_ID,
        connect_addresses=(ConnectAddress(SUPPORT), ConnectAddress(SALES, SALES_FLOW)),
        mail_bucket=BUCKET,
        body_preference=body_preference,
        prefer_reply_to=prefer_reply_to,
        contact_expiry_minutes=expiry,
        static_attributes=static,
        policy=policy,
    )


def bridge_settings() -> st.SearchStrategy[Settings]:
    """The settings that change what a request looks like; mostly "deliver everything", which
    sends more messages through request building than the default policy's quarantines would."""
    return st.builds(
        make_settings,
        body_preference=st.sampled_from(list(BodyPreference)),
        prefer_reply_to=st.booleans(),
        expiry=st.sampled_from([None, 1, 1440, 20160]),
        static=st.sampled_from([{}, {"brand": "example-brand"}, {f"k{i}": "v" * 150 for i in range(100)}]),
        deliver_everything=st.sampled_from([True, True, False]),
    )
