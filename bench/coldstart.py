"""Cold start: a fresh interpreter importing the handler and building its pipeline, against boto3 alone.

The baseline creates exactly the clients ``pipeline()`` creates, with the same ``Config``
options: a first run records them at botocore's ``Session.create_client``.

Both scripts start their clock on their first line, so the interpreter's own start-up (the
same for both) is left out of the ratio; the parent's wall time of each whole process, start-up
and exit included, is kept as a second figure. Runs alternate between the two scripts, after
one discarded warm-up run of each (byte-code compilation, the page cache).

The handler runs from a copy of ``ses_to_connect`` laid out as the code asset ships it: with the
byte-code ``ses_to_connect_cdk/bundling.py`` compiles (unchecked-hash), and ``PYTHONDONTWRITEBYTECODE``
set, as Lambda's read-only ``/var/task`` writes nothing. A second copy without byte-code shows what
compiling at each cold start would cost.

The environment is the one the stack gives the function (settings with the stack's defaults,
both DynamoDB tables so the DynamoDB client is created too) with fake credentials and no AWS
config files, so nothing on the developer's machine changes what the clients read.

The handler calls ``gc.freeze()`` once its imports are done (``handler.py``); a fourth script
turns that into a no-op, so the table also shows what the imports cost without it.

With the stack's ``tracing`` key the function runs with ``TRACING=true``: ``entry()`` then
imports the X-Ray SDK and patches botocore (Powertools Tracer). The same handler script runs
with that environment (and ``LAMBDA_TASK_ROOT``, without which Tracer disables itself outside
Lambda) to show what tracing adds to each cold start.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.messages import BUCKET, SUPPORT
from bench.report import Figure, Section, median
from bench.services import REPO, project_path
from ses_to_connect_cdk.config import RuntimeResources
from ses_to_connect_tools.local_pipeline.aws import IDEMPOTENCY_TABLE, THREADS_TABLE, local_config

TARGET = 1.10
TOP_IMPORTS = 10

# The deployed function's environment as the stack renders it (with the local pipeline's instance,
# bucket, tables and queue names), plus what Lambda itself sets.
FUNCTION_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_NAME": "ses-to-connect",
    **local_config((SUPPORT,)).lambda_environment(
        RuntimeResources(
            BUCKET,
            IDEMPOTENCY_TABLE,
            THREADS_TABLE,
            "https://sqs.us-east-1.amazonaws.com/111122223333/ses-to-connect-failures",
        )
    ),
}

_START = "import time; _t0 = time.perf_counter(); _c0 = time.process_time()"
_REPORT = (
    "_c2 = time.process_time()\n"
    "import json, sys; sys.stdout.write(json.dumps([_t1 - _t0, _t2 - _t0, _c2 - _c0]))"
)
HANDLER_SCRIPT = f"""\
{_START}
from ses_to_connect import handler
_t1 = time.perf_counter()
handler.entry()
_t2 = time.perf_counter()
{_REPORT}
"""
# The handler freezes what it imported so the collector's full passes skip it (handler.py); this
# variant turns that off, to show the import cost alone.
UNFROZEN_SCRIPT = HANDLER_SCRIPT.replace(
    "from ses_to_connect import handler\n",
    "import gc; gc.freeze = lambda: None\nfrom ses_to_connect import handler\n",
)
# Which clients pipeline() creates, and with which Config options: recorded at botocore's
# create_client, so the baseline stays "the same clients" whatever the handler's code becomes.
DISCOVERY_SCRIPT = """\
import json, sys
import botocore.session
created = []
_create = botocore.session.Session.create_client
def _spy(self, service_name, *args, **kwargs):
    config = kwargs.get("config")
    created.append([service_name, dict(config._user_provided_options) if config else {}])
    return _create(self, service_name, *args, **kwargs)
botocore.session.Session.create_client = _spy
from ses_to_connect import handler
handler.pipeline()
sys.stdout.write(json.dumps(created))
"""


def boto3_script(clients: list[tuple[str, dict[str, Any]]]) -> str:
    """Import boto3 and create ``clients`` (service, Config options), timed like the handler script."""
    calls = "\n".join(
        f"boto3.client({service!r}, config=Config(**{options!r}))" for service, options in clients
    )
    return f"""\
{_START}
import boto3
from botocore.config import Config
_t1 = time.perf_counter()
{calls}
_t2 = time.perf_counter()
{_REPORT}
"""


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass(frozen=True)
class Run:
    imports: float  # seconds from the script's first line to its imports done
    total: float  # ... to its clients created
    cpu: float  # CPU seconds of the script (user + system): less sensitive to a busy machine
    process: float  # the parent's wall time of the whole process


def _environment(path: str | None = None) -> dict[str, str]:
    """A clean environment: no AWS_* or PYTHON* variable of the caller's leaks in."""
    kept = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    return {**kept, **FUNCTION_ENV, "PYTHONPATH": path or project_path()}


