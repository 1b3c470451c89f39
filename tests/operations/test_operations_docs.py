"""docs/operations.md lists every AWS action the operators' tools name when they cannot ask."""

from __future__ import annotations

import re

from ses_to_connect_cdk.paths import REPO_ROOT

ACTION = re.compile(r"\b(?:connect|ses|ssm|lambda|cloudformation|kms|sqs|s3|dynamodb):[A-Z][A-Za-z]+")


def _permissions_section() -> str:
    text = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    start = text.index("## Permissions of the operators' tools")
    return text[start : text.index("\n## ", start + 1)]


def test_every_action_preflight_names_is_documented() -> None:
    named = set(
        ACTION.findall(
            (REPO_ROOT / "tools" / "ses_to_connect_tools" / "operations" / "preflight.py").read_text(
                encoding="utf-8"
            )
        )
    )
    assert {"connect:DescribeEmailAddress", "connect:DescribeAttachedFilesConfiguration"} <= named
    documented = set(ACTION.findall(_permissions_section()))
    assert named - documented == set()


def test_kms_decrypt_is_listed_for_the_tools_that_read_encrypted_data() -> None:
    rows = {
        row.split("|")[1].strip(" `"): row
        for row in _permissions_section().splitlines()
        if row.startswith("| `")
    }
    for command in ("smoke", "redrive", "replay"):
        assert "with `kms`, `kms:Decrypt` on the stack key" in rows[command], command
