"""The messages the benchmarks run on: generated large ones, generated small ones, the shared corpus.

Generated messages are deterministic (a seeded RNG, a fixed date) and never stored in the
repository: ``large_message(40_000_000)`` gives the same bytes on every machine. They look like
what a customer sends a contact centre: a text and an HTML body, then three base64 attachments
(pdf, png, docx) of random, incompressible bytes that make up almost all of the size.
"""

from __future__ import annotations

import base64
import io
import random
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ses_to_connect.event_builder import build_ses_event, message_id_for
from ses_to_connect.ses_event import SesRecord, records
from ses_to_connect.settings import ConnectAddress, Settings

MB = 1_000_000
SUPPORT = "support@example.com"
INSTANCE_ID = "00000000-0000-4000-8000-000000000000"
BUCKET = "ses-to-connect-mail"
SEED = 20240101
LARGE_SIZES_MB = (1, 10, 40)
# Three attachments as a customer might send them: a scan, a photo, a document.
ATTACHMENT_TYPES = (
    ("statement.pdf", "application/pdf"),
    ("photo.png", "image/png"),
    ("letter.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
)
_BOUNDARY_MIXED = "=_bench_mixed_7f3a"
_BOUNDARY_ALTERNATIVE = "=_bench_alt_91c2"
_LINE = 76  # base64 line length of RFC 2045, as base64.encodebytes writes it
# The repository's sibling folder on the team's machines; absent from a fresh clone.
DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "emails"


@dataclass(frozen=True)
class Sample:
    """One message to convert: its name, raw bytes and the SES record it arrived with."""

    name: str
    raw: bytes

    @property
    def size(self) -> int:
        return len(self.raw)

    def record(self) -> SesRecord:
        event = build_ses_event(self.raw, message_id=message_id_for(self.raw), recipients=[SUPPORT])
        return records(event)[0]


def bench_settings() -> Settings:
    """The settings every conversion benchmark uses: one Connect address, HTML bodies preferred."""
    return Settings(instance_id=INSTANCE_ID, connect_addresses=(ConnectAddress(SUPPORT),), mail_bucket=BUCKET)


def large_message(size: int, attachments: int = len(ATTACHMENT_TYPES), seed: int = SEED) -> bytes:
    """A message of about ``size`` bytes (within a few KB), nearly all of it base64 attachments.

    ``attachments`` (1 to 3) of equal size share the space: with one, a 40 MB message carries a
    single 29 MB file, larger than Connect takes, which is the worst case for memory.
    """
    rng = random.Random(f"{seed}-{size}-{attachments}")  # noqa: S311 (reproducible test data, not a secret)
    text = _paragraphs(rng, 40)
    html = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.split("\n\n")) + "</body></html>"
    head = _headers(f"Large message of {size // MB} MB", f"<large-{size}@bench.example.net>")
    parts = [
        head,
        f'Content-Type: multipart/mixed; boundary="{_BOUNDARY_MIXED}"\r\n\r\n',
        f"--{_BOUNDARY_MIXED}\r\n",
        f'Content-Type: multipart/alternative; boundary="{_BOUNDARY_ALTERNATIVE}"\r\n\r\n',
        f"--{_BOUNDARY_ALTERNATIVE}\r\n",
        _text_part("text/plain", text),
        f"--{_BOUNDARY_ALTERNATIVE}\r\n",
        _text_part("text/html", html),
        f"--{_BOUNDARY_ALTERNATIVE}--\r\n",
    ]
    prefix = "".join(parts).encode()
    attachment_headers = [_attachment_header(name, ctype) for name, ctype in ATTACHMENT_TYPES[:attachments]]
    overhead = (
        len(prefix)
        + sum(len(header) + len(f"--{_BOUNDARY_MIXED}\r\n") for header in attachment_headers)
        + len(f"--{_BOUNDARY_MIXED}--\r\n")
    )
    # Each base64 line of 76 characters plus CRLF carries 57 bytes of payload.
    encoded_each = max(0, size - overhead) // len(attachment_headers)
    payload_each = encoded_each // (_LINE + 2) * 57
    chunks = [prefix]
    for (name, _), header in zip(ATTACHMENT_TYPES, attachment_headers, strict=False):
        chunks += [
            f"--{_BOUNDARY_MIXED}\r\n".encode(),
            header.encode(),
            _base64_lines(_as_file(name, rng.randbytes(payload_each))),
        ]
    chunks.append(f"--{_BOUNDARY_MIXED}--\r\n".encode())
    return b"".join(chunks)


