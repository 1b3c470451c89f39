"""Paths the stack needs, resolved from this file so that synth works from any directory."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC = REPO_ROOT / "lambda_src"
LAMBDA_REQUIREMENTS = REPO_ROOT / "requirements" / "lambda.txt"
CDK_JSON = REPO_ROOT / "cdk.json"


def pinned_version(package: str, requirements: Path = LAMBDA_REQUIREMENTS) -> str:
    """The exact version of ``package`` pinned in ``requirements/lambda.txt`` (its only pin)."""
    pin = re.compile(rf"^{re.escape(package)}(?:\[[^\]]*\])?==([0-9][0-9A-Za-z.]*)\s*(?:#.*)?$")
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = pin.match(line.strip())
        if match:
            return match.group(1)
    raise ValueError(f"{requirements}: no exact pin '{package}==X.Y.Z' found")


def powertools_version(requirements: Path = LAMBDA_REQUIREMENTS) -> str:
    return pinned_version("aws-lambda-powertools", requirements)
