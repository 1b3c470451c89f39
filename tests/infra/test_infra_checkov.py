"""checkov, an outside IaC scanner, on the synthesized templates of both encryption modes.

Every finding is either fixed or skipped on its resource with a reason (``ses_to_connect_cdk.checkov_skips``);
the scan must report 0 failures. A deliberately careless template in the same run proves the
scan really checks. checkov runs from its own virtualenv (``.venv-checkov``, made by ``make``) so
that its many dependencies never meet the project's pins.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ses_to_connect_cdk.paths import REPO_ROOT
from tests.infra.infra_support import Synth

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
CARELESS = {
    "Resources": {
        "PlainBucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "PlainQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
    }
}
# What is skipped, where, in each mode: (resource, check). Anything new must be fixed or reasoned.
FUNCTION = "AWS::Lambda::Function.BridgeFunction6149FCA3"
PROVIDER = "AWS::Lambda::Function.AWS679f53fac002430cb0da5b7982bd22872D164C4C"
LAMBDA_CHECKS = ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173")
BOTH_MODES = {
    ("AWS::Logs::LogGroup.BridgeLogGroupE1C67D8D", "CKV_AWS_158"),
    ("AWS::Logs::LogGroup.CustomResourceLogsE45D40F0", "CKV_AWS_158"),
    ("AWS::S3::Bucket.MailAccessLogs62D028DD", "CKV_AWS_18"),
    *((FUNCTION, check) for check in LAMBDA_CHECKS),
    *((PROVIDER, check) for check in LAMBDA_CHECKS),
}
S3_MANAGED_ONLY = {
    ("AWS::SQS::Queue.FailureQueue0B31C32D", "CKV_AWS_27"),
    ("AWS::DynamoDB::Table.StateIdempotency06E65588", "CKV_AWS_119"),
    ("AWS::DynamoDB::Table.StateThreads389FB3BF", "CKV_AWS_119"),
}


@pytest.fixture(scope="module")
def scan(default: Synth, kms_activated: Synth, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make test` (it creates .venv-checkov)")
    folder = tmp_path_factory.mktemp("checkov")
    for name, template in (
        ("s3-managed", default.template),
        ("kms", kms_activated.template),
        ("careless", CARELESS),
    ):
        (folder / f"{name}.template.json").write_text(json.dumps(template), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))}
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(folder),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--compact",
            "--skip-download",  # no network: no guideline links, no platform policies
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert result.returncode in {0, 1}, result.stderr  # 1: failures found (the careless template)
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["check_type"] == "cloudformation"
    return report


def results(report: dict[str, Any], kind: str, template: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = report["results"][kind]
    return [r for r in found if Path(r["file_path"]).name == f"{template}.template.json"]


@pytest.mark.parametrize(
    ("template", "expected"), [("s3-managed", BOTH_MODES | S3_MANAGED_ONLY), ("kms", BOTH_MODES)]
)
def test_no_failures_and_every_skip_has_its_reason(
    scan: dict[str, Any], template: str, expected: set[tuple[str, str]]
) -> None:
    assert scan["summary"]["parsing_errors"] == 0
    assert [(r["resource"], r["check_id"]) for r in results(scan, "failed_checks", template)] == []
    skipped = results(scan, "skipped_checks", template)
    assert {(r["resource"], r["check_id"]) for r in skipped} == expected
    for skip in skipped:
        assert len(skip["check_result"]["suppress_comment"]) >= 60, skip["check_id"]
    assert len(results(scan, "passed_checks", template)) >= 60


def test_the_scan_really_checks(scan: dict[str, Any]) -> None:
    failed = {(r["resource"], r["check_id"]) for r in results(scan, "failed_checks", "careless")}
    assert ("AWS::SQS::Queue.PlainQueue", "CKV_AWS_27") in failed  # not encrypted
    assert ("AWS::S3::Bucket.PlainBucket", "CKV_AWS_18") in failed  # no access logging
    assert ("AWS::S3::Bucket.PlainBucket", "CKV_AWS_21") in failed  # not versioned
