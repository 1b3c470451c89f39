"""A Lambda sandbox a test can kill: the real handler, one invocation, in a process of its own.

Lambda ends a sandbox that runs out of memory or time with SIGKILL: no ``finally``, no
Powertools clean-up, nothing written after that instant. A raised exception cannot reproduce
that (Powertools deletes its in-progress record on any exception), so the exactly-once tests
run each attempt here and kill it for real (``python -m tests.e2e.sandbox EVENT RESULT``).

:class:`Sandboxes` is the handler a
:class:`~ses_to_connect_tools.local_pipeline.lambda_runtime.AsyncLambda` runs:
each attempt starts a fresh process with the local services' environment, as a retry after a
kill lands in a new sandbox; ``kill_during_next_answer`` stops the running one when the Connect
emulator has the next answer ready, and kills it once that answer is written to it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ses_to_connect_tools.local_pipeline.aws import LocalAws
from ses_to_connect_tools.local_pipeline.configuration import deployment_config
from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator
from ses_to_connect_tools.local_pipeline.lambda_runtime import AsyncLambda, LambdaContext

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60.0  # a bound, not an expectation: a busy machine must not fail the test
RETRY_SCALE = 20  # Lambda's retry waits (1 and 2 minutes) run this many times faster
# One Connect attempt of 2 s: a 6 s lock (timing.in_progress_lock_seconds) against waits of 3 and
# 6 s, in the proportion of the defaults' 137 s against 60 and 180 s.
# Written as variables, not read from cdk.json keys (tests/support/environment.py): each sandbox
# process imports this module, and the stack's configuration must stay out of it.
CONNECT_ENV = {"CONNECT_MAX_ATTEMPTS": "1", "CONNECT_TIMEOUT_SECONDS": "2"}


class SandboxKilled(RuntimeError):
    """The sandbox died by SIGKILL: Lambda records a function error and retries the event."""


class SandboxError(RuntimeError):
    """The handler raised in the sandbox; its type and message, as Lambda's error object gives them."""


class Sandboxes:
    def __init__(self, env: Mapping[str, str], *, timeout_seconds: float) -> None:
        """``env``: the handler's environment; ``timeout_seconds``: the function's configured timeout,
        which the sandbox's context reports (``get_remaining_time_in_millis``)."""
        self._env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join(["lambda_src", "."])}
        self._timeout_seconds = timeout_seconds
        self._running: subprocess.Popen[bytes] | None = None
        self.killed = 0

    def kill_during_next_answer(self, emulator: ConnectEmulator) -> None:
        """Freeze the sandbox before the next Connect answer reaches it, kill it once it is sent:
        the contact exists, the answer is on the sandbox's socket, and nothing after it runs."""
        emulator.around_next_answer(
            lambda: self._signal(signal.SIGSTOP), lambda: self._signal(signal.SIGKILL)
        )

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as folder:
            event_file, result_file = Path(folder, "event.json"), Path(folder, "result.json")
            event_file.write_text(json.dumps(event))
            self._running = subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.sandbox", str(event_file), str(result_file)],
                cwd=REPO_ROOT,
                env={**self._env, "SANDBOX_TIMEOUT_SECONDS": str(self._timeout_seconds)},
                stdout=subprocess.DEVNULL,
            )
            returncode = self._running.wait(timeout=STARTUP_SECONDS + self._timeout_seconds)
            self._running = None
            if returncode == -signal.SIGKILL:
                self.killed += 1
                raise SandboxKilled("Runtime exited with error: signal: killed")
            outcome = json.loads(result_file.read_text())
        if "errorType" in outcome:
            raise SandboxError(f"{outcome['errorType']}: {outcome['errorMessage']}")
        result: dict[str, Any] = outcome
        return result

    def _signal(self, number: signal.Signals) -> None:
        if self._running is not None:
            os.kill(self._running.pid, number)


def killed_after_next_answer(
    aws: LocalAws, *, before_retry: Callable[[], None] = lambda: None
) -> tuple[AsyncLambda, Sandboxes]:
    """Lambda's asynchronous invocation of sandboxes, the first killed right after Connect answers;
    ``before_retry`` runs after each failed attempt, before the scaled wait."""
    assert aws.emulator is not None
    # The timeout the shipped configuration deploys (derived from its retry budget when unset).
    timeout = deployment_config(REPO_ROOT / "cdk.json", []).lambda_timeout_seconds
    sandboxes = Sandboxes({**aws.env, **CONNECT_ENV}, timeout_seconds=timeout)
    sandboxes.kill_during_next_answer(aws.emulator)

    def wait(seconds: float) -> None:
        before_retry()
        time.sleep(seconds / RETRY_SCALE)

    runtime = AsyncLambda(
        sandboxes, sqs_client=aws.client("sqs"), failure_queue_url=aws.failure_queue_url, sleep=wait
    )
    return runtime, sandboxes


def main(event_file: str, result_file: str) -> None:
    """One invocation of the real handler, as a fresh sandbox runs it; the result (or the error) as JSON."""
    from ses_to_connect import handler  # noqa: PLC0415 (imported in the sandbox, after its environment)

    event = json.loads(Path(event_file).read_text())
    context = LambdaContext(timeout_seconds=float(os.environ["SANDBOX_TIMEOUT_SECONDS"]))
    try:
        outcome = handler.lambda_handler(event, context)
    except Exception as error:  # noqa: BLE001 (reported to the parent as Lambda reports a function error)
        outcome = {"errorType": type(error).__name__, "errorMessage": str(error)}
    Path(result_file).write_text(json.dumps(outcome))


if __name__ == "__main__":
    main(*sys.argv[1:])
