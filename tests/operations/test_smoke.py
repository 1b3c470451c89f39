"""``python -m operations smoke`` on the local pipeline: moto's server, the real handler, the emulator.

moto sends the email but has no inbound SES; ``DeliveringSes`` does what SES receiving does,
the way ``local_pipeline`` does it everywhere else: replace the Message-ID (SES sets its own),
store the message under the inbound prefix and invoke the function asynchronously. The
emulator's agent replies go through the same SES (``DeliveringSes.outbound``), as Connect's
go through SES: to the smoke mailbox, which the function quarantines (no Connect address).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from email import message_from_bytes
from typing import Any

import pytest

from ses_to_connect_tools.local_pipeline.agent_replies import Stored, Threading
from ses_to_connect_tools.local_pipeline.aws import BUCKET, INSTANCE_ID, THREADS_TABLE, LocalAws, local_aws
from ses_to_connect_tools.local_pipeline.lambda_runtime import AsyncLambda
from ses_to_connect_tools.local_pipeline.ses import Receipt, receive
from ses_to_connect_tools.operations import __main__ as cli
from ses_to_connect_tools.operations.deployment import Clients, load_config
from ses_to_connect_tools.operations.smoke import _PDF, SmokeFailed, answer_message, smoke, smoke_message

SENDER = "smoke@example.org"
ADDRESSES = ("support@example.com", "billing@example.com")  # cdk.json's
INSTANCE = f"connectInstanceArn=arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE_ID}"
MAILBOX = "smoke-replies@example.com"  # on the receiving domain, no Connect address
WITH_MAILBOX = f"smokeMailbox={MAILBOX}"
AGENT = "agent-0001"


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

    def outbound(self, raw: bytes, recipients: list[str]) -> None:
        """An email Connect sends for an agent's reply: received by SES when it is for this domain."""
        ours = [r for r in recipients if r.lower().endswith("@example.com")]
        if self._deliver and ours:
            delivery = threading.Timer(0.5, self._receive, (raw, ours))
            delivery.start()
            self.deliveries.append(delivery)

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
                    "Resources": {"H": {"Type": "AWS::SNS::Topic"}},
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


def _run(
    aws: LocalAws,
    ses: Any,
    *overrides: str,
    timeout: float = 30,
    sender: str = SENDER,
    agent_id: str | None = None,
) -> Any:
    config = load_config([INSTANCE, *overrides])
    return smoke(
        config,
        _clients(aws, ses),
        sender=sender,
        agent_id=agent_id,
        timeout_seconds=timeout,
        poll_seconds=0.2,
    )


@pytest.fixture(autouse=True)
def connect_replies(aws: LocalAws) -> Iterator[None]:
    """Each test chooses how Connect's agent replies look and where they go; none leaks to the next."""
    assert aws.emulator is not None
    aws.emulator.set_agent_replies()
    yield
    aws.emulator.set_agent_replies()
    aws.emulator.agent_replies.outbound = None


def _replying(
    aws: LocalAws, threading_reading: Threading = "headers", stored: Stored = "mime"
) -> DeliveringSes:
    """SES for the test's mail and for the agent's replies Connect sends, under one reading."""
    assert aws.emulator is not None
    ses = DeliveringSes(aws)
    aws.emulator.set_agent_replies(threading_reading, stored)
    aws.emulator.agent_replies.outbound = ses.outbound
    return ses


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
    first, second, third = capsys.readouterr().out.splitlines()
    assert first.startswith("contact ") and "(SES message " in first
    assert second.endswith(": went with the contact (APPROVED in Connect)")
    assert third == "agent-reply thread: not checked (give --agent-id, with smokeMailbox configured)"
    assert cli.main(["smoke", "--sender", SENDER, "-c", INSTANCE, "-c", "stackName=Other"]) == 1
    assert capsys.readouterr().err.startswith("smoke test failed: stack Other is not deployed")


