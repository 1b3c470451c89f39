"""The function's code asset without Docker: the ``ses_to_connect`` package plus the pure-Python
packages it vendors, all taken from the Python environment that runs the synth.

Powertools comes from its public layer and boto3 from the Lambda runtime; what neither
provides (``tnefparse``, for Outlook's winmail.dat; ``charset_normalizer``, for charset
detection; ``icalendar`` and its time zone data ``tzdata``, for meeting invitations;
``asn1crypto``, for S/MIME; ``justhtml``, which cleans HTML bodies; ``compressed_rtf``, ``RTFDE``,
``lark`` and ``oletools``' code page table, for the RTF bodies of winmail.dat) is copied from the environment
running the synth, after checking that the installed version is the one pinned in
``requirements/lambda.txt`` (installed: the
distribution's requirements, taken from that file). (icalendar's other dependency,
``python-dateutil``, is one of botocore's, so the runtime has it.) The function's own package is
copied from wherever it is imported: this repository's ``lambda_src/``, or a CDK app's
``site-packages``. No network and no container are needed.

Only Python sources are copied. ``charset_normalizer``'s wheels for the synth machine carry
mypyc-compiled modules for its own architecture next to the ``.py`` files they were compiled
from; without the compiled ones the package runs as its pure-Python wheel does, on any
architecture (the function runs on arm64), only slower at detection, which few messages need.

The copied tree is then compiled to byte-code (``__pycache__/*.cpython-3XY.pyc``) by the synth
interpreter, when its major.minor is the deployed runtime's (``ses_to_connect_cdk.function.RUNTIME``): Lambda
cannot write ``__pycache__`` under ``/var/task``, so without it every cold start compiles the
function's modules. The ``.pyc`` files are unchecked-hash (never compared with the sources, whose
mtimes mean nothing in an asset) and reproducible: the same sources and interpreter give the same
bytes. Under another minor version nothing is compiled (that byte-code would be ignored) and a
warning says so.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import typing
import warnings
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

import ses_to_connect
from ses_to_connect_cdk.paths import (
    DISTRIBUTION,
    LAMBDA_REQUIREMENTS,
    NO_DEPS_REQUIREMENTS,
    function_package,
    pinned_version,
)

__all__ = ["VENDORED_PACKAGES", "code_bundling", "compile_tree", "python_version"]

# Import name -> distribution name (as pinned in requirements/lambda.txt).
VENDORED_PACKAGES = {
    "tnefparse": "tnefparse",
    "charset_normalizer": "charset-normalizer",
    "icalendar": "icalendar",
    "tzdata": "tzdata",
    "asn1crypto": "asn1crypto",
    "justhtml": "justhtml",
    "compressed_rtf": "compressed-rtf",
    "lark": "lark",
    "RTFDE": "RTFDE",
    "oletools": "oletools",
}
# Those pinned in requirements/lambda-no-deps.txt, installed without their dependencies.
_NO_DEPS = frozenset({"RTFDE", "oletools"})
_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", "*.egg-info", "*.so", "*.pyd"
)
# What a vendored package ships that the function never runs: icalendar's own test suite (3 MB),
# its pytz time zone provider (it uses zoneinfo unless told otherwise; pytz is not shipped) and
# the script that regenerates its time zone table with pytz.
_LEFT_OUT = {
    "icalendar": frozenset({"tests", "timezone/pytz.py", "timezone/equivalent_timezone_ids.py"}),
    # lark's command-line tools and its PyInstaller hook (which imports PyInstaller).
    "lark": frozenset({"tools", "__pyinstaller"}),
}
# Packages of which only these paths are shipped: of oletools (3.2 MB of Office file analysis,
# whose dependencies are not installed), the one module RTFDE imports, its code page table, which
# imports only the standard library, and the license.
_ONLY = {
    "oletools": frozenset({"__init__.py", "LICENSE.txt", "common/__init__.py", "common/codepages.py"}),
}
# Where Lambda unpacks the asset: the path compiled into the byte-code, so that it does not depend on
# the staging folder's name (the import system replaces it with the real path on loading anyway).
_TASK_ROOT = "/var/task"


@jsii.implements(cdk.ILocalBundling)
class _CopyBundling:
    def __init__(self, runtime: tuple[int, int]) -> None:
        self.runtime = runtime  # the deployed Python's (major, minor)

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        shutil.copytree(function_package(), Path(output_dir) / "ses_to_connect", ignore=_IGNORE)
        for package, distribution in VENDORED_PACKAGES.items():
            source = _installed_package(package, distribution)
            shutil.copytree(source, Path(output_dir) / package, ignore=_ignore(source, package))
        runtime = self.runtime
        if sys.version_info[:2] == runtime:
            compile_tree(Path(output_dir))
        else:
            # Byte-code is specific to a minor version: the runtime would ignore (and could not
            # replace) a .pyc made here, so the asset ships sources only and every cold start
            # compiles them. Deploying still works; it is only slower, hence a warning, not an error.
            warnings.warn(
                f"cdk synth runs Python {sys.version_info.major}.{sys.version_info.minor} but the function "
                f"runs python{runtime[0]}.{runtime[1]}: the code asset ships without byte-code, so each "
                "cold start compiles the function's modules. Synthesize with the runtime's Python.",
                RuntimeWarning,
                stacklevel=2,
            )
        return True


def python_version(runtime: lambda_.Runtime) -> tuple[int, int]:
    """A Python runtime's (major, minor), from its name (e.g. ``python3.13``)."""
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime.name)
    if match is None:
        raise RuntimeError(f"not a Python runtime: {runtime.name}")
    return int(match.group(1)), int(match.group(2))


