"""Paths the stack needs, resolved from this file so that synth works from any directory."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = REPO_ROOT / "lambda_src"
LAMBDA_REQUIREMENTS = REPO_ROOT / "requirements" / "lambda.txt"
CDK_JSON = REPO_ROOT / "cdk.json"

_POWERTOOLS_PIN = re.compile(r"^aws-lambda-powertools(?:\[[^\]]*\])?==([0-9][0-9A-Za-z.]*)\s*(?:#.*)?$")


def powertools_version(requirements: Path = LAMBDA_REQUIREMENTS) -> str:
    """The exact Powertools version pinned in ``requirements/lambda.txt`` (the only place it is pinned)."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = _POWERTOOLS_PIN.match(line.strip())
        if match:
            return match.group(1)
    raise ValueError(f"{requirements}: no exact pin 'aws-lambda-powertools==X.Y.Z' found")