@pytest.mark.parametrize(
    ("threading_reading", "stored", "match"),
    [("headers", "mime", "references"), ("headers", "json", "references"), ("none", "mime", "agent-reply")],
)
def test_the_answer_to_an_agents_reply_joins_the_thread(
    aws: LocalAws, threading_reading: Threading, stored: Stored, match: str
) -> None:
    assert aws.emulator is not None
    result = _run(aws, _replying(aws, threading_reading, stored), WITH_MAILBOX, agent_id=AGENT)
    thread = result.thread
    assert thread is not None and thread.match == match
    (reply,) = [r for r in aws.emulator.agent_replies.replies() if r.contact_id == thread.reply_contact_id]
    assert reply.params["RelatedContactId"] == result.contact_id
    assert reply.params["UserInfo"] == {"UserId": AGENT}
    assert thread.reply_message_id.endswith("@email.amazonses.com>")
    if threading_reading == "headers":
        (first,) = [c for c in aws.emulator.contacts() if c.contact_id == result.contact_id]
        assert thread.reply_in_reply_to == first.params["EmailMessage"]["RawMessage"]["Headers"]["MESSAGE_ID"]
    else:
        assert (thread.reply_in_reply_to, thread.reply_references) == (None, None)
    (answer,) = [c for c in aws.emulator.contacts() if c.contact_id == thread.answer_contact_id]
    assert answer.params["RelatedContactId"] == result.contact_id
    assert answer.params["Attributes"]["sesThreadMatch"] == match
    headers = answer.params["EmailMessage"]["RawMessage"]["Headers"]
    assert headers["IN_REPLY_TO"] == thread.reply_message_id
    assert headers["REFERENCES"].endswith(thread.reply_message_id)


def test_an_answer_nothing_links_fails_and_shows_what_connect_sent(aws: LocalAws) -> None:
    with pytest.raises(
        SmokeFailed, match=r"not linked to .* \(RelatedContactId absent, sesThreadMatch absent\)"
    ):
        _run(aws, _replying(aws, "none", "json"), WITH_MAILBOX, agent_id=AGENT)


def test_an_agents_reply_that_never_arrives_fails_within_the_timeout(aws: LocalAws) -> None:
    ses = _replying(aws)
    assert aws.emulator is not None
    aws.emulator.agent_replies.outbound = None  # Connect accepts the reply but nothing reaches SES
    with pytest.raises(SmokeFailed, match=rf"never reached {MAILBOX} under inbound/ within 5 s"):
        _run(aws, ses, WITH_MAILBOX, agent_id=AGENT, timeout=5)


def test_the_agent_step_needs_a_smoke_mailbox_and_a_reply_connect_accepts(aws: LocalAws) -> None:
    with pytest.raises(SmokeFailed, match="the agent-reply step needs smokeMailbox"):
        _run(aws, _replying(aws), agent_id=AGENT)
    with pytest.raises(SmokeFailed, match="Connect refused the agent's reply to contact"):
        _run(aws, _replying(aws), WITH_MAILBOX, agent_id="")  # no user: refused before it is sent


def test_without_an_agent_the_thread_is_not_checked(aws: LocalAws) -> None:
    assert _run(aws, _replying(aws), WITH_MAILBOX).thread is None


def test_the_answer_is_threaded_as_a_mail_client_threads_it() -> None:
    reply = message_from_bytes(
        b"Subject: Re: hello\r\nMessage-ID: <r@ses>\r\nReferences: <a@x>\r\n <b@x>\r\n\r\nbody"
    )
    answer = message_from_bytes(answer_message(SENDER, "support@example.com", "t-answer", reply))
    assert (answer["In-Reply-To"], answer["References"], answer["Subject"]) == (
        "<r@ses>",
        "<a@x> <b@x> <r@ses>",
        "Re: Re: hello",
    )
    bare = message_from_bytes(
        answer_message(SENDER, "support@example.com", "t", message_from_bytes(b"Message-ID: <r@ses>\r\n\r\n"))
    )
    assert bare["References"] == "<r@ses>"


def test_command_line_reports_the_agent_reply_thread(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ses = _replying(aws, "none", "mime")
    monkeypatch.setattr(Clients, "for_config", classmethod(lambda _cls, _c: _clients(aws, ses)))
    argv = ["smoke", "--sender", SENDER, "--agent-id", AGENT, "-c", INSTANCE, "-c", WITH_MAILBOX]
    assert cli.main(argv) == 0
    *_, thread = capsys.readouterr().out.splitlines()
    assert thread.startswith("agent-reply thread: the answer's contact ")
    assert "(sesThreadMatch agent-reply)" in thread and "In-Reply-To none, References none" in thread
