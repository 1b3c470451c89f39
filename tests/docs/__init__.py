"""The docs' commands, run as printed.

The convention (README, "The command line"): a fenced ``sh`` block is commands a reader runs from
the repository's root with ``ses-to-connect`` on ``PATH``, and every one of them runs here; a
``python`` block is a program, run with this environment's Python (or, when its first line is
``# ~/PATH``, that file of the reader's, written there for a later ``sh`` block to run); a ``text``
block is a synopsis with placeholders, and unlabelled blocks are output or diagrams. A ``sh`` block
that cannot run here says why in its first line, ``# not run by tests/docs: ...``, in plain view.

Commands of the operators' tools (``ses-to-connect preflight|smoke|redrive|replay``) need an AWS
account: they run against moto's server and the Connect emulator, with the stack's outputs they
name (``$FAILURE_QUEUE_URL``...) set to the local resources. ``~`` is a temporary home, so that
the README's app of one's own is built outside the checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ses_to_connect_tools.local_pipeline.aws import BUCKET, local_aws

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
COMMAND_LANGUAGES = {"sh", "bash", "shell", "console"}
NOT_RUN = "# not run by tests/docs:"
AWS_COMMAND = re.compile(r"\bses-to-connect (?:preflight|smoke|redrive|replay)\b")
_FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    body: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(REPO_ROOT)}:{self.line} ({self.language or 'unlabelled'})"

    @property
    def target(self) -> str | None:
        """``~/PATH`` when the block is that file of the reader's."""
        first = self.body.splitlines()[0] if self.body else ""
        match = re.fullmatch(r"# (~/\S+)", first.strip())
        return match.group(1) if match else None


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(
            page,
            text.count("\n", 0, match.start()) + 1,
            match["lang"],
            _dedent(match["body"], match["indent"]),
        )
        for match in _FENCE.finditer(text)
    ]


def _dedent(body: str, indent: str) -> str:
    return "\n".join(line.removeprefix(indent) for line in body.splitlines())


def reader_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A reader's shell: this environment's ``bin`` first on PATH, no PYTHONPATH, ``~`` = ``home``;
    pip keeps its usual cache, so that installing into a fresh environment unpacks what
    ``make`` already downloaded."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pip"
    env.setdefault("PIP_CACHE_DIR", str(cache))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["HOME"] = str(home)
    env.update(extra or {})
    return env


@contextmanager
def aws_for_commands() -> Iterator[dict[str, str]]:
    """moto's server and the Connect emulator, and what the operators' commands need to reach them."""
    with local_aws() as aws:
        yield {
            **aws.env,
            "AWS_ENDPOINT_URL": aws.moto_url,  # SES, SSM, Lambda, CloudFormation: every other service
            "FAILURE_QUEUE_URL": aws.failure_queue_url,
            "FUNCTION_NAME": "ses-to-connect",
            "MAIL_BUCKET": BUCKET,
            "MESSAGE_ID": "0000000000000000example",
        }


def run_block(block: Block, home: Path, aws_env: Mapping[str, str] | None) -> str:
    """Run one block as a reader would; returns a failure message, or "" when it ran as printed."""
    if block.target is not None:
        target = home / block.target.removeprefix("~/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.body + "\n", encoding="utf-8")
        return ""
    if block.language == "python":
        work = home / f"block-{block.line}"
        work.mkdir(parents=True, exist_ok=True)
        (work / "block.py").write_text(block.body + "\n", encoding="utf-8")
        command = [sys.executable, "block.py"]
        cwd, env = work, reader_env(home)
        expected: tuple[int, ...] = (0,)
    else:
        command = ["bash", "-eu", "-c", block.body]
        needs_aws = bool(AWS_COMMAND.search(block.body))
        if needs_aws and aws_env is None:
            return f"{block}: needs AWS but was run without the local services"
        cwd, env = REPO_ROOT, reader_env(home, aws_env if needs_aws else None)
        # Against moto and the emulator nothing is deployed: the commands report that (exit 1).
        expected = (0, 1) if needs_aws else (0,)
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    output = f"exit {done.returncode}\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    if done.returncode not in expected:
        return f"{block} failed, {output}"
    if "Traceback (most recent call last)" in done.stderr or "BrokenPipeError" in done.stderr:
        return f"{block} printed a traceback, {output}"
    return ""


def run_page(page: Path, home: Path) -> list[str]:
    """Every runnable block of ``page``, in order (a later block may use what an earlier one made)."""
    runnable = [
        b
        for b in blocks(page)
        if (b.language in COMMAND_LANGUAGES and not b.body.startswith(NOT_RUN)) or b.language == "python"
    ]
    failures: list[str] = []
    needs_aws = any(AWS_COMMAND.search(b.body) for b in runnable if b.language in COMMAND_LANGUAGES)
    if needs_aws:
        with aws_for_commands() as aws_env:
            failures.extend(filter(None, (run_block(b, home, aws_env) for b in runnable)))
    else:
        failures.extend(filter(None, (run_block(b, home, None) for b in runnable)))
    return failures
