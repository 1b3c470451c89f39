"""Messages, SES records and settings built in the tests, so each test shows its whole input."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ses_to_connect import charsets
from ses_to_connect.convert import convert
from ses_to_connect.event_builder import build_ses_event
from ses_to_connect.model import Conversion
from ses_to_connect.ses_event import SesRecord, records
from ses_to_connect.settings import ConnectAddress, Settings

if TYPE_CHECKING:
    import pytest
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"  # what a subprocess puts on its path
SUPPORT = "support@example.com"
SALES = "sales@example.com"
SALES_FLOW = "22222222-aaaa-bbbb-cccc-333333333333"  # a flow id: Connect's ids are lowercase UUIDs
MESSAGE_ID = "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"


def eml(
    headers: Sequence[tuple[str, str]] | None = None,
    body: str = "Hello there",
    *,
    content_type: str = "text/plain; charset=utf-8",
    cte: str = "8bit",
) -> bytes:
    """A single-part message written by hand (so tests can include broken headers)."""
    if headers is None:
        headers = [("From", "Customer <customer@example.org>"), ("To", SUPPORT), ("Subject", "Help")]
    lines = [f"{name}: {value}" for name, value in headers]
    lines += [f"Content-Type: {content_type}", f"Content-Transfer-Encoding: {cte}", "", body]
    return "\r\n".join(lines).encode("utf-8", "surrogateescape")


def multipart(
    *,
    text: str | None = "plain body",
    html: str | None = "<p>html body</p>",
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    for name, value in (
        headers or {"From": "Customer <customer@example.org>", "To": SUPPORT, "Subject": "Help"}
    ).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    return message


def record(
    raw: bytes,
    *,
    recipients: Sequence[str] = (SUPPORT,),
    verdicts: Mapping[str, str] | None = None,
    dmarc_policy: str | None = None,
    source: str | None = "customer@example.org",
) -> SesRecord:
    event = build_ses_event(
        raw,
        message_id=MESSAGE_ID,
        recipients=recipients,
        verdicts=verdicts,
        dmarc_policy=dmarc_policy,
        source=source,
    )
    return records(event)[0]


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "instance_id": "11111111-2222-3333-4444-555555555555",
        "connect_addresses": (ConnectAddress(SUPPORT), ConnectAddress(SALES, SALES_FLOW)),
        "mail_bucket": "mail-bucket",
    }
    values.update(overrides)
    return Settings(**values)


def run(raw: bytes | EmailMessage, *, config: Settings | None = None, **record_args: Any) -> Conversion:
    data = raw.as_bytes() if isinstance(raw, EmailMessage) else raw
    return convert(data, record(data, **record_args), config or settings())


def only_request(conversion: Conversion) -> StartEmailContactRequestTypeDef:
    assert conversion.outcome.value == "contact", conversion
    assert len(conversion.requests) == 1
    return conversion.requests[0]


def raw_message(request: Mapping[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = request["EmailMessage"]["RawMessage"]
    return message


def count_detections(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bytes given to statistical charset detection from now on, one entry a detection."""
    calls: list[bytes] = []
    detect = charsets._detect

    def counting(data: bytes) -> str | None:
        calls.append(data)
        return detect(data)

    monkeypatch.setattr(charsets, "_detect", counting)
    return calls


def fresh_interpreter(script: str, stdin: bytes = b"") -> list[str]:
    """The words ``script`` prints in a new interpreter that sees the function's code and the tests,
    nothing this process imported: how the tests check what the handler imports, and when."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{LAMBDA_SRC}{os.pathsep}{LAMBDA_SRC.parent}"}
    done = subprocess.run(
        [sys.executable, "-c", script], input=stdin, env=env, capture_output=True, check=True
    )
    return done.stdout.decode().split()
