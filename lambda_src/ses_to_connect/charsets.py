"""Bytes to text as mail clients and browsers read them: one bad byte spoils one character.

A declared charset is read as its WHATWG superset (https://encoding.spec.whatwg.org/, the
labels table of ``encodings.json``): gb2312 as gb18030, shift_jis as cp932, euc-kr as cp949,
big5 as cp950 plus HKSCS, iso-8859-1 and us-ascii as windows-1252, and windows-125x with their
unassigned bytes as C1 controls instead of errors. Only the bytes that still do not decode are
replaced (U+FFFD). Where there is no usable charset (none declared, an unknown one, or one that
fails on most of the text) the charset is guessed: UTF-8 (also when damaged in a few places),
then the charsets the message declares elsewhere, then statistical detection
(``charset_normalizer``, imported on first use only: the cold start does not pay for it), then
windows-1252. :class:`Decoded` says what was done, so that callers can record it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from functools import cache
from importlib import import_module
from typing import NamedTuple

from ses_to_connect import budget
from ses_to_connect.budget import Bound

__all__ = ["Decoded", "codec_for", "decode", "decode_as"]

# WHATWG encoding name -> its labels, space-separated: encodings.json of whatwg/encoding at
# a985b62 (May 2026), with iso-8859-8-i folded into iso-8859-8 (the same decoder). Left out:
# "replacement" (iso-2022-kr, hz-gb-2312...: browsers refuse them for safety, but Python reads
# iso-2022-kr and hz, and a mail reader should) and "x-user-defined".
_LABELS: dict[str, str] = {
    "utf-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "ibm866": "866 cp866 csibm866 ibm866",
    "iso-8859-2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2",
    "iso-8859-3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3",
    "iso-8859-4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4",
    "iso-8859-5": (
        "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988"
    ),
    "iso-8859-6": (
        "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e "
        "iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987"
    ),
    "iso-8859-7": (
        "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 "
        "iso_8859-7 iso_8859-7:1987 sun_eu_greek"
    ),
    "iso-8859-8": (
        "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 "
        "iso_8859-8 iso_8859-8:1988 visual csiso88598i iso-8859-8-i logical"
    ),
    "iso-8859-10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "iso-8859-13": "iso-8859-13 iso8859-13 iso885913",
    "iso-8859-14": "iso-8859-14 iso8859-14 iso885914",
    "iso-8859-15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "iso-8859-16": "iso-8859-16",
    "koi8-r": "cskoi8r koi koi8 koi8-r koi8_r",
    "koi8-u": "koi8-ru koi8-u",
    "macintosh": "csmacintosh mac macintosh x-mac-roman",
    "windows-874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "windows-1250": "cp1250 windows-1250 x-cp1250",
    "windows-1251": "cp1251 windows-1251 x-cp1251",
    "windows-1252": (
        "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 "
        "iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252"
    ),
    "windows-1253": "cp1253 windows-1253 x-cp1253",
    "windows-1254": (
        "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 "
        "latin5 windows-1254 x-cp1254"
    ),
    "windows-1255": "cp1255 windows-1255 x-cp1255",
    "windows-1256": "cp1256 windows-1256 x-cp1256",
    "windows-1257": "cp1257 windows-1257 x-cp1257",
    "windows-1258": "cp1258 windows-1258 x-cp1258",
    "x-mac-cyrillic": "x-mac-cyrillic x-mac-ukrainian",
    "gbk": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk",
    "gb18030": "gb18030",
    "big5": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc-jp": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "iso-2022-jp": "csiso2022jp iso-2022-jp",
    "shift_jis": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "euc-kr": (
        "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 "
        "ksc_5601 windows-949"
    ),
    "utf-16be": "unicodefffe utf-16be",
    "utf-16le": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
}
_BY_LABEL = {label: name for name, labels in _LABELS.items() for label in labels.split()}
_ASCII_LABELS = frozenset({"ansi_x3.4-1968", "ascii", "us-ascii"})

# The Python codec that reads each WHATWG encoding; the rest are Python's own names.
_PYTHON_CODEC = {
    "ibm866": "cp866",
    "macintosh": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic",
    "gbk": "gb18030",  # WHATWG's GBK decoder is the gb18030 decoder
    "big5": "cp950",  # then HKSCS for what cp950 lacks: see _big5_rest
    "shift_jis": "cp932",
    "euc-kr": "cp949",
    **{f"windows-{n}": f"cp{n}" for n in (874, *range(1250, 1259))},
}
# Charmap codecs whose WHATWG index differs from Python's table: unassigned 0x80-0x9F bytes are
# C1 controls there (Python raises), plus these code points (checked against the index files).
_CHARMAP_PATCHES: dict[str, dict[int, str]] = {
    **{f"cp{n}": {} for n in (874, *range(1250, 1259))},
    "cp1255": {0xCA: "\u05ba"},
    "koi8_u": {0xAE: "\u045e", 0xBE: "\u040e"},  # WHATWG's KOI8-U is KOI8-RU
}
# Registered codecs that are not charsets a sender could mean.
_NOT_CHARSETS = frozenset(
    {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape", "mbcs", "oem"}
)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_BE, "utf-16be"), (codecs.BOM_UTF16_LE, "utf-16le"))
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
# Statistical detection chooses among these Python codecs (what mail is written in), the more
# common first where the detector scores two alike; each maps to the WHATWG encoding it stands for.
_DETECTABLE = {
    "cp1252": "windows-1252",
    "cp1251": "windows-1251",
    "koi8_r": "koi8-r",
    "gb18030": "gb18030",
    "cp932": "shift_jis",
    "cp949": "euc-kr",
    "big5hkscs": "big5",
    "cp1250": "windows-1250",
    "cp1253": "windows-1253",
    "cp1254": "windows-1254",
    "cp1255": "windows-1255",
    "cp1256": "windows-1256",
    "cp1257": "windows-1257",
    "cp1258": "windows-1258",
    "cp874": "windows-874",
    "euc_jp": "euc-jp",
    "iso8859_2": "iso-8859-2",
    "iso8859_5": "iso-8859-5",
    "iso8859_7": "iso-8859-7",
    "cp866": "ibm866",
    "koi8_u": "koi8-u",
    "mac_roman": "macintosh",
}
# ISO-2022-JP: escapes to ASCII, JIS-Roman, half-width katakana and JIS X 0208 (WHATWG's set).
_ISO_2022_JP_ESCAPE = re.compile(rb"\x1b(\(B|\(J|\(I|\$@|\$B)")
_JIS_PAIRS = re.compile(rb"(?:[\x21-\x7e]{2})+")
_KATAKANA_AS_CP932 = bytes(b + 0x80 if 0x21 <= b <= 0x5F else b for b in range(256))
# Where Python's iso2022_jp maps JIS X 0208 otherwise than the WHATWG index (cp932) does.
_JIS_AS_CP932 = str.maketrans("\u301c\u2016\u2212\u00a2\u00a3\u00ac", "\uff5e\u2225\uff0d\uffe0\uffe1\uffe2")
FALLBACK = "windows-1252"  # WHATWG's default for undeclared text, and what Windows mailers send


class Decoded(NamedTuple):
    """Text, the encoding it was read with, and what it took."""

    text: str
    encoding: str
    clean: bool  # every byte was valid in ``encoding`` (else: U+FFFD, or 8-bit text declared ASCII)
    guessed: bool  # read with another charset than the one declared (or, undeclared, than UTF-8)


def codec_for(label: str) -> str | None:
    """The encoding a charset label names (WHATWG's name where it has one); None if unusable."""
    name = label.strip().lower()
    if not name.isascii():  # Python's lookup would drop the other characters: "\x80utf-8" is no utf-8
        return None
    if name not in _BY_LABEL:
        try:
            info = codecs.lookup(name)
        except (LookupError, ValueError):  # ValueError: a NUL in the name
            return None
        if info.name in _NOT_CHARSETS:
            return None
        try:  # only text codecs: bytes.decode refuses "base64" or "rot13" (codecs, not charsets)
            b"a".decode(info.name, "replace")
        except LookupError:
            return None
        name = info.name if info.name in _BY_LABEL else info.name.replace("_", "-")
        if name not in _BY_LABEL:
            return info.name
    # Declared ASCII is read as windows-1252 too, but 8-bit bytes in it are a mismatch.
    return "us-ascii" if name in _ASCII_LABELS else _BY_LABEL[name]


def decode(data: bytes, encoding: str | None, hints: Sequence[str] = ()) -> Decoded:
    """``data`` read with ``encoding`` (from :func:`codec_for`; None: undeclared or unusable).

    ``hints`` are other encodings the message declares, tried before detection. Detections are
    counted in the message's budget (:mod:`budget`); once it is spent, windows-1252 stands in.
    """
    for bom, bom_encoding in _BOMS:  # a byte-order mark wins over the label, as in browsers
        if data.startswith(bom):
            text = _decode(data[len(bom) :], bom_encoding, "replace")
            return Decoded(text, bom_encoding, "\ufffd" not in text, encoding not in {None, bom_encoding})
    if encoding is not None:
        try:
            return Decoded(_decode(data, encoding, "strict"), encoding, clean=True, guessed=False)
        except UnicodeDecodeError:
            # Whole valid UTF-8 under another label: mislabelled, as the label failed anyway.
            utf8 = _valid_utf8(data) if encoding != "utf-8" else None
            if utf8 is not None:
                return Decoded(utf8, "utf-8", clean=True, guessed=True)
            text = _decode(data, encoding, "replace")
            if not _mostly_undecodable(text):
                return Decoded(text, encoding, clean=False, guessed=False)
        except UnicodeError:  # a registered codec that decodes nothing: no charset after all
            pass
    elif data.isascii() and b"\x1b" not in data:
        return Decoded(data.decode("ascii"), "utf-8", clean=True, guessed=False)
    return _guess(data, encoding, hints)


def decode_as(data: bytes, encoding: str) -> str:
    """More of a text already read with ``encoding`` (a :class:`Decoded`'s), bad bytes as U+FFFD."""
    return _decode(data, encoding, "replace")


def _guess(data: bytes, declared: str | None, hints: Sequence[str]) -> Decoded:
    if data.isascii() and b"\x1b$" in data:  # ISO-2022-JP escapes in undeclared 7-bit text
        try:
            return Decoded(_decode(data, "iso-2022-jp", "strict"), "iso-2022-jp", clean=True, guessed=True)
        except UnicodeError:
            pass
    if declared != "utf-8":
        utf8 = _valid_utf8(data)
        if utf8 is not None:  # undeclared UTF-8 is what RFC 6532 mail is: no guess
            return Decoded(utf8, "utf-8", clean=True, guessed=declared is not None)
        # UTF-8 with a few damaged sequences (a name cut mid-character, one stray byte).
        text = data.decode("utf-8", "replace")
        if _UTF8_SEQUENCE.search(data) and not _mostly_undecodable(text):
            return Decoded(text, "utf-8", clean=False, guessed=True)
    for hint in dict.fromkeys(hints):
        if hint not in {declared, "utf-8"} and _ascii_compatible(hint):
            try:
                return Decoded(_decode(data, hint, "strict"), hint, clean=True, guessed=True)
            except UnicodeError:
                pass
    encoding = (_detect(data) if budget.current().take(Bound.DETECTIONS) else None) or FALLBACK
    text = _decode(data, encoding, "replace")
    return Decoded(text, encoding, "\ufffd" not in text, guessed=True)


@cache
def _ascii_compatible(encoding: str) -> bool:
    """Whether ASCII bytes read as ASCII in ``encoding``: a UTF-16 or EBCDIC part says nothing
    about the charset of 8-bit bytes found elsewhere."""
    sample = bytes(range(0x20, 0x7F))
    try:
        return _decode(sample, encoding, "strict") == sample.decode("ascii")
    except UnicodeError:
        return False


def _valid_utf8(data: bytes) -> str | None:
    """``data`` as UTF-8 if it is valid UTF-8 that is not plain ASCII."""
    if data.isascii():
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _mostly_undecodable(text: str) -> bool:
    """Most non-ASCII characters are U+FFFD: the wrong charset, not a few damaged bytes."""
    return 2 * text.count("\ufffd") > len(text) - len(text.encode("ascii", "ignore"))


def _decode(data: bytes, encoding: str, errors: str) -> str:
    if encoding == "us-ascii":
        codec = "ascii" if errors == "strict" else "cp1252"
    else:
        codec = _PYTHON_CODEC.get(encoding, encoding)
    if codec in _CHARMAP_PATCHES:
        return codecs.charmap_decode(data, errors, _whatwg_table(codec))[0]
    if codec == "cp950":
        return data.decode(codec, f"{__name__}.big5-{errors}")
    if codec == "iso-2022-jp":
        try:
            return data.decode("iso2022_jp").translate(_JIS_AS_CP932)
        except UnicodeDecodeError:  # NEC and IBM rows (①, №), which Python's codec lacks
            return _iso_2022_jp(data, errors)
    return data.decode(codec, errors)


def _iso_2022_jp(data: bytes, errors: str) -> str:
    """WHATWG's ISO-2022-JP decoder: its JIS X 0208 index is cp932's, so each two-byte run is
    turned into Shift_JIS and decoded as cp932; half-width katakana likewise."""
    out: list[str] = []
    mode, start = b"(B", 0
    for escape in _ISO_2022_JP_ESCAPE.finditer(data):
        out.append(_iso_2022_jp_segment(data[start : escape.start()], mode, errors))
        mode, start = escape.group(1), escape.end()
    out.append(_iso_2022_jp_segment(data[start:], mode, errors))
    return "".join(out)


def _iso_2022_jp_segment(data: bytes, mode: bytes, errors: str) -> str:
    if mode == b"(I":
        return data.translate(_KATAKANA_AS_CP932).decode("cp932", errors)
    if mode not in {b"$@", b"$B"}:
        return data.decode("ascii", errors)
    out: list[str] = []
    end = 0
    for run in _JIS_PAIRS.finditer(data):
        out.append(data[end : run.start()].decode("ascii", errors))
        shift_jis = bytearray()
        for j1, j2 in zip(run.group()[::2], run.group()[1::2], strict=True):
            s1 = (j1 - 0x21) // 2 + 0x81
            s2 = j2 + 0x1F + (j2 >= 0x60) if j1 % 2 else j2 + 0x7E
            shift_jis += bytes((s1 + 0x40 if s1 > 0x9F else s1, s2))
        out.append(shift_jis.decode("cp932", errors))
        end = run.end()
    out.append(data[end:].decode("ascii", errors))
    return "".join(out)


@cache
def _whatwg_table(codec: str) -> str:
    """Python's decoding table of a charmap codec, made to match the WHATWG index."""
    table = list(import_module(f"encodings.{codec}").decoding_table)
    for byte in range(0x80, 0xA0):
        if table[byte] == "\ufffe":  # unassigned in Python's table
            table[byte] = chr(byte)
    for byte, char in _CHARMAP_PATCHES[codec].items():
        table[byte] = char
    return "".join(table)


def _big5_rest(errors: str) -> None:
    """Register the error handler that reads with HKSCS what cp950 lacks (WHATWG's Big5 has both)."""

    def handler(exc: UnicodeError) -> tuple[str, int]:
        if not isinstance(exc, UnicodeDecodeError):
            raise exc
        pair = exc.object[exc.start : exc.start + 2]
        try:
            return pair.decode("big5hkscs"), exc.start + len(pair)
        except UnicodeDecodeError:
            if errors == "strict":
                raise exc from None
            return "\ufffd", exc.end

    codecs.register_error(f"{__name__}.big5-{errors}", handler)


_big5_rest("strict")
_big5_rest("replace")


def _detect(data: bytes) -> str | None:
    """The likeliest encoding by statistics, or None. The detector is imported on first use."""
    from charset_normalizer import from_bytes  # noqa: PLC0415 (lazy: most mail never needs it)

    order = list(_DETECTABLE)
    # The detector reports one match for encodings that read the bytes alike (cp1250 and cp1252
    # for "Müller"); of those, and of equally scored matches, the more common encoding is taken.
    scored = [
        (round(match.chaos, 3), -round(match.coherence, 3), order.index(encoding), encoding)
        for match in from_bytes(data, cp_isolation=order)
        for encoding in match.could_be_from_charset
        if encoding in _DETECTABLE
    ]
    return _DETECTABLE[min(scored)[3]] if scored else None
