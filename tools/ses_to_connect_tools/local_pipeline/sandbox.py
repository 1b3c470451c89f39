"""The handler in a process of its own, with the deployed function's memory and time enforced.

Lambda runs the function in a sandbox with ``lambdaMemoryMb`` of memory, a CPU share that scales
with it (one full vCPU at 1,769 MB) and ``lambdaTimeoutSeconds`` of wall time; it kills the
sandbox at either limit. In process, ``AsyncLambda`` sees none of that: a message that needs
600 MB or ten minutes of CPU "succeeds". :class:`SandboxedHandler` is a drop-in ``Handler`` that
starts a fresh interpreter per invocation (a cold start, as a retry after a kill is), lets it
import the handler, then sends it the event and watches it:

- **memory**: the child's resident high-water mark (``VmHWM`` in ``/proc/PID/status``, which the
  kernel keeps, so a spike between two polls is not missed) is polled every 10 ms and the child is
  killed with SIGKILL once it exceeds the limit; the child also reads its own ``VmHWM`` just before
  it answers, so a peak over the limit after the last poll is still reported as a kill, as Lambda
  would have killed it. ``ru_maxrss`` from ``wait4`` is not used: Linux carries the forking
  parent's peak into the child's across ``exec``, so it reports the test process (moto's stored
  objects included), not the function. ``RLIMIT_AS`` is not used either: it
  limits *address space*, and CPython, glibc's arenas and every thread's 8 MiB stack reserve far
  more address space than they touch, so it would fail allocations (a ``MemoryError`` the
  handler might even catch) long before the resident set, which is what Lambda's cgroup limit
  counts, reached the size.
- **time**: Lambda's timeout is wall time, but this machine's wall time is not Lambda's: here the
  child may get a whole core, or, on a loaded machine, wait for one. So the child's duration *on
  Lambda* is estimated from the invocation on (after the imports: the init phase has a budget
  of its own on Lambda and runs at full speed), and it is killed when the estimate passes the
  timeout: its CPU time (user + system, all threads) divided by the memory's share of a vCPU
  (``memory / 1,769 MB``: at 256 MB, 43.4 CPU-seconds here make 300 s there), plus the time
  its main thread was blocked (waiting on I/O or asleep: the wall time less the main thread's
  time on a CPU and waiting for one, from ``/proc/PID/schedstat``). A handler that computes is
  stopped at ``timeout x share`` CPU-seconds, one that waits at the timeout, whatever the load.

A kill is raised as :class:`SandboxKilled` with the ``errorType`` Lambda reports for it, so that
``AsyncLambda`` retries it and writes it into the on-failure record as Lambda would:
``Runtime.OutOfMemory`` ("Error: Runtime exited with error: signal: killed"; the error type Lambda
gives a Python 3.13 runtime killed at its memory limit, as seen in the ``platform.runtimeDone``
event: DataDog/datadog-lambda-extension pull request 776) and ``Sandbox.Timedout`` ("Task timed
out after 300.00 seconds", the message Lambda logs and returns at the timeout). An exception in
the handler comes back as :class:`FunctionError` with its Python type name and frames, as the
Python runtime reports it.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from ses_to_connect_cdk.config import BridgeConfig
from ses_to_connect_cdk.paths import REPO_ROOT
from ses_to_connect_tools.local_pipeline.lambda_runtime import LambdaContext, ReportedError

HANDLER = "ses_to_connect.handler:lambda_handler"  # the function's configured handler, as module:name
FULL_VCPU_MB = 1769  # Lambda: "at 1,769 MB, a function has the equivalent of one vCPU"
MIB = 1024 * 1024
POLL_SECONDS = 0.01
CDK_JSON = REPO_ROOT / "cdk.json"
_TICKS = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class SandboxLimits:
    """The deployed function's limits and what they mean on this machine.

    ``io_budget_seconds`` is the part of the timeout the stack's configuration reserves for
    waiting on Connect and AWS (``BridgeConfig.timeout_budget_seconds``); what is left of the
    timeout is what a message's own processing may take.
    """

    memory_mb: int
    timeout_seconds: float
    io_budget_seconds: float = 0.0

    @classmethod
    def of(cls, config: BridgeConfig) -> SandboxLimits:
        """The limits a stack of ``config`` deploys (``lambdaMemoryMb``, ``lambdaTimeoutSeconds``, and
        the Connect settings behind the timeout budget)."""
        return cls(config.lambda_memory_mb, config.lambda_timeout_seconds, config.timeout_budget_seconds)

    @classmethod
    def deployed(cls, cdk_json: Path = CDK_JSON) -> SandboxLimits:
        """The limits of the stack ``cdk_json``'s context configures."""
        return cls.of(BridgeConfig.from_context(json.loads(cdk_json.read_text())["context"]))

    @property
    def vcpu_share(self) -> float:
        return min(1.0, self.memory_mb / FULL_VCPU_MB)

    @property
    def cpu_seconds(self) -> float:
        """CPU-seconds here that the timeout gives on Lambda: past them the child is killed."""
        return self.timeout_seconds * self.vcpu_share

    @property
    def processing_cpu_seconds(self) -> float:
        """CPU-seconds here for one message's own work: the timeout less the I/O budget, scaled."""
        return max(0.0, self.timeout_seconds - self.io_budget_seconds) * self.vcpu_share

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * MIB

    def describe(self) -> str:
        return (
            f"{self.memory_mb} MB, {self.timeout_seconds:g} s timeout, {self.vcpu_share:.3f} vCPU: "
            f"{self.cpu_seconds:.1f} CPU-s here before a kill, {self.processing_cpu_seconds:.1f} CPU-s "
            f"for processing beside the {self.io_budget_seconds:g} s I/O budget"
        )


