"""``ses-to-connect preflight|smoke|redrive|replay ...``: the operators' tools (docs/operations.md).

``python -m operations ...`` in this repository is the same (the ``operations.py`` shim). Each command
reads the deployment's configuration as ``cdk synth`` does (:mod:`ses_to_connect_tools.configuration`)
and calls AWS in its regions: no region comes from the environment.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import boto3
from botocore.exceptions import NoCredentialsError, NoRegionError

from ses_to_connect.__main__ import OneLineParser
from ses_to_connect_cdk.config import BridgeConfig, ConfigError
from ses_to_connect_tools.configuration import add_config_arguments, config_from_args
from ses_to_connect_tools.operations.deployment import Clients
from ses_to_connect_tools.operations.invoke import InvocationFailed, Invoker, LambdaInvoker, LocalInvoker
from ses_to_connect_tools.operations.preflight import preflight, render
from ses_to_connect_tools.operations.redrive import redrive
from ses_to_connect_tools.operations.replay import ReplayError, replay
from ses_to_connect_tools.operations.smoke import SmokeFailed, SmokeResult, smoke

PROG = "python -m operations"


def _invoker(args: argparse.Namespace, config: BridgeConfig) -> Invoker:
    if args.local:
        return LocalInvoker()
    return LambdaInvoker(boto3.client("lambda", region_name=config.region), args.function_name)


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    parser = OneLineParser(prog=prog)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, text in (
        ("redrive", "run failure-queue entries again"),
        ("replay", "replay one stored message"),
    ):
        sub = commands.add_parser(name, help=text)
        target = sub.add_mutually_exclusive_group(required=True)
        target.add_argument("--function-name", help="the deployed function (synchronous invocation)")
        target.add_argument(
            "--local", action="store_true", help="the handler in this process (its environment)"
        )
    redrive_cmd = commands.choices["redrive"]
    redrive_cmd.add_argument("--queue-url", required=True)
    redrive_cmd.add_argument("--max", type=int, help="at most this many entries")
    replay_cmd = commands.choices["replay"]
    replay_cmd.add_argument("--bucket", required=True)
    replay_cmd.add_argument("--key", required=True, help="inbound/<messageId> or quarantine/<messageId>")
    replay_cmd.add_argument("--reason", required=True, help="why; recorded on the contact")
    replay_cmd.add_argument(
        "--deliver", action="store_true", help="deliver even if the policy quarantines it"
    )
    replay_cmd.add_argument(
        "--recipient", action="append", default=[], help="envelope recipient (repeatable)"
    )
    preflight_cmd = commands.add_parser("preflight", help="read-only checks before (or after) a deploy")
    preflight_cmd.add_argument(
        "--deployed", action="store_true", help="the stack is deployed: its receipt rule must exist"
    )
    smoke_cmd = commands.add_parser("smoke", help="after a deploy: one email with a PDF through to Connect")
    smoke_cmd.add_argument("--sender", required=True, help="a verified SES identity to send from")
    smoke_cmd.add_argument("--to", help="the Connect address to send to (default: the first configured)")
    smoke_cmd.add_argument("--timeout", type=float, default=300, help="seconds to wait in all (default 300)")
    smoke_cmd.add_argument(
        "--agent-id",
        help="a user of the instance to send an agent's reply as (to smokeMailbox): checks that the answer "
        "to it joins the thread",
    )
    for sub in commands.choices.values():
        add_config_arguments(sub)
    args = parser.parse_args(argv)
    name = prog.removeprefix("python -m ")
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if boto3.Session().get_credentials() is None:
        print(
            f"{name}: error: no AWS credentials found: configure them as for the AWS CLI "
            "(AWS_PROFILE, aws configure, aws sso login, or the instance's role)",
            file=sys.stderr,
        )
        return 2
    try:
        return _run(args, config)
    except NoCredentialsError as exc:  # found at first, then unusable (an expired SSO session...)
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    except NoRegionError as exc:  # every client is given the configuration's region: a bug if it happens
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, config: BridgeConfig) -> int:
    if args.command == "preflight":
        checks = preflight(config, Clients.for_config(config), deployed=args.deployed)
        print(render(checks))
        return 0 if all(check.passed for check in checks) else 1
    if args.command == "smoke":
        try:
            outcome = smoke(
                config,
                Clients.for_config(config),
                sender=args.sender,
                recipient=args.to,
                agent_id=args.agent_id,
                timeout_seconds=args.timeout,
            )
        except SmokeFailed as exc:
            print(f"smoke test failed: {exc}", file=sys.stderr)
            return 1
        _print_smoke(outcome)
        return 0

    if args.command == "redrive":
        sqs = boto3.client("sqs", region_name=config.region)
        report = redrive(sqs, args.queue_url, _invoker(args, config), limit=args.max)
        print(
            json.dumps(
                {"succeeded": report.succeeded, "failed": report.failed, "unreadable": report.unreadable},
                indent=2,
            )
        )
        return 1 if report.failed or report.unreadable else 0
    try:
        result = replay(
            boto3.client("s3", region_name=config.region),
            args.bucket,
            args.key,
            _invoker(args, config),
            reason=args.reason,
            deliver=args.deliver,
            recipients=args.recipient,
        )
    except (ReplayError, InvocationFailed) as exc:
        print(f"replay failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def _print_smoke(outcome: SmokeResult) -> None:
    print(f"contact {outcome.contact_id} (SES message {outcome.message_id})")
    print(f"attachment {outcome.attachment}: went with the contact ({outcome.attachment_status} in Connect)")
    thread = outcome.thread
    if thread is None:
        print("agent-reply thread: not checked (give --agent-id, with smokeMailbox configured)")
    else:
        print(
            f"agent-reply thread: the answer's contact {thread.answer_contact_id} is linked "
            f"(sesThreadMatch {thread.match}); Connect's reply {thread.reply_contact_id} was sent with "
            f"Message-ID {thread.reply_message_id}, In-Reply-To {thread.reply_in_reply_to or 'none'}, "
            f"References {thread.reply_references or 'none'}"
        )


if __name__ == "__main__":
    sys.exit(main())