def _traced_environment(deployed: dict[str, str]) -> dict[str, str]:
    """The function's environment with the stack's ``tracing`` on, as Lambda runs it."""
    return {**deployed, "TRACING": "true", "LAMBDA_TASK_ROOT": deployed["PYTHONPATH"]}


@contextmanager
def _function_code() -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """Environments running ``ses_to_connect`` as deployed (with byte-code) and as source only.

    The deployed copy gets the asset's byte-code from ``ses_to_connect_cdk.bundling.compile_tree`` (the
    function the synth uses); the other ships none, so every cold start compiles the function's
    modules, as the asset did before it carried ``__pycache__``. Both run with
    ``PYTHONDONTWRITEBYTECODE=1``: Lambda's ``/var/task`` is read-only. boto3 (runtime) and
    Powertools (layer) keep their byte-code in both.
    """
    # Imported here: it loads aws_cdk (and starts jsii), which only this benchmark needs.
    from ses_to_connect_cdk.bundling import compile_tree  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="bench-function-code-") as folder:
        deployed, source_only = Path(folder) / "deployed", Path(folder) / "source-only"
        for tree in (deployed, source_only):
            shutil.copytree(
                REPO / "lambda_src" / "ses_to_connect",
                tree / "ses_to_connect",
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        compile_tree(deployed)
        yield (
            {**_environment(str(deployed)), "PYTHONDONTWRITEBYTECODE": "1"},
            {**_environment(str(source_only)), "PYTHONDONTWRITEBYTECODE": "1"},
        )


def _run(script: str, env: dict[str, str], *flags: str) -> tuple[Run, str]:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, *flags, "-c", script], env=env, capture_output=True, text=True, cwd=REPO, check=False
    )
    process = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold-start script failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    imports, total, cpu = json.loads(done.stdout)
    return Run(imports, total, cpu, process), done.stderr


def _discover_clients(env: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", DISCOVERY_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cannot see which clients pipeline() creates: {done.stderr.strip()[-500:]}")
    clients = [(str(service), dict(options)) for service, options in json.loads(done.stdout)]
    if not clients:
        raise RuntimeError("pipeline() created no boto3 client: the baseline would be empty")
    return clients


def _import_times(stderr: str) -> dict[str, tuple[int, int]]:
    """``-X importtime`` output as module -> (self us, cumulative us)."""
    found: dict[str, tuple[int, int]] = {}
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            found[match.group(4)] = (int(match.group(1)), int(match.group(2)))
    return found


def _import_breakdown(
    handler_env: dict[str, str], env: dict[str, str], baseline_script: str, runs: int
) -> tuple[list[tuple[str, ...]], dict[str, float]]:
    """The imports only the handler path makes, top by median self time, and totals per package."""
    handler_runs = [
        _import_times(_run(HANDLER_SCRIPT, handler_env, "-X", "importtime")[1]) for _ in range(runs)
    ]
    boto3_runs = [_import_times(_run(baseline_script, env, "-X", "importtime")[1]) for _ in range(runs)]
    in_baseline = set().union(*boto3_runs)
    self_us: dict[str, list[int]] = defaultdict(list)
    cumulative_us: dict[str, list[int]] = defaultdict(list)
    for found in handler_runs:
        for module, (own, cumulative) in found.items():
            if module not in in_baseline:
                self_us[module].append(own)
                cumulative_us[module].append(cumulative)
    medians = {module: median(values) for module, values in self_us.items()}
    top = sorted(medians, key=lambda module: -medians[module])[:TOP_IMPORTS]
    rows: list[tuple[str, ...]] = [("module (imported by the handler only)", "self ms", "cumulative ms")]
    rows += [
        (module, f"{medians[module] / 1000:.1f}", f"{median(cumulative_us[module]) / 1000:.1f}")
        for module in top
    ]
    packages: dict[str, float] = defaultdict(float)
    for module, value in medians.items():
        packages[module.split(".")[0]] += value / 1000
    totals = {
        "handler_only_ms": round(sum(medians.values()) / 1000, 1),
        "handler_only_modules": len(medians),
        "baseline_ms": round(median([sum(own for own, _ in run.values()) for run in boto3_runs]) / 1000, 1),
        **{f"package:{name}": round(ms, 1) for name, ms in sorted(packages.items(), key=lambda kv: -kv[1])},
    }
    return rows, totals


