"""Outlook's winmail.dat: its files and its body, read with tnefparse within the message's budget.

tnefparse (imported on first use only) trusts what the stream declares: ``TNEF(data)`` copies
the rest of the stream once per object (9 MB of small objects took a minute) and loops as
many times as a property count says (a 458-byte file declaring 2**32-1 properties loops for
hours). So the stream is walked here, object by object, each handed to the library as a slice
of its own size, and only the objects that hold files are decoded. Before the library decodes
a block of MAPI properties, the block is walked as the library would walk it (linear, nothing
built), and refused when a count is larger than the data could hold, when embedded messages
nest too deep, or when one would take more objects or copying than the budget allows. The
files read before a refusal (or before damage the library cannot read) are kept. The message's
own MAPI properties and ``attBody`` are read the same way for its body (:func:`message_body`),
and its compressed RTF only within its own bounds (:func:`_rtf_body`).
"""

from __future__ import annotations

import struct
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from ses_to_connect.budget import (
    MAX_COMPRESSED_RTF_BYTES,
    MAX_RTF_BYTES,
    MAX_TNEF_COPY_BYTES,
    MAX_TNEF_DEPTH,
    MAX_TNEF_OBJECTS,
)
from ses_to_connect.model import DefectKind, Defects

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tnefparse.mapi import TNEFMAPI_Attribute
    from tnefparse.tnef import TNEFAttachment

SIGNATURE = 0x223E9F78
TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_HEADER = struct.Struct("<BHHI")  # level, name, type, length; then the data and a 2-byte checksum
_OBJECT_OVERHEAD = _HEADER.size + 2
_MIN_OBJECT = 12  # tnefparse reads objects while more than this many bytes remain
_U32 = struct.Struct("<I")
_TYPE_AND_NAME = struct.Struct("<HH")
# TNEF object names and level (MS-OXTNEF 2.1.3), as tnefparse's TNEF class has them.
_LEVEL_ATTACHMENT = 0x02
_ATTACH_RENDDATA = 0x9002  # starts an attachment
_MAPI_PROPS = 0x9003
_RECIPIENTS = 0x9004
_ATTACHMENT = 0x9005  # an attachment's MAPI properties
_OEM_CODEPAGE = 0x9007
_ATT_BODY = 0x800C  # the message's plain text, in the OEM code page
# MAPI property types (MS-OXCDATA 2.11.1), by the bytes each value takes in the stream.
_FIXED_SIZES = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8}
_FIXED_SIZES |= {0x0014: 8, 0x0040: 8, 0x0048: 16}
_VARIABLE = frozenset({0x0000, 0x000D, 0x001E, 0x001F, 0x0102})  # a length, then that many bytes
_SHORT_TYPES = frozenset({0x0002, 0x000B})  # padded to 4 bytes when single
_MULTI_VALUE = 0x1000
_NAMED = 0x8000  # a property named by a GUID, with a number or a name
_ATTACH_DATA_OBJ = 0x3701
_EMBEDDED_SIGNATURE = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_MIN_PROPERTY = 8  # type, name and the smallest value with its padding
# The message's body properties (MS-OXPROPS) and the code pages of its 8-bit text.
_PR_BODY = 0x1000
_PR_RTF_COMPRESSED = 0x1009
_PR_BODY_HTML = 0x1013
_PR_INTERNET_CPID = 0x3FDE
_UNICODE = 0x001F
_STRING8 = 0x001E
_RTF_HEADER = struct.Struct("<IIII")  # compressed size, raw size, type, CRC (MS-OXRTFCP 2.1.3.1)


def is_winmail(content_type: str, file_name: str | None) -> bool:
    """Whether a part is Outlook's winmail.dat: by its type, or by its name under any type."""
    return content_type in TNEF_TYPES or (file_name or "").strip().lower() == "winmail.dat"


class OverBudget(Exception):
    """The stream asks for more than the budget allows; ``args[0]`` names the bound."""


class Unpacked(NamedTuple):
    """The files read from a winmail.dat, and whether it could be read at all."""

    files: list[tuple[str, bytes]]  # (file name, content)
    readable: bool