def compile_tree(root: Path) -> None:
    """Write ``__pycache__`` next to every ``.py`` under ``root``, with this interpreter, reproducibly.

    A fresh interpreter, so that nothing of this process (its hash seed, ``-O``) leaks in:
    ``PYTHONHASHSEED=0``, so nothing marshalled can follow string hashes (3.13's marshal already
    sorts frozenset constants; the fixed seed keeps that true whatever the interpreter); optimization
    level 0, so asserts and docstrings stay as in the sources; one worker and compileall's sorted
    walk; and the paths compiled in are ``/var/task/...`` whatever the staging folder is called
    (without that, two bundlings differ).
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    done = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-f",
            "-j",
            "1",
            "-o",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-d",
            _TASK_ROOT,
            str(root),
        ],
        env={**env, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"compiling the code asset failed: {(done.stdout + done.stderr).strip()[-2000:]}")


def _ignore(root: Path, package: str) -> typing.Callable[[str, list[str]], set[str]]:
    """What copytree leaves out of ``package`` (installed at ``root``): caches, native modules, the
    package's ``_LEFT_OUT`` paths and, for a package in ``_ONLY``, every path but those (and the
    folders holding them)."""
    left_out = _LEFT_OUT.get(package, frozenset())
    only = _ONLY.get(package)

    def shipped(path: str) -> bool:
        return only is None or any(kept == path or kept.startswith(f"{path}/") for kept in only)

    def ignore(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(root)
        paths = {name: (relative / name).as_posix() for name in names}
        return set(_IGNORE(folder, names)) | {
            name for name, path in paths.items() if path in left_out or not shipped(path)
        }

    return ignore


def _installed_package(package: str, distribution: str) -> Path:
    no_deps = package in _NO_DEPS
    wanted = pinned_version(distribution, NO_DEPS_REQUIREMENTS if no_deps else LAMBDA_REQUIREMENTS)
    try:
        installed = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        installed = None
    spec = importlib.util.find_spec(package)
    if installed != wanted or spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"{distribution}=={wanted} must be installed in the Python environment that runs the CDK app "
            f"(the function's code asset includes it); found {installed or 'nothing'}. Install it with "
            + (
                f"pip install --no-deps {distribution}=={wanted} (its dependencies are not needed)."
                if no_deps
                else f"pip install '{DISTRIBUTION}[cdk]=={ses_to_connect.__version__}', which pins it."
            )
        )
    return Path(next(iter(spec.submodule_search_locations)))


def code_bundling(runtime: lambda_.Runtime) -> cdk.BundlingOptions:
    """Local bundling only, byte-code for ``runtime``: the image is never pulled, because the local
    step always succeeds."""
    return cdk.BundlingOptions(
        image=cdk.DockerImage.from_registry("local-bundling-only"),
        # jsii calls try_bundle(output_dir, options) positionally, unlike the generated stub's keywords.
        local=typing.cast(cdk.ILocalBundling, _CopyBundling(python_version(runtime))),
    )
