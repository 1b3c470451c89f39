"""What the construct packages, found where Python finds it, so that synth works from any folder and
from an installed package as from this repository.

The function's code is the ``ses_to_connect`` package wherever it is imported from (``lambda_src/``
here, ``site-packages`` in a CDK app of your own). The pins of what the asset vendors are
``requirements/lambda.txt`` (and ``lambda-no-deps.txt``) in this repository; installed, they are the
``ses-to-connect`` distribution's own requirements, which its wheel took from those same files.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import ses_to_connect

REPO_ROOT = Path(__file__).resolve().parents[2]  # this repository's root (not used once installed)
LAMBDA_REQUIREMENTS = REPO_ROOT / "requirements" / "lambda.txt"
# The function's packages installed without their dependencies; in the installed distribution's
# requirements they are the pins of the extra NO_DEPS_EXTRA.
NO_DEPS_REQUIREMENTS = REPO_ROOT / "requirements" / "lambda-no-deps.txt"
NO_DEPS_EXTRA = "outlook-rtf"
CDK_JSON = REPO_ROOT / "cdk.json"
DISTRIBUTION = "ses-to-connect"


def function_package() -> Path:
    """The folder of the function's package: what the code asset ships as ``ses_to_connect/``."""
    return Path(ses_to_connect.__file__).resolve().parent


def pinned_version(package: str, requirements: Path = LAMBDA_REQUIREMENTS) -> str:
    """The exact version of ``package`` the function is tested with: its pin in
    ``requirements/lambda.txt`` (its only pin), or in the installed distribution's requirements."""
    if requirements.is_file():
        lines, source = requirements.read_text(encoding="utf-8").splitlines(), str(requirements)
    else:
        try:
            required = importlib.metadata.requires(DISTRIBUTION) or []
        except importlib.metadata.PackageNotFoundError:
            raise RuntimeError(
                f"cannot tell which {package} the function needs: {DISTRIBUTION} is not installed "
                f"(pip install '{DISTRIBUTION}[cdk]')"
            ) from None
        no_deps = f'extra == "{NO_DEPS_EXTRA}"'
        # Not an extra's, but for the pins installed without their dependencies.
        lines = [line.split(";")[0] for line in required if ";" not in line or no_deps in line]
        source = f"the {DISTRIBUTION} {ses_to_connect.__version__} distribution's requirements"
    pin = re.compile(rf"^{re.escape(package)}(?:\[[^\]]*\])?==([0-9][0-9A-Za-z.]*)\s*(?:#.*)?$")
    for line in lines:
        match = pin.match(line.strip())
        if match:
            return match.group(1)
    raise ValueError(f"{source}: no exact pin '{package}==X.Y.Z' found")


def powertools_version(requirements: Path = LAMBDA_REQUIREMENTS) -> str:
    return pinned_version("aws-lambda-powertools", requirements)
