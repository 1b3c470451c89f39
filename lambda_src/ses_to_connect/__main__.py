"""Offline conversion: ``ses-to-connect convert MESSAGE.eml --instance-id ID --connect-address A``.

(``python -m ses_to_connect convert ...`` is the same command without the installed ``ses-to-connect``.)

Prints one JSON object: ``{"outcome", "reason", "defects", "requests"}``, the requests exactly as
they would be passed to boto3. Exit 0 for every message whatever its outcome; exit 2 with one
line on stderr for unusable arguments or an unreadable file. When the reader of stdout goes away
(``convert ... | head``) it ends quietly.

The file is read in chunks and fed to the parser in chunks, as the handler reads S3: it is
never held whole, so a 40 MB message costs what it costs in the function.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn

from ses_to_connect.adapters.s3 import CHUNK_BYTES
from ses_to_connect.convert import convert_offline
from ses_to_connect.errors import SettingsError
from ses_to_connect.event_builder import build_ses_event, message_id_for
from ses_to_connect.ses_event import VERDICT_NAMES, records
from ses_to_connect.settings import (
    BodyPreference,
    ConnectAddress,
    Settings,
    policy_with_overrides,
)

STATUSES = ("PASS", "FAIL", "GRAY", "PROCESSING_FAILED")
HEADER_LIMIT = 1024 * 1024  # a header longer than this is cut in the event (SES truncates too)


PROG = "python -m ses_to_connect"


class OneLineParser(argparse.ArgumentParser):
    """Unusable arguments: one line on stderr (not the usage block) and exit 2."""

    def error(self, message: str) -> NoReturn:
        _fail(message, self.prog)


def _fail(message: str, prog: str) -> NoReturn:
    """One line on stderr, named after the command (``ses_to_connect`` for ``python -m ses_to_connect``)."""
    print(f"{prog.removeprefix('python -m ').split()[0]}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = OneLineParser(prog=prog)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    cmd = commands.add_parser("convert", help="convert one .eml file into StartEmailContact requests")
    cmd.add_argument("message", help="path of a raw MIME message (.eml)")
    cmd.add_argument("--instance-id", required=True, help="Connect instance id or ARN")
    cmd.add_argument(
        "--connect-address",
        action="append",
        required=True,
        dest="connect_addresses",
        metavar="ADDR[=FLOW_ID]",
        help="a Connect email address (repeatable), optionally =flow id",
    )
    for name in VERDICT_NAMES:
        cmd.add_argument(
            f"--{name}",
            type=str.upper,
            choices=STATUSES,
            default="PASS",
            help=f"SES {name} verdict (default PASS)",
        )
    cmd.add_argument(
        "--dmarc-policy",
        choices=("none", "quarantine", "reject"),
        default="none",
        help="published DMARC policy, used when --dmarc FAIL (default none)",
    )
    cmd.add_argument("--bucket", default="ses-to-connect-mail", help="mail bucket named in references")
    cmd.add_argument(
        "--body",
        choices=[p.value for p in BodyPreference],
        default="html",
        help="preferred body part (default html)",
    )
    cmd.add_argument("--prefer-reply-to", action="store_true", help="customer address from Reply-To")
    cmd.add_argument(
        "--policy", default="{}", help='JSON policy overrides, e.g. \'{"spf:FAIL": "quarantine"}\''
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    args = _parser(prog).parse_args(argv)
    try:
        message_id = message_id_for(_chunks(args.message))
        head = _header_block(args.message)
    except OSError as exc:
        _fail(f"cannot read {args.message}: {exc.strerror or exc}", prog)
    try:
        overrides = json.loads(args.policy)
        if not isinstance(overrides, dict):
            _fail("--policy must be a JSON object", prog)
        problems: list[str] = []
        policy = policy_with_overrides(overrides, problems)
        if problems:
            raise SettingsError(problems)
        addresses = [ConnectAddress.parse(a) for a in args.connect_addresses]
        settings = Settings(
            instance_id=args.instance_id,
            connect_addresses=tuple(addresses),
            mail_bucket=args.bucket,
            body_preference=BodyPreference(args.body),
            prefer_reply_to=args.prefer_reply_to,
            policy=policy,
        )
    except json.JSONDecodeError as exc:
        _fail(f"--policy is not valid JSON: {exc.msg}", prog)
    except SettingsError as exc:
        # In the command's own words: the problem quotes the value, so the entry's index is left out.
        message = re.sub(r"CONNECT_ADDRESSES(\[\d+\])?", "--connect-address", "; ".join(exc.problems))
        _fail(message.replace("VERDICT_POLICY", "--policy"), prog)
    event = build_ses_event(
        head,
        message_id=message_id,
        recipients=[a.address for a in addresses],
        verdicts={name: getattr(args, name) for name in VERDICT_NAMES},
        dmarc_policy=args.dmarc_policy,
    )
    try:
        conversion = convert_offline(_chunks(args.message), records(event)[0], settings)
    except OSError as exc:  # the file changed or vanished since it was first read
        _fail(f"cannot read {args.message}: {exc.strerror or exc}", prog)
    json.dump(conversion.as_json(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def _chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def _header_block(path: str) -> bytes:
    """The message's first bytes, through the blank line that ends its header (SES puts the
    header, not the body, in the event), at most HEADER_LIMIT bytes."""
    head = b""
    for chunk in _chunks(path):
        head += chunk
        if b"\n\n" in head or b"\n\r\n" in head or len(head) >= HEADER_LIMIT:
            break
    return head[:HEADER_LIMIT]


def ending_quietly_on_broken_pipe(command: Callable[[], int]) -> int:
    """``command()``'s exit status; when whoever reads stdout stops (``... | head``), exit 1 quietly
    instead of a BrokenPipeError traceback."""
    try:
        status = command()
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught here
    except BrokenPipeError:
        # Python's own advice: point stdout at devnull so the interpreter's last flush is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(ending_quietly_on_broken_pipe(main))
