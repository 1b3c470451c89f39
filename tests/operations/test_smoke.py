"""``python -m operations smoke`` on the local pipeline: moto's server, the real handler, the emulator.

moto sends the email but has no inbound SES; ``DeliveringSes`` does what SES receiving does,
the way ``local_pipeline`` does it everywhere else: replace the Message-ID (SES sets its own),
store the message under the inbound prefix and invoke the function asynchronously.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from ses_to_connect_tools.local_pipeline.aws import BUCKET, INSTANCE_ID, THREADS_TABLE, LocalAws, local_aws
from ses_to_connect_tools.local_pipeline.lambda_runtime import AsyncLambda
from ses_to_connect_tools.local_pipeline.ses import Receipt, receive
from ses_to_connect_tools.operations import __main__ as cli
from ses_to_connect_tools.operations.deployment import Clients, load_config
from ses_to_connect_tools.operations.smoke import _PDF, SmokeFailed, smoke, smoke_message

SENDER = "smoke@example.org"
ADDRESSES = ("support@example.com", "billing@example.com")  # cdk.json's
INSTANCE = f"connectInstanceArn=arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE_ID}"


class DeliveringSes:
    """moto's SES client for sending, plus SES receiving for the mail it sends."""

    def __init__(
        self, aws: LocalAws, *, deliver: bool = True, verdicts: Mapping[str, str] | None = None
    ) -> None:
        self._aws = aws
        self._ses = aws.client("ses")
        self._deliver = deliver
        self._verdicts = dict(verdicts or {})
        self.deliveries: list[threading.Thread] = []

    def send_raw_email(self, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = self._ses.send_raw_email(**params)
        if self._deliver:
            raw = f"Message-ID: <{response['MessageId']}@email.amazonses.com>\r\n".encode()
            raw += params["RawMessage"]["Data"]
            # A little later, as SES would: the smoke test has to wait for it.
            delivery = threading.Timer(0.5, self._receive, (raw, list(params["Destinations"])))
            delivery.start()
            self.deliveries.append(delivery)
        return response

    def _receive(self, raw: bytes, recipients: list[str]) -> None:
        from ses_to_connect import handler  # noqa: PLC0415

        event = receive(
            raw,
            name=hashlib.sha256(raw).hexdigest(),
            receipt=Receipt(verdicts=self._verdicts, recipients=recipients),
            connect_addresses=self._aws.addresses,
            s3_client=self._aws.client("s3"),
            bucket=BUCKET,
        )
        AsyncLambda(
            handler.lambda_handler,
            sqs_client=self._aws.client("sqs"),
            failure_queue_url=self._aws.failure_queue_url,
            sleep=lambda _s: None,
        ).invoke(event)


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    from ses_to_connect import handler  # noqa: PLC0415

    with local_aws(addresses=ADDRESSES) as running:
        handler.pipeline.cache_clear()
        running.client("ses").verify_domain_identity(Domain="example.org")
        running.client("cloudformation").create_stack(
            StackName="SesToConnect",
            TemplateBody=json.dumps(
                {
                    "Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                    "Outputs": {
                        "MailBucketName": {"Value": BUCKET},
                        "ThreadsTableName": {"Value": THREADS_TABLE},
                    },
                }
            ),
        )
        yield running
        handler.pipeline.cache_clear()


def _clients(aws: LocalAws, ses: Any) -> Clients:
    return Clients(
        connect=aws.client("connect"),
        ses=ses,
        ssm=aws.client("ssm"),
        lambda_=aws.client("lambda"),
        cloudformation=aws.client("cloudformation"),
        s3=aws.client("s3"),
        dynamodb=aws.client("dynamodb"),
    )


def _run(aws: LocalAws, ses: Any, *overrides: str, timeout: float = 30, sender: str = SENDER) -> Any:
    config = load_config([INSTANCE, *overrides])
    return smoke(config, _clients(aws, ses), sender=sender, timeout_seconds=timeout, poll_seconds=0.2)


def test_the_smoke_email_becomes_a_contact_with_its_pdf(aws: LocalAws) -> None:
    assert aws.emulator is not None
    result = _run(aws, DeliveringSes(aws))
    (contact,) = [c for c in aws.emulator.contacts() if c.contact_id == result.contact_id]
    assert contact.params["DestinationEmailAddress"] == "support@example.com"
    assert contact.params["Attributes"]["sesMessageId"] == result.message_id
    (attachment,) = contact.attachments
    assert (attachment.file_name, attachment.sha256) == (result.attachment, hashlib.sha256(_PDF).hexdigest())
    assert result.attachment_status == "APPROVED"
    assert result.attachment.startswith("smoke-") and result.attachment.endswith(".pdf")


def test_the_message_is_marked_and_carries_a_real_pdf() -> None:
    raw, file_name = smoke_message(SENDER, "support@example.com", "0123456789abcdef")
    assert b"X-Ses-To-Connect-Smoke: 0123456789abcdef" in raw
    assert file_name == "smoke-01234567.pdf"
    assert _PDF.startswith(b"%PDF-1.4") and _PDF.rstrip().endswith(b"%%EOF")


def test_a_quarantined_smoke_email_says_why(aws: LocalAws) -> None:
    with pytest.raises(SmokeFailed, match=r"the function quarantined the test email \(spam:FAIL\)"):
        _run(aws, DeliveringSes(aws, verdicts={"spam": "FAIL"}))


def test_mail_that_never_arrives_fails_within_the_timeout(aws: LocalAws) -> None:
    with pytest.raises(SmokeFailed, match=r"SES did not store the test email under inbound/ .* within 1 s"):
        _run(aws, DeliveringSes(aws, deliver=False), timeout=1)


def test_an_attachment_connect_refuses_is_reported(aws: LocalAws) -> None:
    assert aws.emulator is not None
    aws.emulator.inject_errors("InvalidRequestException", reason="INVALID_FILE_TYPE")
    with pytest.raises(SmokeFailed, match=r"was created without the attachment: smoke-\w{8}\.pdf \(rejected"):
        _run(aws, DeliveringSes(aws))


def test_an_undeployed_stack_and_a_refused_sender(aws: LocalAws) -> None:
    with pytest.raises(SmokeFailed, match="stack Other is not deployed"):
        _run(aws, DeliveringSes(aws), "stackName=Other")
    with pytest.raises(SmokeFailed, match=r"SES did not send the test email: MessageRejected"):
        _run(aws, DeliveringSes(aws), sender="nobody@unverified.example")
    with pytest.raises(SmokeFailed, match="is not one of the configured connectAddresses"):
        smoke(load_config([INSTANCE]), _clients(aws, None), sender=SENDER, recipient="x@example.com")


def test_command_line(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        Clients, "for_config", classmethod(lambda _cls, _c: _clients(aws, DeliveringSes(aws)))
    )
    assert cli.main(["smoke", "--sender", SENDER, "--to", "billing@example.com", "-c", INSTANCE]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("contact ") and "(SES message " in first
    assert second.endswith(": went with the contact (APPROVED in Connect)")
    assert cli.main(["smoke", "--sender", SENDER, "-c", INSTANCE, "-c", "stackName=Other"]) == 1
    assert capsys.readouterr().err.startswith("smoke test failed: stack Other is not deployed")
