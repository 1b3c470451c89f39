"""The pinned CDK CLI synthesizes with no AWS credentials and no network; cfn-lint finds no errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ses_to_connect_cdk.paths import REPO_ROOT

PINNED_CLI = "2.1148.1"
# CDK's own "DependsOn already implied by GetAtt" pattern (Function -> Role); harmless, and only a warning.
KNOWN_WARNINGS = {"W3005"}
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def test_the_cli_is_pinned_exactly() -> None:
    package = json.loads((REPO_ROOT / "package.json").read_text(encoding="utf-8"))
    assert package["devDependencies"] == {"aws-cdk": PINNED_CLI}
    assert package["private"] is True
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == PINNED_CLI


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    if shutil.which("npx") is None or not (REPO_ROOT / "node_modules" / ".bin" / "cdk").exists():
        pytest.fail("the pinned CDK CLI is not installed: run `npm ci` (make does)")
    outdir = tmp_path_factory.mktemp("cli-cdk.out")
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    env.update(
        {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "CDK_DISABLE_VERSION_CHECK": "1",
        }
    )
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(outdir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result, outdir


def test_cli_synth_succeeds_without_credentials(
    cli_synth: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, outdir = cli_synth
    assert result.returncode == 0, result.stderr
    assert (outdir / "SesToConnect.template.json").is_file()
    report = json.loads((outdir / "validation-report.json").read_text(encoding="utf-8"))
    nag = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert [r["conclusion"] for r in nag] == ["success"]
    assert nag[0]["violations"] == []


def test_cfn_lint_finds_no_errors(cli_synth: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, outdir = cli_synth
    assert result.returncode == 0, result.stderr
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    template = outdir / "SesToConnect.template.json"
    lint = subprocess.run(
        [str(cfn_lint), "--format", "json", "--regions", "us-east-1", "--", str(template)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    found = [(m["Level"], m["Rule"]["Id"], m["Message"]) for m in json.loads(lint.stdout)]
    assert [f for f in found if f[0] == "Error"] == []
    assert [f for f in found if f[0] == "Warning" and f[1] not in KNOWN_WARNINGS] == []
    assert lint.returncode in {0, 4}, lint.stderr  # 4: warnings only (the known W3005)
