"""Whether an attachment is what its name says, and the Content-Type it is stored with.

Connect accepts a file by its extension (18 of them). A file passes when its content has a
signature of that extension's kind and its declared ``Content-Type`` is not a program's or a
page's; otherwise it is skipped as ``type_mismatch``: an executable named ``invoice.pdf``, an HTML page or
an SVG named ``.png``, a macro-enabled workbook named ``.xlsx``. The stored object's Content-Type
comes from the extension (:data:`STORED_TYPE`), never from the sender, so the pre-signed URL
always serves the type the name says.

A small table of our own rather than a detection library: the question is not "what is this
file?" but "may it pass under this extension?", which needs kinds a generic detector does not
name (a PNG saved as ``.jpg`` is still an image; an encrypted ``.xlsx`` is an OLE2 file; a
``.docx`` with macros is a ``.docm``) and text rules no magic-number table has. Every rule reads
a bounded prefix or makes one linear pass over at most one 20 MB file.
"""

from __future__ import annotations

import codecs
import re
import struct
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

# The Content-Type each accepted extension is stored with (IANA's registered types).
STORED_TYPE: Mapping[str, str] = MappingProxyType(
    {
        ".csv": "text/csv",
        ".doc": "application/msword",
        ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".heic": "image/heic",
        ".jfif": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".jpg": "image/jpeg",
        ".mov": "video/quicktime",
        ".mp4": "video/mp4",
        ".pdf": "application/pdf",
        ".png": "image/png",
        ".ppt": "application/vnd.ms-powerpoint",
        ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ".rtf": "application/rtf",
        ".txt": "text/plain",
        ".wav": "audio/wav",
        ".xls": "application/vnd.ms-excel",
        ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
)

# Declared types of programs, scripts and active documents: never an accepted file's type.
_ACTIVE_TYPES = frozenset(
    {
        "application/x-msdownload",
        "application/x-msdos-program",
        "application/x-dosexec",
        "application/x-executable",
        "application/x-mach-binary",
        "application/x-elf",
        "application/vnd.microsoft.portable-executable",
        "application/x-ms-installer",
        "application/x-msi",
        "application/hta",
        "application/x-sh",
        "application/x-shellscript",
        "application/x-csh",
        "application/x-bat",
        "application/x-msdos-batch",
        "application/java-archive",
        "application/x-java-archive",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/javascript",
        "text/ecmascript",
        "text/vbscript",
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/x-sh",
        "text/x-shellscript",
    }
)
# Programs, by their first bytes: PE/DOS, ELF, Mach-O (32/64-bit, both byte orders, universal).
_PROGRAMS = (
    b"MZ",
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Office 97-2003 files, and encrypted OOXML ones
_ZIP = b"PK\x03\x04"
_JPEG_OR_PNG = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
# ISO base media and QuickTime: the first box or atom's type, after its 4-byte size.
_MOVIE_ATOMS = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
# WHATWG MIME Sniffing's "binary data bytes", except SUB (0x1A), which ends DOS text files.
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]")
_BINARY_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]")
# WHATWG MIME Sniffing's HTML patterns (a tag name followed by a space or '>'), SVG and XML.
_MARKUP_START = re.compile(
    r"<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[ >]"
    r"|<svg|<\?xml"
)
# "<script" in 8-bit text or either UTF-16 byte order (each letter may be followed by a NUL byte).
_SCRIPT = re.compile(rb"<\x00?s\x00?c\x00?r\x00?i\x00?p\x00?t", re.IGNORECASE)
_WHITESPACE = " \t\r\n\x0c"
_SNIFF_CHARACTERS = 1024
_TEXT_CHUNK = 1 << 20  # UTF-16 text is checked a chunk at a time
_MAX_ZIP_ENTRIES = 10_000  # a real Office file has tens to a few thousand


def stored_type(extension: str) -> str:
    """The Content-Type a file with this accepted extension is stored with; an extension the
    instance accepts beyond Connect's documented list (``attachmentExtensions``) has no type of its
    own here, so it is stored as plain bytes."""
    return STORED_TYPE.get(extension, "application/octet-stream")


def declared_type_agrees(declared: str | None) -> bool:
    """Whether the sender's Content-Type (None: absent or unusable) may describe an accepted file:
    any type but a program's, a script's or an active document's (HTML, SVG).

    A declared type of another passive kind (image/png on a ``.pdf``) is not refused: mailers get
    types wrong (a bank's statement named ``.pdf`` comes as image/png in the corpus), the content
    is checked against the extension anyway, and the type stored is the extension's.
    """
    return declared not in _ACTIVE_TYPES


def content_agrees(extension: str, data: bytes) -> bool:
    """Whether ``data`` (not empty) has a signature of the kind ``extension`` (accepted) names.

    An extension the instance accepts beyond Connect's documented list has no rule here: its file
    passes unless it is a program or a page, which no such extension may carry.
    """
    rule = _RULES.get(extension)
    if rule is None:
        return not data.startswith(_PROGRAMS) and not _starts_with_markup(data)
    return rule(data)


def _pdf(data: bytes) -> bool:
    # Readers accept the header anywhere in the first 1,024 bytes; what stands before it must not
    # make the file a program or a page.
    return b"%PDF" in data[:1024] and not data.startswith(_PROGRAMS) and not _starts_with_markup(data)


def _jpeg_or_png(data: bytes) -> bool:
    # A PNG saved as .jpg (and the reverse) is common and every viewer opens it by its content.
    return data.startswith(_JPEG_OR_PNG)