def run(repeats: int) -> Section:
    if UNFROZEN_SCRIPT == HANDLER_SCRIPT:
        raise RuntimeError("the handler script changed: the variant without gc.freeze() is the same script")
    env = _environment()
    section = Section()
    clients = _discover_clients(env)
    baseline_script = boto3_script(clients)
    handler_runs: list[Run] = []
    boto3_runs: list[Run] = []
    source_runs: list[Run] = []
    unfrozen_runs: list[Run] = []
    traced_runs: list[Run] = []
    with _function_code() as (deployed_env, source_env):
        kinds = [
            (HANDLER_SCRIPT, deployed_env, handler_runs),
            (baseline_script, env, boto3_runs),
            (HANDLER_SCRIPT, source_env, source_runs),
            (UNFROZEN_SCRIPT, deployed_env, unfrozen_runs),
            (HANDLER_SCRIPT, _traced_environment(deployed_env), traced_runs),
        ]
        for script, environment, _ in kinds:  # warm-up: byte-code and page cache, for all alike
            _run(script, environment)
        for index in range(repeats):
            for script, environment, into in kinds if index % 2 == 0 else kinds[::-1]:
                into.append(_run(script, environment)[0])
        rows, totals = _import_breakdown(deployed_env, env, baseline_script, runs=max(3, repeats // 3))
    handler_ms = median([r.total for r in handler_runs]) * 1000
    boto3_ms = median([r.total for r in boto3_runs]) * 1000
    process_handler = median([r.process for r in handler_runs]) * 1000
    process_boto3 = median([r.process for r in boto3_runs]) * 1000
    section.figures.append(
        Figure(
            "cold start: import + settings + clients",
            handler_ms,
            boto3_ms,
            "ms",
            handler_ms / boto3_ms,
            TARGET,
            f"median of {repeats}; as deployed (the asset's unchecked-hash byte-code, nothing written); "
            f"baseline: import boto3 and create the same clients "
            f"({', '.join(service for service, _ in clients)}) with the same Config options",
        )
    )
    source_ms = median([r.total for r in source_runs]) * 1000
    section.figures.append(
        Figure(
            "cold start: function code without .pyc",
            source_ms,
            boto3_ms,
            "ms",
            source_ms / boto3_ms,
            None,
            f"ses_to_connect as source only, compiled at each cold start (the asset before it shipped "
            f"__pycache__): +{source_ms - handler_ms:.0f} ms over the byte-code the asset ships",
        )
    )
    unfrozen_ms = median([r.total for r in unfrozen_runs]) * 1000
    section.figures.append(
        Figure(
            "cold start: without gc.freeze()",
            unfrozen_ms,
            boto3_ms,
            "ms",
            unfrozen_ms / boto3_ms,
            None,
            "the handler's imports alone: the collector's full pass during client creation rescans them",
        )
    )
    traced_ms = median([r.total for r in traced_runs]) * 1000
    section.figures.append(
        Figure(
            "cold start: with tracing (X-Ray)",
            traced_ms,
            boto3_ms,
            "ms",
            traced_ms / boto3_ms,
            None,
            f"tracing=true: Powertools Tracer imports the X-Ray SDK and patches botocore; "
            f"+{traced_ms - handler_ms:.0f} ms ({traced_ms / handler_ms - 1:+.0%}) over tracing off",
        )
    )
    section.figures.append(
        Figure(
            "cold start: whole process, as seen by the parent",
            process_handler,
            process_boto3,
            "ms",
            process_handler / process_boto3,
            None,
            "includes interpreter start-up and exit; at exit the collector skips frozen objects too",
        )
    )
    section.extra_tables.append(("Cold start: imports only the handler path makes (-X importtime)", rows))
    paired = sorted(h.total / b.total for h, b in zip(handler_runs, boto3_runs, strict=True))
    quartile = len(paired) // 4
    section.notes.append(
        f"spread: the ratio of each handler run to its adjacent baseline run has median "
        f"{median(paired):.3f}x, middle half {paired[quartile]:.3f}x-{paired[-1 - quartile]:.3f}x, "
        f"range {paired[0]:.3f}x-{paired[-1]:.3f}x"
    )
    section.notes.append(
        f"handler-only imports: {totals['handler_only_ms']} ms of self time in "
        f"{totals['handler_only_modules']} modules (boto3 baseline imports: {totals['baseline_ms']} ms); "
        "imports: "
        f"handler {median([r.imports for r in handler_runs]) * 1000:.0f} ms, "
        f"boto3 {median([r.imports for r in boto3_runs]) * 1000:.0f} ms; CPU time: "
        f"handler {median([r.cpu for r in handler_runs]) * 1000:.0f} ms, "
        f"boto3 {median([r.cpu for r in boto3_runs]) * 1000:.0f} ms"
    )
    section.details["cold_start"] = {
        "handler_ms": [round(r.total * 1000, 2) for r in handler_runs],
        "boto3_ms": [round(r.total * 1000, 2) for r in boto3_runs],
        "handler_import_ms": [round(r.imports * 1000, 2) for r in handler_runs],
        "boto3_import_ms": [round(r.imports * 1000, 2) for r in boto3_runs],
        "source_only_ms": [round(r.total * 1000, 2) for r in source_runs],
        "unfrozen_ms": [round(r.total * 1000, 2) for r in unfrozen_runs],
        "traced_ms": [round(r.total * 1000, 2) for r in traced_runs],
        "handler_cpu_ms": [round(r.cpu * 1000, 2) for r in handler_runs],
        "boto3_cpu_ms": [round(r.cpu * 1000, 2) for r in boto3_runs],
        "imports": totals,
        "clients": [{"service": service, "config": options} for service, options in clients],
    }
    return section