def unpack(data: bytes, defects: Defects) -> Unpacked:
    """The files of a TNEF stream, in order; what stopped the reading is recorded."""
    try:
        from tnefparse.codepage import Codepage  # noqa: PLC0415 (only Outlook mail needs it)
        from tnefparse.tnef import TNEFAttachment, TNEFObject  # noqa: PLC0415
    except ImportError:
        defects.add(DefectKind.TNEF_UNSUPPORTED)
        return Unpacked([], readable=False)
    if len(data) < 6 or _U32.unpack_from(data)[0] != SIGNATURE:
        defects.add(DefectKind.TNEF_UNREADABLE)
        return Unpacked([], readable=False)
    attachments: list[TNEFAttachment] = []
    copied = _Copied()
    codepage = None
    try:
        for offset, end in _objects(data):
            obj = TNEFObject(data[offset:end], do_checksum=False)
            if obj.name == _ATTACH_RENDDATA:
                attachments.append(TNEFAttachment(codepage))
            if obj.level == _LEVEL_ATTACHMENT:
                if not attachments:
                    raise ValueError("an attachment's attribute before the attachment")
                if obj.name == _ATTACHMENT:
                    _mapi_end(obj.data, 0, 0, copied)
                attachments[-1].add_attr(obj)
            elif obj.name == _OEM_CODEPAGE:
                codepage = Codepage(_U32.unpack_from(obj.data)[0]).codepage()
    except OverBudget as over:
        defects.add(DefectKind.TNEF_OVER_BUDGET, str(over.args[0]))
    except Exception:  # noqa: BLE001 (tnefparse raises anything on damaged input)
        defects.add(DefectKind.TNEF_UNREADABLE)
    else:
        return Unpacked(_files(attachments), readable=True)
    files = _files(attachments)  # read before the stop: readable as far as they go
    return Unpacked(files, readable=bool(files))


class Body(NamedTuple):
    """A body a winmail.dat holds, as bytes in a charset (what the caller decodes)."""

    data: bytes
    charset: str | None  # a label for charsets.codec_for; None when the stream names none
    content_type: str  # "text/html" or "text/plain"


class MessageBody(NamedTuple):
    """What a winmail.dat shows as the message's own text, and whether it also holds files."""

    body: Body | None
    attachments: bool


def message_body(data: bytes, defects: Defects, prefer: str = "text/html") -> MessageBody:
    """The body Outlook shows of a TNEF stream: its HTML (``PR_BODY_HTML``), else the HTML or text
    its compressed RTF encapsulates, else its plain text (``PR_BODY``, then ``attBody``); with
    ``prefer`` "text/plain", that order reversed. Read within the same budget as its files."""
    try:
        from tnefparse.mapi import decode_mapi  # noqa: PLC0415 (only Outlook mail needs it)
    except ImportError:
        defects.add(DefectKind.TNEF_UNSUPPORTED)
        return MessageBody(None, attachments=False)
    if len(data) < 6 or _U32.unpack_from(data)[0] != SIGNATURE:
        defects.add(DefectKind.TNEF_UNREADABLE)
        return MessageBody(None, attachments=False)
    found = _BodySources()
    attachments = False
    try:
        for offset, end in _objects(data):
            level, name = data[offset], _TYPE_AND_NAME.unpack_from(data, offset + 1)[0]
            block = data[offset + _HEADER.size : end - 2]
            if level == _LEVEL_ATTACHMENT:
                attachments = True
            elif name == _MAPI_PROPS:
                _mapi_end(block, 0, 0, _Copied())  # the counts checked before decode_mapi loops on them
                # latin-1 keeps 8-bit strings' bytes as they are: their code page is decided below.
                found.read(decode_mapi(block, "latin-1"))
            elif name == _ATT_BODY:
                found.att_body = block
            elif name == _OEM_CODEPAGE:
                found.oem_codepage = _U32.unpack_from(block)[0]
    except OverBudget as over:
        defects.add(DefectKind.TNEF_OVER_BUDGET, str(over.args[0]))
    except Exception:  # noqa: BLE001 (tnefparse raises anything on damaged input)
        defects.add(DefectKind.TNEF_UNREADABLE)
    sources: list[Callable[[], Body | None]] = [found.html, partial(found.rtf, defects), found.text]
    if prefer == "text/plain":
        sources.reverse()
    return MessageBody(next(filter(None, (source() for source in sources)), None), attachments)