def _heif(data: bytes) -> bool:
    if data[4:8] != b"ftyp":
        return False
    size = int.from_bytes(data[:4], "big")
    brands = data[8:12], *(data[index : index + 4] for index in range(16, min(size, 256), 4))
    return any(brand in _HEIF_BRANDS for brand in brands)


def _movie(data: bytes) -> bool:
    # QuickTime and MP4 share the format; either name opens either file.
    return data[4:8] in _MOVIE_ATOMS


def _wave(data: bytes) -> bool:
    return data[:4] in {b"RIFF", b"RF64", b"BW64"} and data[8:12] == b"WAVE"


def _office(folder: bytes, *, legacy: bool) -> Callable[[bytes], bool]:
    """Office files of one application: OLE2 (97-2003 files and encrypted OOXML ones) or an
    OOXML package whose main part is in ``folder``, without macros. The old extensions
    (``legacy``) also take a package (Office opens it by content); ``.doc`` and ``.xls`` also take
    what Word and Excel open from exports: RTF (``.doc``), text, and HTML without script."""

    def agrees(data: bytes) -> bool:
        if data.startswith(_OLE2):
            return True
        if data.startswith(_ZIP):
            return _is_office_package(data, folder)
        if not legacy or folder == b"ppt/":
            return False
        if folder == b"word/" and _rtf(data):
            return True
        return _is_text(data, markup_allowed=True) and _SCRIPT.search(data) is None

    return agrees


def _rtf(data: bytes) -> bool:
    head = data[:_SNIFF_CHARACTERS].removeprefix(codecs.BOM_UTF8)
    return head.lstrip(_WHITESPACE.encode()).startswith(b"{\\rtf")


def _plain_text(data: bytes) -> bool:
    return _is_text(data, markup_allowed=False)


def _is_text(data: bytes, *, markup_allowed: bool) -> bool:
    """Text a person reads, without binary control characters: 8-bit, or UTF-16 (with its
    byte-order mark, or without one when the first character is ASCII); not a script (``#!``),
    and unless ``markup_allowed`` not a page (HTML, SVG or XML)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = _utf16_head(data, "utf-16")
    elif _BINARY_BYTES.search(data) is None:
        head = data[: _SNIFF_CHARACTERS * 4].removeprefix(codecs.BOM_UTF8).decode("latin-1")
    elif data[1:2] == b"\x00" or data[:1] == b"\x00":
        head = _utf16_head(data, "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be")
    else:
        return False
    if head is None:
        return False
    head = head.lstrip(_WHITESPACE).lower()
    return not head.startswith("#!") and (markup_allowed or _MARKUP_START.match(head) is None)


def _utf16_head(data: bytes, encoding: str) -> str | None:
    """The start of UTF-16 text, or None when it is not text (undecodable or binary characters);
    decoded a chunk at a time so a large file is never held twice."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    head = ""
    for start in range(0, len(data), _TEXT_CHUNK):
        try:
            text = decoder.decode(data[start : start + _TEXT_CHUNK], final=start + _TEXT_CHUNK >= len(data))
        except UnicodeDecodeError:
            return None
        if _BINARY_CHARACTERS.search(text):
            return None
        head = head or text[:_SNIFF_CHARACTERS]
    return head


def _starts_with_markup(data: bytes) -> bool:
    head = data[: _SNIFF_CHARACTERS * 4].removeprefix(codecs.BOM_UTF8).decode("latin-1")
    return _MARKUP_START.match(head.lstrip(_WHITESPACE).lower()) is not None


def _is_office_package(data: bytes, folder: bytes) -> bool:
    """An OOXML package of one application: ``[Content_Types].xml`` and a part in ``folder`` are
    in the ZIP's directory, and no ``vbaProject.bin`` (a macro-enabled .docm/.xlsm/.pptm)."""
    types = main = False
    for name in _zip_names(data):
        if name.lower().endswith(b"vbaproject.bin"):
            return False
        types = types or name == b"[Content_Types].xml"
        main = main or name.startswith(folder)
    return types and main


def _zip_names(data: bytes) -> Iterator[bytes]:
    """The names in a ZIP's central directory (at most ``_MAX_ZIP_ENTRIES``), read in place.

    The directory sits just before the end record; its start is found from its size, so data
    prepended to the archive does not matter. A damaged directory yields the names read so far.
    """
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return
    count, size = struct.unpack_from("<HI", data, end + 10)
    offset = end - size
    for _ in range(min(count, _MAX_ZIP_ENTRIES)):
        if offset < 0 or offset + 46 > end or data[offset : offset + 4] != b"PK\x01\x02":
            return
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, offset + 28)
        yield data[offset + 46 : offset + 46 + name_length]
        offset += 46 + name_length + extra_length + comment_length


_RULES: Mapping[str, Callable[[bytes], bool]] = MappingProxyType(
    {
        ".csv": _plain_text,
        ".doc": _office(b"word/", legacy=True),
        ".docx": _office(b"word/", legacy=False),
        ".heic": _heif,
        ".jfif": _jpeg_or_png,
        ".jpeg": _jpeg_or_png,
        ".jpg": _jpeg_or_png,
        ".mov": _movie,
        ".mp4": _movie,
        ".pdf": _pdf,
        ".png": _jpeg_or_png,
        ".ppt": _office(b"ppt/", legacy=True),
        ".pptx": _office(b"ppt/", legacy=False),
        ".rtf": _rtf,
        ".txt": _plain_text,
        ".wav": _wave,
        ".xls": _office(b"xl/", legacy=True),
        ".xlsx": _office(b"xl/", legacy=False),
    }
)