@dataclass
class SandboxRun:
    """What one invocation used; ``killed`` is Lambda's error type when it was killed."""

    peak_rss_mib: float
    cpu_seconds: float  # the invocation's, after the imports
    init_cpu_seconds: float
    wall_seconds: float  # here, from the event sent to the exit
    lambda_seconds: float  # the estimated duration on Lambda: blocked time + CPU / the vCPU share
    killed: str | None = None


class SandboxKilled(ReportedError):
    """The sandbox was killed at a limit: no exception, no response, only Lambda's word for it."""


class FunctionError(ReportedError):
    """The handler raised: its type name, message and frames as the runtime reports them."""


@dataclass
class SandboxedHandler:
    """A ``Handler`` for :class:`~ses_to_connect_tools.local_pipeline.lambda_runtime.AsyncLambda`;
    ``runs`` keeps every invocation's usage, in order. The child gets this process's environment
    (``local_aws`` puts the function's settings there); ``entry`` is the handler it imports and runs."""

    limits: SandboxLimits
    entry: str = HANDLER
    runs: list[SandboxRun] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = {
            "event": event,
            "requestId": context.aws_request_id,
            "memoryMb": self.limits.memory_mb,
            "timeoutSeconds": self.limits.timeout_seconds,
        }
        with tempfile.TemporaryFile() as log:
            run, reply = self._run(request, log)
            self.runs.append(run)
            if run.killed is not None:
                message = _kill_message(run.killed, context.aws_request_id, self.limits)
                raise SandboxKilled(run.killed, message)
            if reply is None:  # exited without answering: a crash, not a limit
                log.seek(0)
                tail = log.read()[-2000:].decode(errors="replace")
                raise FunctionError("Runtime.ExitError", f"Runtime exited without a response: {tail}")
        if "errorType" in reply:
            raise FunctionError(reply["errorType"], reply["errorMessage"], reply["stackTrace"])
        result: dict[str, Any] = reply["result"]
        return result

    def _run(self, request: dict[str, Any], log: IO[bytes]) -> tuple[SandboxRun, dict[str, Any] | None]:
        read_end, write_end = os.pipe()
        python_path = os.pathsep.join([str(REPO_ROOT / "lambda_src"), str(REPO_ROOT)])
        env = {**os.environ, "PYTHONPATH": python_path}
        started = time.monotonic()
        child = subprocess.Popen(  # noqa: S603 (a fixed command: this interpreter and module)
            [sys.executable, "-m", "ses_to_connect_tools.local_pipeline.sandbox", str(write_end), self.entry],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
            env=env,
            pass_fds=(write_end,),
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (one prctl call, before exec)
        )
        os.close(write_end)
        watch = _Watch(child.pid, self.limits, started)
        try:
            replies = watch.follow(read_end, child, json.dumps(request).encode())
        except BaseException:  # interrupted here (Ctrl-C, a test timeout): the child goes too
            os.kill(child.pid, signal.SIGKILL)
            raise
        finally:
            os.close(read_end)
            if child.stdin is not None:
                child.stdin.close()
            child.returncode = watch.reap()
        ready = replies[0] if replies else {}
        reply = replies[1] if len(replies) > 1 else None
        return watch.run(float(ready.get("initCpu", 0.0)), reply), reply