class _BodySources:
    """The body properties of one stream, as read; each turned into a :class:`Body` on demand."""

    def __init__(self) -> None:
        self.properties: dict[int, TNEFMAPI_Attribute] = {}
        self.att_body = b""
        self.oem_codepage: int | None = None

    def read(self, properties: list[TNEFMAPI_Attribute]) -> None:
        for found in properties:
            if found.name in {_PR_BODY, _PR_RTF_COMPRESSED, _PR_BODY_HTML, _PR_INTERNET_CPID}:
                self.properties.setdefault(found.name, found)

    def html(self) -> Body | None:
        return self._value(_PR_BODY_HTML, "text/html", self._internet_codepage() or self._oem())

    def text(self) -> Body | None:
        body = self._value(_PR_BODY, "text/plain", self._oem() or self._internet_codepage())
        if body is None and self.att_body.strip(b"\x00 \r\n"):
            body = Body(self.att_body.rstrip(b"\x00"), self._oem(), "text/plain")
        return body

    def rtf(self, defects: Defects) -> Body | None:
        found = self.properties.get(_PR_RTF_COMPRESSED)
        if found is None or not isinstance(found.raw_data, list):
            return None
        return _rtf_body(b"".join(item for item in found.raw_data if isinstance(item, bytes)), defects)

    def _value(self, name: int, content_type: str, charset: str | None) -> Body | None:
        """A text property's bytes and their charset: 8-bit strings and binary HTML are in ``charset``."""
        found = self.properties.get(name)
        if found is None:
            return None
        value = found.data
        if found.attr_type == _UNICODE and isinstance(value, str):
            data, charset = value.encode(), "utf-8"
        elif found.attr_type == _STRING8 and isinstance(value, str):
            data = value.encode("latin-1")  # the bytes decode_mapi read as latin-1
        elif isinstance(value, bytes):
            data = value
        else:
            return None
        return Body(data, charset, content_type) if data.strip() else None

    def _internet_codepage(self) -> str | None:
        found = self.properties.get(_PR_INTERNET_CPID)
        return _codepage_label(found.data) if found is not None and isinstance(found.data, int) else None

    def _oem(self) -> str | None:
        return _codepage_label(self.oem_codepage) if self.oem_codepage is not None else None


def _codepage_label(codepage: int) -> str:
    """A Windows code page's charset label, as tnefparse names it (``cp1252``, ``utf-8``...)."""
    from tnefparse.codepage import Codepage  # noqa: PLC0415 (only Outlook mail needs it)

    return str(Codepage(codepage).codepage())


def _rtf_body(compressed: bytes, defects: Defects) -> Body | None:
    """The HTML or text a compressed RTF body encapsulates (MS-OXRTFEX), read by RTFDE.

    RTFDE parses the whole RTF with lark, a character at a time: tens of microseconds and about
    a kilobyte of memory per byte of RTF. So the RTF is refused, before it is decompressed,
    when it is larger than the budget allows. RTF that encapsulates nothing (Outlook's own rich
    text) is not converted: the plain text Outlook stores beside it is shown instead.
    """
    if len(compressed) < _RTF_HEADER.size:
        defects.add(DefectKind.TNEF_BODY_UNREADABLE, "rtf_damaged")
        return None
    declared = _RTF_HEADER.unpack_from(compressed)[1]
    if len(compressed) > MAX_COMPRESSED_RTF_BYTES or declared > MAX_RTF_BYTES:
        defects.add(DefectKind.TNEF_BODY_UNREADABLE, "rtf_too_large")
        return None
    try:
        from compressed_rtf import decompress  # noqa: PLC0415 (only Outlook's RTF bodies need them)
        from RTFDE import DeEncapsulator  # noqa: PLC0415
        from RTFDE.exceptions import NotEncapsulatedRtf  # noqa: PLC0415
    except ImportError:  # a local install without requirements/lambda-no-deps.txt; the asset has them
        defects.add(DefectKind.TNEF_UNSUPPORTED, "rtf")
        return None
    try:
        rtf = decompress(compressed)
    except Exception:  # noqa: BLE001 (it raises Exception itself on a bad CRC or type)
        defects.add(DefectKind.TNEF_BODY_UNREADABLE, "rtf_damaged")
        return None
    if len(rtf) > MAX_RTF_BYTES:  # the declared size is not what decompress goes by
        defects.add(DefectKind.TNEF_BODY_UNREADABLE, "rtf_too_large")
        return None
    try:
        rtfde = DeEncapsulator(rtf)
        rtfde.deencapsulate()
    except NotEncapsulatedRtf:
        defects.add(DefectKind.TNEF_BODY_UNREADABLE, "rtf_not_encapsulated")
        return None
    except Exception:  # noqa: BLE001 (lark and RTFDE raise anything on hostile RTF, RecursionError too)
        defects.add(DefectKind.TNEF_BODY_UNREADABLE, "rtf_unreadable")
        return None
    html = rtfde.content_type == "html"
    content = bytes(rtfde.html if html else rtfde.text)  # what RTFDE decodes, written as UTF-8
    return Body(content, "utf-8", "text/html" if html else "text/plain") if content.strip() else None


def _files(attachments: list[TNEFAttachment]) -> list[tuple[str, bytes]]:
    return [
        (str(attachment.long_filename() or attachment.name or "attachment"), bytes(attachment.data))
        for attachment in attachments
        if attachment.data
    ]


class _Copied:
    """Bytes tnefparse will copy while parsing the embedded messages of one stream."""

    def __init__(self) -> None:
        self.total = 0

    def add(self, amount: int) -> None:
        self.total += amount
        if self.total > MAX_TNEF_COPY_BYTES:
            raise OverBudget("copy")


