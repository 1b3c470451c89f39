"""``ses-to-connect COMMAND ...``: the one command line of the project (the console script).

Each command is the module that implements it, imported only when chosen (``convert`` needs no
moto, ``redrive`` no aws_cdk); each has its own ``--help``. The older entry points run the same
code: ``python -m ses_to_connect convert``, and in this repository ``python -m local_pipeline
simulate`` and ``python -m operations ...``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ses_to_connect import __version__
from ses_to_connect.__main__ import ending_quietly_on_broken_pipe

PROG = "ses-to-connect"


class Command(NamedTuple):
    summary: str
    module: str  # its main(argv, ...) runs the command
    argv_prefix: tuple[str, ...] = ()  # what that main expects before the command's own arguments
    takes_prog: bool = True  # main accepts prog=, so that its usage line names this command line


COMMANDS = {
    "convert": Command(
        "one .eml into the StartEmailContact requests it becomes, offline",
        "ses_to_connect.__main__",
        ("convert",),
    ),
    "simulate": Command(
        "mail through SES storage, the function and a local Connect; where each message ended",
        "ses_to_connect_tools.local_pipeline.simulate",
        takes_prog=False,
    ),
    "preview": Command(
        "an HTML page of the contacts the agents will see, from .eml files",
        "ses_to_connect_tools.local_pipeline.preview",
        takes_prog=False,
    ),
    "preflight": Command(
        "read-only checks of the account, before or after a deploy",
        "ses_to_connect_tools.operations.__main__",
        ("preflight",),
    ),
    "smoke": Command(
        "after a deploy: one email with a PDF through SES to a Connect contact",
        "ses_to_connect_tools.operations.__main__",
        ("smoke",),
    ),
    "redrive": Command(
        "run the failure queue's entries again", "ses_to_connect_tools.operations.__main__", ("redrive",)
    ),
    "replay": Command(
        "run one stored or quarantined message again", "ses_to_connect_tools.operations.__main__", ("replay",)
    ),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [
        f"usage: {PROG} [--version] [-h] COMMAND [ARGS...]",
        "",
        "An inbound-email bridge from Amazon SES into Amazon Connect. Each command reads the deployment's",
        "configuration as cdk synth does: ./cdk.json's context (or --config FILE), then -c KEY=VALUE.",
        "",
        "commands:",
        *(f"  {name.ljust(width)}  {command.summary}" for name, command in COMMANDS.items()),
        "",
        f"`{PROG} COMMAND --help` describes a command's options.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    if args[0] == "--version":
        print(f"{PROG} {__version__}")
        return 0
    name, rest = args[0], args[1:]
    command = COMMANDS.get(name)
    if command is None:
        print(f"{PROG}: error: unknown command {name!r} (choose from {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    return ending_quietly_on_broken_pipe(lambda: _run(name, command, rest))


def _run(name: str, command: Command, rest: list[str]) -> int:
    try:
        module = importlib.import_module(command.module)
    except ModuleNotFoundError as exc:
        if exc.name != command.module:
            raise
        # preview arrives with the branch that writes it (docs/development.md); until then, say so.
        print(
            f"{PROG}: error: {name} is not part of this version ({command.module} is missing)",
            file=sys.stderr,
        )
        return 2
    entry: Callable[..., int] = module.main
    argv = [*command.argv_prefix, *rest]
    if command.takes_prog:
        # The command's own parser adds its subcommand's name (``ses-to-connect smoke``) after prog.
        return entry(argv, prog=PROG)
    return entry(argv)