class _Watch:
    """Polls one child's memory and CPU, kills it at a limit, and reaps it with its usage."""

    def __init__(self, pid: int, limits: SandboxLimits, started: float) -> None:
        self.pid = pid
        self.limits = limits
        self.started = started
        self.invoked: float | None = None
        self.invoked_sched = (0.0, 0.0)  # the main thread's time on a CPU and runnable, at the event
        self.lambda_seconds = 0.0
        self.init_cpu = 0.0
        self.killed: str | None = None
        self.rusage: Any = None
        self.wall = 0.0
        self.peak_kib = 0

    def follow(self, control: int, child: subprocess.Popen[bytes], request: bytes) -> list[dict[str, Any]]:
        """Read the child's control lines (ready, then the reply) until it exits or is killed."""
        replies: list[dict[str, Any]] = []
        buffer = b""
        while True:
            readable, _, _ = select.select([control], [], [], POLL_SECONDS)
            if readable:
                chunk = os.read(control, 65536)
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    replies.append(json.loads(line))
                    if len(replies) == 1:  # imports done: the invocation starts now
                        self.init_cpu = float(replies[0]["initCpu"])
                        self.invoked = time.monotonic()
                        self.invoked_sched = _sched_seconds(self.pid)
                        assert child.stdin is not None  # noqa: S101 (opened with PIPE above)
                        child.stdin.write(request)
                        child.stdin.close()
                if not chunk:
                    return replies
            if self._over_limit():
                os.kill(self.pid, signal.SIGKILL)
                return replies

    def _over_limit(self) -> bool:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
            stat = Path(f"/proc/{self.pid}/stat").read_text()
            on_cpu, runnable = _sched_seconds(self.pid)
        except OSError:  # already gone: the control pipe's end tells the rest
            return False
        self.peak_kib = max(self.peak_kib, _high_water_kib(status))
        if self.peak_kib * 1024 > self.limits.memory_bytes:
            self.killed = "Runtime.OutOfMemory"
            return True
        if self.invoked is None:
            return False
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS - self.init_cpu  # utime, stime
        scheduled = on_cpu - self.invoked_sched[0] + runnable - self.invoked_sched[1]
        blocked = max(0.0, time.monotonic() - self.invoked - scheduled)
        self.lambda_seconds = blocked + max(0.0, cpu) / self.limits.vcpu_share
        if self.lambda_seconds > self.limits.timeout_seconds:
            self.killed = "Sandbox.Timedout"
            return True
        return False

    def reap(self) -> int:
        _, status, self.rusage = os.wait4(self.pid, 0)
        self.wall = time.monotonic() - (self.invoked or self.started)
        return os.waitstatus_to_exitcode(status)

    def run(self, init_cpu: float, reply: dict[str, Any] | None) -> SandboxRun:
        self.peak_kib = max(self.peak_kib, int((reply or {}).get("peakKib", 0)))
        if self.killed is None and self.peak_kib * 1024 > self.limits.memory_bytes:
            self.killed = "Runtime.OutOfMemory"  # it peaked over the limit after the last poll
        cpu = self.rusage.ru_utime + self.rusage.ru_stime
        return SandboxRun(
            peak_rss_mib=round(self.peak_kib / 1024, 1),
            cpu_seconds=round(max(0.0, cpu - init_cpu), 3),
            init_cpu_seconds=round(init_cpu, 3),
            wall_seconds=round(self.wall, 3),
            lambda_seconds=round(self.lambda_seconds, 2),
            killed=self.killed,
        )


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the process that watches it dies (Linux prctl)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _sched_seconds(pid: int) -> tuple[float, float]:
    """The main thread's time on a CPU and time runnable but waiting for one, in seconds."""
    on_cpu, runnable, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(on_cpu) / 1e9, int(runnable) / 1e9


def _high_water_kib(status: str) -> int:
    """``VmHWM`` of a ``/proc/PID/status``; 0 for a process that has exited (it has no memory left)."""
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def _kill_message(error_type: str, request_id: str, limits: SandboxLimits) -> str:
    if error_type == "Sandbox.Timedout":
        return f"RequestId: {request_id} Error: Task timed out after {limits.timeout_seconds:.2f} seconds"
    return f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"


def run_usage(runs: list[SandboxRun]) -> dict[str, Any]:
    """The figures of several attempts at one message: the highest peak and CPU, and any kill."""
    return {
        "peak_rss_mib": max(r.peak_rss_mib for r in runs),
        "cpu_seconds": max(r.cpu_seconds for r in runs),
        "lambda_seconds": max(r.lambda_seconds for r in runs),
        "killed": next((r.killed for r in runs if r.killed), None),
        "runs": [asdict(r) for r in runs],
    }


def _child(control_fd: int, entry: str) -> None:
    """The sandbox's side: import (the init phase), say so, run one event, answer, exit."""
    module, name = entry.split(":")
    handler = getattr(importlib.import_module(module), name)  # the init phase

    def cpu() -> float:
        usage = os.times()
        return usage.user + usage.system

    with os.fdopen(control_fd, "w") as control:
        control.write(json.dumps({"initCpu": cpu()}) + "\n")
        control.flush()
        request = json.loads(sys.stdin.buffer.read())
        context = LambdaContext(
            memory_limit_in_mb=request["memoryMb"],
            timeout_seconds=request["timeoutSeconds"],
            aws_request_id=request["requestId"],
        )
        try:
            reply: dict[str, Any] = {"result": handler(request["event"], context)}
        except Exception as exc:  # noqa: BLE001 (reported as the Python runtime reports it)
            reply = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
            }
        reply["peakKib"] = _high_water_kib(Path("/proc/self/status").read_text())
        control.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    _child(int(sys.argv[1]), sys.argv[2])