def small_messages(count: int, seed: int = SEED) -> Iterator[tuple[str, bytes]]:
    """``count`` everyday messages: text and HTML, every fourth with a small PDF attached."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not a secret)
    for number in range(count):
        text = _paragraphs(rng, rng.randint(2, 8))
        head = _headers(f"Question {number} about my order", f"<small-{number}@bench.example.net>")
        if number % 4:
            body = 'Content-Type: text/plain; charset="utf-8"\r\n\r\n' + text.replace("\n", "\r\n") + "\r\n"
            yield f"small-{number:04d}.eml", (head + body).encode()
            continue
        pdf = _base64_lines(_as_file("invoice.pdf", rng.randbytes(rng.randint(5_000, 60_000)))).decode()
        body = (
            f'Content-Type: multipart/mixed; boundary="{_BOUNDARY_MIXED}"\r\n\r\n'
            f"--{_BOUNDARY_MIXED}\r\n{_text_part('text/plain', text)}"
            f"--{_BOUNDARY_MIXED}\r\n{_attachment_header('invoice.pdf', 'application/pdf')}{pdf}"
            f"--{_BOUNDARY_MIXED}--\r\n"
        )
        yield f"small-{number:04d}.eml", (head + body).encode()


def corpus(folder: Path) -> list[Sample]:
    """Every ``.eml`` of the shared corpus, in name order; empty when the folder is absent."""
    if not folder.is_dir():
        return []
    return [Sample(path.name, path.read_bytes()) for path in sorted(folder.glob("*.eml"))]


def median_sample(samples: list[Sample]) -> Sample:
    """The sample of median size: what "typical mail" means in the cost estimate."""
    ordered = sorted(samples, key=lambda sample: (sample.size, sample.name))
    return ordered[(len(ordered) - 1) // 2]


def _headers(subject: str, message_id: str) -> str:
    return (
        "From: Pat Customer <pat.customer@bench.example.net>\r\n"
        f"To: Support <{SUPPORT}>\r\n"
        f"Subject: {subject}\r\n"
        "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
    )


def _text_part(content_type: str, text: str) -> str:
    body = text.replace("\n", "\r\n")
    head = f'Content-Type: {content_type}; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
    return head + f"{body}\r\n"


def _attachment_header(name: str, content_type: str) -> str:
    return (
        f'Content-Type: {content_type}; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )


def _as_file(name: str, data: bytes) -> bytes:
    """``data`` made a file of the kind ``name`` says (the bridge checks it before storing it), of
    the same length: a PDF or PNG header over its start, or a Word package holding it."""
    if name.endswith(".pdf"):
        return b"%PDF-1.7\n" + data[9:]
    if name.endswith(".png"):
        return b"\x89PNG\r\n\x1a\n" + data[8:]

    def package(content: bytes) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("[Content_Types].xml", "<Types/>")
            archive.writestr("word/document.xml", "<w:document/>")
            archive.writestr("word/media/scan.bin", content)
        return buffer.getvalue()

    return package(data[: max(0, len(data) - len(package(b"")))])


def _base64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")  # lines of 76 characters


_WORDS = (
    "order", "delivery", "invoice", "refund", "account", "payment", "please", "thanks", "regarding",
    "attached", "statement", "photo", "letter", "received", "missing", "wrong", "address", "number",
    "reference", "week", "yesterday", "today", "could", "would", "help", "support", "question",
    "update", "status", "customer",
)  # fmt: skip


def _paragraphs(rng: random.Random, count: int) -> str:
    return "\n\n".join(
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(20, 60))).capitalize() + "."
        for _ in range(count)
    )
