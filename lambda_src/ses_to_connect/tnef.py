"""Outlook's winmail.dat: its files, read with tnefparse within the message's budget.

tnefparse (imported on first use only) trusts what the stream declares: ``TNEF(data)`` copies
the rest of the stream once per object (9 MB of small objects took a minute) and loops as
many times as a property count says (a 458-byte file declaring 2**32-1 properties loops for
hours). So the stream is walked here, object by object, each handed to the library as a slice
of its own size, and only the objects that hold files are decoded. Before the library decodes
a block of MAPI properties, the block is walked as the library would walk it (linear, nothing
built), and refused when a count is larger than the data could hold, when embedded messages
nest too deep, or when one would take more objects or copying than the budget allows. The
files read before a refusal (or before damage the library cannot read) are kept.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, NamedTuple

from ses_to_connect.budget import MAX_TNEF_COPY_BYTES, MAX_TNEF_DEPTH, MAX_TNEF_OBJECTS
from ses_to_connect.model import DefectKind, Defects

if TYPE_CHECKING:
    from tnefparse.tnef import TNEFAttachment

SIGNATURE = 0x223E9F78
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
    offset, objects = 6, 0
    try:
        while offset + _MIN_OBJECT < len(data):
            objects += 1
            if objects > MAX_TNEF_OBJECTS:
                raise OverBudget("objects")
            end = _object_end(data, offset)
            obj = TNEFObject(data[offset:end], do_checksum=False)
            offset = end
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
    offset, objects = 6, 0
    while offset + _MIN_OBJECT < len(data):
        objects += 1
        if objects > MAX_TNEF_OBJECTS:
            raise OverBudget("objects")
        copied.add(len(data) - offset)  # tnefparse copies the rest of the stream for each object
        level, name = data[offset], _TYPE_AND_NAME.unpack_from(data, offset + 1)[0]
        end = _object_end(data, offset)
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
        offset = end


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
