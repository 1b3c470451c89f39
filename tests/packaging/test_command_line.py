"""``ses-to-connect``: one command line over every tool, as a user meets it (the installed console
script in a subprocess), its errors one line each, and the older module commands kept working."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

import ses_to_connect
from ses_to_connect_tools import cli
from ses_to_connect_tools.local_pipeline.simulate import eml_files
from ses_to_connect_tools.operations import __main__ as operations

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "ses-to-connect"
SAMPLE = REPO_ROOT / "samples" / "03-attachments.eml"
CONVERT = [
    "--instance-id",
    "00000000-0000-4000-8000-000000000000",
    "--connect-address",
    "support@example.com",
]
INSTANCE_IN_LONDON = (
    "connectInstanceArn=arn:aws:connect:eu-west-2:111122223333:instance/"
    + "1" * 8
    + "-0000-4000-8000-000000000000"
)


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def without_aws_credentials(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    return {
        **env,
        "HOME": str(home),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
        "AWS_CONFIG_FILE": str(home / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_version_is_the_packages_one_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout == f"ses-to-connect {ses_to_connect.__version__}\n"
    assert importlib.metadata.version("ses-to-connect") == ses_to_connect.__version__


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_command_has_its_help(command: str) -> None:
    if importlib.util.find_spec(cli.COMMANDS[command].module) is None:
        pytest.skip(f"{cli.COMMANDS[command].module} is not on this branch yet")
    done = run(command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ")
    assert command in done.stdout.splitlines()[0]


def test_the_overview_lists_every_command() -> None:
    done = run("--help")
    assert done.returncode == 0
    for command in cli.COMMANDS:
        assert f"  {command} " in done.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["bogus"],
            "ses-to-connect: error: unknown command 'bogus' (choose from convert, simulate, preview, ",
        ),
        (
            ["convert", "missing.eml", *CONVERT],
            "ses-to-connect: error: cannot read missing.eml: No such file",
        ),
        (
            ["convert", str(SAMPLE), *CONVERT[:2], "--connect-address", "not an address"],
            "ses-to-connect: error: --connect-address: 'not an address' is not an email address",
        ),
        (
            ["convert", str(SAMPLE), *CONVERT, "--spam", "MAYBE"],
            "ses-to-connect: error: argument --spam: invalid",
        ),
        (
            ["redrive", "--queue-url", "q", "--local", "--max", "many"],
            "ses-to-connect: error: argument --max: invalid",
        ),
        (["preflight", "--config", "nowhere/cdk.json"], "invalid deployment configuration"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(args: list[str], line: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert done.stderr.startswith(line)
    assert "Traceback" not in done.stderr


def test_a_missing_configuration_names_the_file_and_the_fix(tmp_path: Path) -> None:
    done = run("preflight", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        "cdk.json: no such file: run the command in your CDK app's folder or pass --config FILE"
        in done.stderr
    )


@pytest.mark.parametrize("command", [["redrive", "--queue-url", "q", "--function-name", "f"], ["preflight"]])
def test_no_aws_credentials_is_one_line(command: list[str], tmp_path: Path) -> None:
    env = without_aws_credentials(tmp_path)
    done = subprocess.run(
        [str(SCRIPT), *command], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert done.stderr.startswith("ses-to-connect: error: no AWS credentials found: configure them")
    assert done.stderr.count("\n") == 1


def test_redrive_calls_aws_in_the_configurations_region(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No region in the environment: the queue is found in the region the configuration names."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        url = boto3.client("sqs", region_name="eu-west-2").create_queue(QueueName="failures")["QueueUrl"]
        status = operations.main(["redrive", "--queue-url", url, "--local", "-c", INSTANCE_IN_LONDON])
    assert status == 0
    assert json.loads(capsys.readouterr().out) == {"succeeded": [], "failed": {}, "unreadable": []}


def test_a_closed_pipe_ends_quietly() -> None:
    for command in (f"{SCRIPT} convert", f"{sys.executable} -m ses_to_connect convert"):
        done = subprocess.run(
            ["bash", "-c", f"{command} {SAMPLE} {' '.join(CONVERT)} | head -1"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.stdout == "{\n"
        assert done.stderr == "", command


@pytest.mark.parametrize(
    "command",
    [["-m", "operations", "redrive", "--help"], ["-m", "local_pipeline", "simulate", "--help"]],
)
def test_the_older_module_commands_still_run(command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, *command], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m ")


def test_a_folder_of_upper_case_eml_files_is_mail(tmp_path: Path) -> None:
    for name in ("b.EML", "a.eml", "c.Eml", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in eml_files([tmp_path])] == ["a.eml", "b.EML", "c.Eml"]


def test_an_older_python_is_told_which_versions_are_supported() -> None:
    older = [
        found
        for name in ("python3.12", "python3.11", "python3.10", "python3")
        if (found := shutil.which(name)) is not None
    ]
    probe = "import sys; print(sys.version_info[:2] < (3, 13))"
    older = [
        path
        for path in older
        if subprocess.run([path, "-c", probe], capture_output=True, text=True, check=False).stdout.strip()
        == "True"
    ]
    if not older:
        pytest.skip("no Python older than 3.13 on this machine")
    roots = [str(REPO_ROOT / "infra"), str(REPO_ROOT / "lambda_src")]
    code = f"import sys; sys.path[:0] = {roots!r}; import ses_to_connect_cdk"
    done = subprocess.run([older[0], "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        "ImportError: ses-to-connect supports Python 3.13 only (the Lambda runtime it deploys is python3.13)"
    )