def _objects(data: bytes) -> Iterator[tuple[int, int]]:
    """Where each object of a stream starts and ends, as tnefparse reads them, within the budget."""
    offset, objects = 6, 0
    while offset + _MIN_OBJECT < len(data):
        objects += 1
        if objects > MAX_TNEF_OBJECTS:
            raise OverBudget("objects")
        end = _object_end(data, offset)
        yield offset, end
        offset = end


def _object_end(data: bytes, offset: int) -> int:
    """Where the object at ``offset`` ends, as tnefparse reads it (cut at the end of the data)."""
    length: int = _HEADER.unpack_from(data, offset)[3]
    return min(len(data), offset + length + _OBJECT_OVERHEAD)


def _check_embedded(data: bytes, depth: int, copied: _Copied) -> None:
    """Walk a whole embedded message as ``TNEF(data)`` will parse it: every object, and the MAPI
    blocks of its message properties, recipients and attachments."""
    if depth > MAX_TNEF_DEPTH:
        raise OverBudget("depth")
    if len(data) < 6 or _U32.unpack_from(data)[0] != SIGNATURE:
        return  # tnefparse refuses it at once
    for offset, end in _objects(data):
        copied.add(len(data) - offset)  # tnefparse copies the rest of the stream for each object
        level, name = data[offset], _TYPE_AND_NAME.unpack_from(data, offset + 1)[0]
        block = data[offset + _HEADER.size : end - 2]
        if (level == _LEVEL_ATTACHMENT and name == _ATTACHMENT) or (
            level != _LEVEL_ATTACHMENT and name == _MAPI_PROPS
        ):
            _mapi_end(block, 0, depth, copied)
        elif level != _LEVEL_ATTACHMENT and name == _RECIPIENTS:
            rows = _U32.unpack_from(block)[0]
            _check_count(rows, len(block) - 4, 4)
            row = 4
            for _ in range(rows):
                row = _mapi_end(block, row, depth, copied)


def _check_count(count: int, remaining: int, smallest: int) -> None:
    """A declared count the remaining bytes could hold, at ``smallest`` bytes an item."""
    if count > max(remaining, 0) // smallest + 1:
        raise OverBudget("count")


def _mapi_end(data: bytes, offset: int, depth: int, copied: _Copied) -> int:
    """Where a block of MAPI properties ends, walked as tnefparse's ``decode_mapi`` reads it.

    Raises :class:`OverBudget` for a count larger than the data could hold (each property
    takes at least 8 bytes, each value of a multi-valued one at least 2) and checks each
    embedded message. Stops where ``decode_mapi`` stops: at data it cannot read.
    """
    count = _U32.unpack_from(data, offset)[0]
    offset += 4
    _check_count(count, len(data) - offset, _MIN_PROPERTY)
    try:
        for _ in range(count):
            if offset >= len(data):
                break
            kind, name = _TYPE_AND_NAME.unpack_from(data, offset)
            offset += 4
            if name >= _NAMED:
                offset += 16
                named_by_number = _U32.unpack_from(data, offset)[0] == 0
                offset += 8 if named_by_number else 8 + _padded_length(data, offset + 4)
            values = None
            if kind & _MULTI_VALUE:
                kind ^= _MULTI_VALUE
                values = _U32.unpack_from(data, offset)[0]
                offset += 4
                _check_count(values, len(data) - offset, 2)
            for _ in range(values or 1):
                offset = _value_end(
                    data, offset, kind, name, multi=values is not None, nesting=(depth, copied)
                )
            if (values or 1) % 2 and kind in _SHORT_TYPES:
                offset += 2
    except struct.error:
        pass  # decode_mapi stops here too
    return offset


def _padded_length(data: bytes, offset: int) -> int:
    """The length at ``offset``, rounded up to 4 as tnefparse does."""
    length: int = _U32.unpack_from(data, offset)[0]
    return length + (-length % 4)


def _value_end(
    data: bytes, offset: int, kind: int, name: int, *, multi: bool, nesting: tuple[int, _Copied]
) -> int:
    """Where one value ends (all the items of a single-valued variable property)."""
    if kind in _FIXED_SIZES:
        return offset + _FIXED_SIZES[kind]
    if kind not in _VARIABLE:
        raise struct.error("unknown MAPI type")  # decode_mapi stops at it
    items = 1
    if not multi:
        items = _U32.unpack_from(data, offset)[0]
        offset += 4
        _check_count(items, len(data) - offset, 4)
    value = bytearray()
    for _ in range(items):
        length = _padded_length(data, offset)
        offset += 4
        if name == _ATTACH_DATA_OBJ:
            value += data[offset : offset + length].rstrip(b"\x00")
        offset += length
    if value.startswith(_EMBEDDED_SIGNATURE):  # add_attr parses it: TNEF(value[16:])
        depth, copied = nesting
        _check_embedded(bytes(value[len(_EMBEDDED_SIGNATURE) :]), depth + 1, copied)
    return offset
