"""The offline command's contract, run exactly as other checks run it: a subprocess.

``python -m ses_to_connect convert MESSAGE.eml --instance-id ID --connect-address ADDR ...``
prints one JSON object (outcome, reason, defects, requests) and exits 0 for every message;
unusable arguments or an unreadable file exit 2 with one line on stderr and no traceback.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ses_to_connect import convert as convert_module
from ses_to_connect.__main__ import main as cli_main
from ses_to_connect.adapters.s3 import CHUNK_BYTES
from ses_to_connect.convert import client_token
from ses_to_connect.event_builder import build_ses_event, message_id_for
from ses_to_connect.mime import ParsedMessage, parse_message
from ses_to_connect.ses_event import records
from ses_to_connect.settings import ConnectAddress, Settings
from tests.support.constants import SALES_FLOW, SUPPORT
from tests.support.mail import handwritten

from . import LAMBDA_SRC

BASE_ARGS = ("--instance-id", "i-1", "--connect-address", SUPPORT)
PLAIN = handwritten(
    [
        "From: Alice Example <alice@customer.example>",
        f"To: {SUPPORT}",
        "Subject: Where is my order?",
        "Message-ID: <cli-1@customer.example>",
        "MIME-Version: 1.0",
    ],
    "It has not arrived.\r\n",
    cte=None,
)
RICH = (
    b"From: =?utf-8?q?Jos=C3=A9_P=C3=A9rez?= <jose@customer.example>\r\n"
    b"To: support@example.com, other@customer.example\r\n"
    b"Cc: =?iso-8859-1?q?Ren=E9?= <rene@customer.example>\r\n"
    b"Subject: =?utf-8?b?w4kgdW4gcHJvYmzDqG1l?=\r\n"
    b"Message-ID: <rich-1@customer.example>\r\n"
    b"In-Reply-To: <case-7@example.com>\r\n"
    b"References: <case-6@example.com> <case-7@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Un probl\xc3\xa8me.\r\n"
    b"--b1\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Un probl\xc3\xa8me.</p>\r\n"
    b"--b1--\r\n"
)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: bytes
    stderr: str

    def json(self) -> dict[str, Any]:
        """The one JSON object on stdout; anything else there fails the test."""
        text = self.stdout.decode("utf-8")
        value, end = json.JSONDecoder().raw_decode(text)
        assert text[end:] == "\n"
        assert isinstance(value, dict)
        return value


def run_cli(*args: str | Path, cwd: Path) -> Run:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(LAMBDA_SRC),
        "LANG": "C.UTF-8",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "ses_to_connect", "convert", *map(str, args)],
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr.decode("utf-8"))


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.eml"
    path.write_bytes(PLAIN)
    return path


def test_a_plain_message_prints_its_exact_request(plain: Path, tmp_path: Path) -> None:
    run = run_cli(plain, *BASE_ARGS, cwd=tmp_path)

    assert (run.returncode, run.stderr) == (0, "")
    message_id = message_id_for(PLAIN)
    raw_uri = f"s3://ses-to-connect-mail/inbound/{message_id}"
    assert run.json() == {
        "outcome": "contact",
        "reason": None,
        "defects": [],
        "requests": [
            {
                "InstanceId": "i-1",
                "FromEmailAddress": {
                    "EmailAddress": "alice@customer.example",
                    "DisplayName": "Alice Example",
                },
                "DestinationEmailAddress": SUPPORT,
                "Name": "Where is my order?",
                "Description": "Email from Alice Example <alice@customer.example>: Where is my order?",
                "References": {
                    "rawMessage": {"Type": "STRING", "Value": raw_uri},
                    "sesMessageId": {"Type": "STRING", "Value": message_id},
                },
                "EmailMessage": {
                    "MessageSourceType": "RAW",
                    "RawMessage": {
                        "Subject": "Where is my order?",
                        "Body": "It has not arrived.\r\n",
                        "ContentType": "text/plain",
                        "Headers": {
                            "MESSAGE_ID": "<cli-1@customer.example>",
                            "X_SES_SPAM_VERDICT": "PASS",
                            "X_SES_VIRUS_VERDICT": "PASS",
                        },
                    },
                },
                "Attributes": {
                    "sesMessageId": message_id,
                    "sesEnvelopeSender": "alice@customer.example",
                    "sesRawMessage": raw_uri,
                    "sesSpamVerdict": "PASS",
                    "sesVirusVerdict": "PASS",
                    "sesSpfVerdict": "PASS",
                    "sesDkimVerdict": "PASS",
                    "sesDmarcVerdict": "PASS",
                },
                "ClientToken": client_token(message_id, SUPPORT),
            }
        ],
    }


def test_a_virus_fail_is_a_quarantine_and_still_exits_0(plain: Path, tmp_path: Path) -> None:
    run = run_cli(plain, *BASE_ARGS, "--virus", "FAIL", cwd=tmp_path)

    assert (run.returncode, run.stderr) == (0, "")
    assert run.json() == {"outcome": "quarantine", "reason": "virus:FAIL", "defects": [], "requests": []}


def test_a_dmarc_fail_with_reject_policy_is_quarantined(plain: Path, tmp_path: Path) -> None:
    run = run_cli(plain, *BASE_ARGS, "--dmarc", "FAIL", "--dmarc-policy", "reject", cwd=tmp_path)

    assert (run.returncode, run.json()["outcome"], run.json()["reason"]) == (
        0,
        "quarantine",
        "dmarc:FAIL_REJECT",
    )


def test_verdict_flags_reach_the_headers_and_attributes(plain: Path, tmp_path: Path) -> None:
    run = run_cli(
        plain,
        *BASE_ARGS,
        *("--spam", "GRAY", "--virus", "processing_failed", "--spf", "FAIL"),
        *("--dkim", "FAIL", "--dmarc", "GRAY"),
        cwd=tmp_path,
    )

    assert run.returncode == 0
    (request,) = run.json()["requests"]
    assert request["EmailMessage"]["RawMessage"]["Headers"] == {
        "MESSAGE_ID": "<cli-1@customer.example>",
        "X_SES_SPAM_VERDICT": "GRAY",
        "X_SES_VIRUS_VERDICT": "PROCESSING_FAILED",
    }
    attributes = request["Attributes"]
    assert {key: attributes[key] for key in attributes if key.endswith("Verdict")} == {
        "sesSpamVerdict": "GRAY",
        "sesVirusVerdict": "PROCESSING_FAILED",
        "sesSpfVerdict": "FAIL",
        "sesDkimVerdict": "FAIL",
        "sesDmarcVerdict": "GRAY",
    }
    assert attributes["sesPolicyFlags"] == "virus:PROCESSING_FAILED,spam:GRAY,dmarc:GRAY,spf:FAIL,dkim:FAIL"


def test_a_policy_override_changes_the_outcome(plain: Path, tmp_path: Path) -> None:
    run = run_cli(plain, *BASE_ARGS, "--spf", "FAIL", "--policy", '{"spf:FAIL": "quarantine"}', cwd=tmp_path)

    assert (run.returncode, run.json()["outcome"], run.json()["reason"]) == (0, "quarantine", "spf:FAIL")


def test_a_connect_address_may_name_its_contact_flow(tmp_path: Path) -> None:
    path = tmp_path / "to-a.eml"
    path.write_bytes(PLAIN.replace(f"To: {SUPPORT}".encode(), b"To: a@x.com"))

    run = run_cli(path, "--instance-id", "i-1", "--connect-address", f"a@x.com={SALES_FLOW}", cwd=tmp_path)

    assert run.returncode == 0
    (request,) = run.json()["requests"]
    assert (request["DestinationEmailAddress"], request["ContactFlowId"]) == ("a@x.com", SALES_FLOW)


def test_every_connect_address_given_is_an_envelope_recipient(tmp_path: Path) -> None:
    path = tmp_path / "rich.eml"
    path.write_bytes(RICH)

    run = run_cli(path, *BASE_ARGS, "--connect-address", f"sales@example.com={SALES_FLOW}", cwd=tmp_path)

    requests = run.json()["requests"]
    assert [(r["DestinationEmailAddress"], r.get("ContactFlowId")) for r in requests] == [
        (SUPPORT, None),
        ("sales@example.com", SALES_FLOW),
    ]
    assert requests[0]["ClientToken"] != requests[1]["ClientToken"]


def test_the_output_is_byte_identical_across_runs(tmp_path: Path) -> None:
    path = tmp_path / "rich.eml"
    path.write_bytes(RICH)
    other = tmp_path / "elsewhere"
    other.mkdir()

    first = run_cli(path, *BASE_ARGS, cwd=tmp_path)
    second = run_cli(path, *BASE_ARGS, cwd=other)

    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    (request,) = first.json()["requests"]
    assert request["Name"] == "É un problème"
    assert request["FromEmailAddress"] == {
        "EmailAddress": "jose@customer.example",
        "DisplayName": "José Pérez",
    }
    assert request["EmailMessage"]["RawMessage"]["ContentType"] == "text/html"
    assert (
        request["EmailMessage"]["RawMessage"]["Body"] == "<p>Un problème.</p>"
    )  # the CRLF before a boundary belongs to it
    assert request["AdditionalRecipients"] == {
        "ToAddresses": [{"EmailAddress": "other@customer.example"}],
        "CcAddresses": [{"EmailAddress": "rene@customer.example", "DisplayName": "René"}],
    }


def test_the_file_reaches_the_parser_in_chunks_and_converts_as_in_one_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command feeds the parser as the handler does (256 KiB chunks,
    never the whole file), and what it prints is what the whole message in one piece gives."""
    attachment = base64.encodebytes(b"%PDF-1.7\n" + bytes(range(256)) * 4000).decode()  # 1 MB, 1.4 MB encoded
    raw = RICH.replace(
        b"--b1--\r\n",
        b"--b1\r\nContent-Type: application/pdf; name=a.pdf\r\n"
        b"Content-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + attachment.encode()
        + b"--b1--\r\n",
    )
    path = tmp_path / "large.eml"
    path.write_bytes(raw)
    fed: list[int] = []

    def counted(chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            fed.append(len(chunk))
            yield chunk

    def spy(source: bytes | Iterable[bytes], prefer: str = "text/html") -> ParsedMessage:
        assert not isinstance(source, bytes)
        return parse_message(counted(source), prefer)

    monkeypatch.setattr(convert_module, "parse_message", spy)
    assert cli_main(["convert", str(path), *BASE_ARGS]) == 0
    streamed = json.loads(capsys.readouterr().out)
    monkeypatch.undo()

    assert sum(fed) == len(raw)
    assert fed == [CHUNK_BYTES] * (len(raw) // CHUNK_BYTES) + [len(raw) % CHUNK_BYTES]
    event = build_ses_event(raw, message_id=message_id_for(raw), recipients=[SUPPORT])
    settings = Settings(
        instance_id="i-1", connect_addresses=(ConnectAddress(SUPPORT),), mail_bucket="ses-to-connect-mail"
    )
    whole = convert_module.convert_offline(raw, records(event)[0], settings)
    assert streamed == json.loads(json.dumps(whole.as_json()))
    assert streamed["requests"][0]["Attachments"][0]["FileName"] == "a.pdf"


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\xff\xfe garbage \r\r\n\x80", b"From nobody Mon Jan  1 00:00:00 2024\nSubject: mbox\n\nhi\n"],
    ids=["empty", "binary", "mbox-from-line"],
)
def test_any_file_content_exits_0_with_one_json_object(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "odd.eml"
    path.write_bytes(content)

    run = run_cli(path, *BASE_ARGS, cwd=tmp_path)

    assert (run.returncode, run.stderr) == (0, "")
    result = run.json()
    assert set(result) == {"outcome", "reason", "defects", "requests"}
    assert result["outcome"] in {"contact", "quarantine"}
    assert (result["reason"] is None) == (result["outcome"] == "contact")


# --- unusable arguments: exit 2, one line on stderr, nothing on stdout --------------------------


def _usage_error(run: Run) -> str:
    assert run.returncode == 2
    assert run.stdout == b""
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert run.stderr.endswith("\n")
    return lines[0]


def test_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.eml"

    line = _usage_error(run_cli(missing, *BASE_ARGS, cwd=tmp_path))

    assert line == f"ses_to_connect: error: cannot read {missing}: No such file or directory"


def test_a_directory(tmp_path: Path) -> None:
    line = _usage_error(run_cli(tmp_path, *BASE_ARGS, cwd=tmp_path))

    assert line == f"ses_to_connect: error: cannot read {tmp_path}: Is a directory"


def test_a_bad_verdict_value(plain: Path, tmp_path: Path) -> None:
    line = _usage_error(run_cli(plain, *BASE_ARGS, "--spam", "MAYBE", cwd=tmp_path))

    assert line.startswith("ses_to_connect: error: argument --spam: invalid choice: 'MAYBE'")


def test_a_missing_instance_id(plain: Path, tmp_path: Path) -> None:
    line = _usage_error(run_cli(plain, "--connect-address", SUPPORT, cwd=tmp_path))

    assert line == "ses_to_connect: error: the following arguments are required: --instance-id"


def test_no_connect_address(plain: Path, tmp_path: Path) -> None:
    line = _usage_error(run_cli(plain, "--instance-id", "i-1", cwd=tmp_path))

    assert line == "ses_to_connect: error: the following arguments are required: --connect-address"


def test_an_invalid_connect_address(plain: Path, tmp_path: Path) -> None:
    line = _usage_error(
        run_cli(plain, "--instance-id", "i-1", "--connect-address", "not-an-address", cwd=tmp_path)
    )

    assert line == "ses_to_connect: error: --connect-address: 'not-an-address' is not an email address"


def test_an_empty_instance_id(plain: Path, tmp_path: Path) -> None:
    line = _usage_error(run_cli(plain, "--instance-id", "", "--connect-address", SUPPORT, cwd=tmp_path))

    assert line == (
        "ses_to_connect: error: CONNECT_INSTANCE_ID: '' is not a Connect instance id or ARN of 1-100 "
        "characters"
    )


def test_bad_policy_json(plain: Path, tmp_path: Path) -> None:
    line = _usage_error(run_cli(plain, *BASE_ARGS, "--policy", "{spf:FAIL}", cwd=tmp_path))

    assert line == (
        "ses_to_connect: error: --policy is not valid JSON: Expecting property name enclosed in double quotes"
    )


def test_policy_that_is_not_an_object(plain: Path, tmp_path: Path) -> None:
    line = _usage_error(run_cli(plain, *BASE_ARGS, "--policy", '["spf:FAIL"]', cwd=tmp_path))

    assert line == "ses_to_connect: error: --policy must be a JSON object"


def test_an_unknown_policy_rule(plain: Path, tmp_path: Path) -> None:
    line = _usage_error(run_cli(plain, *BASE_ARGS, "--policy", '{"spam:MAYBE": "deliver"}', cwd=tmp_path))

    assert line.startswith("ses_to_connect: error: --policy: unknown rule 'spam:MAYBE'; known rules: ")
    assert "virus:FAIL" in line
    assert "guard:from_connect_address" in line


def test_an_unknown_policy_action(plain: Path, tmp_path: Path) -> None:
    line = _usage_error(run_cli(plain, *BASE_ARGS, "--policy", '{"spam:FAIL": "drop"}', cwd=tmp_path))

    assert line == (
        "ses_to_connect: error: --policy: rule 'spam:FAIL' has action 'drop'; use 'deliver' or 'quarantine'"
    )
