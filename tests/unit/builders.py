"""SES records, settings and conversions built in the unit tests, so each test shows its whole input
(the messages themselves come from ``tests.support.mail``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from ses_to_connect import charsets
from ses_to_connect.convert import convert_offline
from ses_to_connect.event_builder import build_ses_event
from ses_to_connect.model import Conversion
from ses_to_connect.ses_event import SesRecord, records
from ses_to_connect.settings import ConnectAddress, Settings
from tests.support.constants import CUSTOMER, INSTANCE_ID, LAMBDA_SRC, MESSAGE_ID, SALES, SALES_FLOW, SUPPORT

if TYPE_CHECKING:
    import pytest
    from mypy_boto3_connect.type_defs import StartEmailContactRequestTypeDef


def record(
    raw: bytes,
    *,
    recipients: Sequence[str] = (SUPPORT,),
    verdicts: Mapping[str, str] | None = None,
    dmarc_policy: str | None = None,
    source: str | None = CUSTOMER,
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
        "instance_id": INSTANCE_ID,
        "connect_addresses": (ConnectAddress(SUPPORT), ConnectAddress(SALES, SALES_FLOW)),
        "mail_bucket": "mail-bucket",
    }
    values.update(overrides)
    return Settings(**values)


def run(raw: bytes | EmailMessage, *, config: Settings | None = None, **record_args: Any) -> Conversion:
    data = raw.as_bytes() if isinstance(raw, EmailMessage) else raw
    return convert_offline(data, record(data, **record_args), config or settings())


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
