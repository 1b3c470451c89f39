"""The function's code asset without Docker: ``lambda_src/`` plus the pure-Python packages it vendors.

Powertools comes from its public layer and boto3 from the Lambda runtime; what neither
provides (``tnefparse``, for Outlook's winmail.dat, and ``charset_normalizer``, for charset
detection) is copied from the environment running the synth, after checking that the installed
version is the one pinned in ``requirements/lambda.txt``. No network and no container are needed.

Only Python sources are copied. ``charset_normalizer``'s wheels for the synth machine carry
mypyc-compiled modules for its own architecture next to the ``.py`` files they were compiled
from; without the compiled ones the package runs as its pure-Python wheel does, on any
architecture (the function runs on arm64), only slower at detection, which few messages need.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import typing
from pathlib import Path

import aws_cdk as cdk
import jsii

from infra.paths import LAMBDA_SRC, pinned_version

__all__ = ["VENDORED_PACKAGES", "code_bundling"]

# Import name -> distribution name (as pinned in requirements/lambda.txt).
VENDORED_PACKAGES = {"tnefparse": "tnefparse", "charset_normalizer": "charset-normalizer"}
_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", "*.egg-info", "*.so", "*.pyd"
)


@jsii.implements(cdk.ILocalBundling)
class _CopyBundling:
    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        shutil.copytree(LAMBDA_SRC, output_dir, ignore=_IGNORE, dirs_exist_ok=True)
        for package, distribution in VENDORED_PACKAGES.items():
            shutil.copytree(
                _installed_package(package, distribution), Path(output_dir) / package, ignore=_IGNORE
            )
        return True


def _installed_package(package: str, distribution: str) -> Path:
    wanted = pinned_version(distribution)
    try:
        installed = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        installed = None
    spec = importlib.util.find_spec(package)
    if installed != wanted or spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"{distribution}=={wanted} (requirements/lambda.txt) must be installed where cdk synth runs; "
            f"found {installed or 'nothing'}. Run `make synth`, which installs it."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def code_bundling() -> cdk.BundlingOptions:
    """Local bundling only: the image is never pulled, because the local step always succeeds."""
    return cdk.BundlingOptions(
        image=cdk.DockerImage.from_registry("local-bundling-only"),
        # jsii calls try_bundle(output_dir, options) positionally, unlike the generated stub's keywords.
        local=typing.cast(cdk.ILocalBundling, _CopyBundling()),
    )
