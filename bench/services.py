"""moto's server and the Connect emulator, each in a process of its own.

``ses_to_connect_tools.local_pipeline.aws.local_aws()`` runs both inside the calling process, which is
right for the simulation but wrong for a memory measurement: moto keeps every stored object (the raw message,
each uploaded attachment) in that process's heap. Here they run as separate processes, so a
probe process holds only what the Lambda itself would hold.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ses_to_connect_tools.local_pipeline.aws import (
    DEFAULT_ADDRESSES,
    INSTANCE_ID,
    LocalAws,
    create_resources,
    handler_env,
    local_config,
)

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_SECONDS = 30.0


class ServiceError(RuntimeError):
    """A local service did not start."""


@dataclass(frozen=True)
class Services:
    """Running services and the environment a handler process needs to reach them."""

    aws: LocalAws

    @property
    def env(self) -> dict[str, str]:
        return self.aws.env


def project_path() -> str:
    """The PYTHONPATH that makes the function's code and the repository's packages importable."""
    return os.pathsep.join([str(REPO / root) for root in ("lambda_src", "infra", "tools")] + [str(REPO)])


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with the project importable, plus ``extra``."""
    return {**os.environ, "PYTHONPATH": project_path(), **(extra or {})}


@contextmanager
def external_services(addresses: tuple[str, ...] = DEFAULT_ADDRESSES) -> Iterator[Services]:
    """Start moto and the emulator as child processes, create the stack's resources, stop both after."""
    with ExitStack() as stack:
        port = _free_port()
        moto = stack.enter_context(
            _process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])
        )
        instance = f"{INSTANCE_ID}={','.join(addresses)}"
        emulator = stack.enter_context(
            _process(
                [
                    sys.executable,
                    "-m",
                    "ses_to_connect_tools.local_pipeline.connect_emulator",
                    "--instance",
                    instance,
                ]
            )
        )
        moto_url = f"http://127.0.0.1:{port}"
        _wait_for_port(port, moto)
        connect_url = _first_line(emulator)
        aws = LocalAws(moto_url, connect_url, None, addresses)
        queue_url = create_resources(aws)
        aws.env = handler_env(moto_url, connect_url, local_config(addresses), queue_url)
        yield Services(aws)


@contextmanager
def _process(command: list[str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and modules)
        command,
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"moto's server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceError(f"moto's server did not listen on port {port} within {STARTUP_TIMEOUT_SECONDS}s")


def _first_line(process: subprocess.Popen[str]) -> str:
    """The URL the emulator prints once it listens."""
    assert process.stdout is not None  # noqa: S101 (stdout=PIPE above)
    line = process.stdout.readline().strip()
    if not line.startswith("http://"):
        raise ServiceError(f"the Connect emulator did not start (exit status {process.poll()})")
    return line
