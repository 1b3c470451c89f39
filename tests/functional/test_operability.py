"""What the function tells operators: each pre-signed URL's length, and X-Ray traces when asked."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

import ses_to_connect
from ses_to_connect.event_builder import build_ses_event
from tests.support.constants import SUPPORT
from tests.support.environment import function_environment
from tests.support.mail import handwritten

from . import LAMBDA_SRC, REPO_ROOT, Bridge, emf_metrics

MESSAGE_ID = "opsurllength0000000000000000000000000001"
PDF = b"%PDF-1.4\n%operability\n"


def _with_pdf() -> bytes:
    return (
        handwritten(
            [
                "From: Dana <dana@customer.example>",
                f"To: {SUPPORT}",
                "Subject: invoice",
                "Message-ID: <ops-url@customer.example>",
                "MIME-Version: 1.0",
            ],
            "",
            content_type='multipart/mixed; boundary="b"',
            cte=None,
        )
        + b"--b\r\nContent-Type: text/plain\r\n\r\nAttached.\r\n--b\r\n"
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(PDF) + b"\r\n--b--\r\n"
    )


def test_each_presigned_url_length_is_logged_and_becomes_a_metric(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = _with_pdf()
    bridge.store(raw, MESSAGE_ID)
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})

    bridge.invoke(build_ses_event(raw, message_id=MESSAGE_ID, recipients=[SUPPORT]))

    (request,) = bridge.sent
    length = len(request["Attachments"][0]["S3Url"])
    stored = [r for r in bridge.log_records() if r["message"] == "attachment stored"]
    assert [r["url_length"] for r in stored] == [length]
    assert emf_metrics(capsys.readouterr().out)["AttachmentUrlLength"] == [float(length)]


# A fresh interpreter: the X-Ray SDK patches botocore for the whole process, which must not leak
# into the other tests. The script runs the real handler on moto with tracing on, as in Lambda.
_TRACED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from moto import mock_aws
    with mock_aws():
        from ses_to_connect import handler
        from ses_to_connect.event_builder import build_ses_event
        from ses_to_connect_tools.local_pipeline.lambda_runtime import LambdaContext
        raw = b"Subject: x\\r\\n\\r\\nbody\\r\\n"
        event = build_ses_event(raw, message_id="missing", recipients=[sys.argv[1]])
        try:
            handler.lambda_handler(event, LambdaContext())
        except Exception as exc:
            print(json.dumps({"raised": type(exc).__name__}))
    """
)


@pytest.mark.parametrize("tracing", ["true", "false"])
def test_tracing_sends_the_handler_and_each_aws_call_to_xray(tracing: str) -> None:
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(0.5)
    port = daemon.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN"))},
        "PYTHONPATH": f"{LAMBDA_SRC}{os.pathsep}{REPO_ROOT}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "ses-to-connect",
        "LAMBDA_TASK_ROOT": str(LAMBDA_SRC),  # what Powertools Tracer takes for "running in Lambda"
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
        **function_environment(
            {
                "connectInstanceId": "11111111-2222-3333-4444-555555555555",
                "connectAddresses": [{"address": SUPPORT}],
                "metricsNamespace": "Test",
                "tracing": tracing,
            },
            bucket="no-such-bucket",
        ),
    }
    done = subprocess.run(
        [sys.executable, "-c", _TRACED_SCRIPT, SUPPORT],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"raised": "StorageError"}
    documents = []
    try:
        while True:
            header, _, body = daemon.recv(65536).decode().partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            documents.append(json.loads(body))
    except TimeoutError:
        pass
    finally:
        daemon.close()
    if tracing == "false":
        assert documents == []
        return
    every = list(_walk(documents))
    assert "## _handle" in {d["name"] for d in documents}  # Powertools Tracer's subsegment
    (s3_call,) = [d for d in every if d["name"] == "s3"]
    assert (s3_call["aws"]["operation"], s3_call["namespace"]) == ("GetObject", "aws")
    assert s3_call["aws"]["key"] == "inbound/missing"
    assert {d["trace_id"] for d in documents} == {"1-5759e988-bd862e3fe1be46a994272793"}


def _walk(documents: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for document in documents:
        yield document
        yield from _walk(document.get("subsegments", []))


def test_every_log_line_names_the_release(bridge: Bridge) -> None:
    """The function reports ses_to_connect.__version__, the package's one version, with no dist
    metadata: the code asset has none."""
    raw = _with_pdf()
    bridge.store(raw, MESSAGE_ID)
    bridge.stubber.add_response("start_email_contact", {"ContactId": "contact-1"})

    bridge.invoke(build_ses_event(raw, message_id=MESSAGE_ID, recipients=[SUPPORT]))

    records = bridge.log_records()
    assert records
    assert {r.get("version") for r in records} == {ses_to_connect.__version__}
