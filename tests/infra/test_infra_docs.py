"""The configuration tables of docs/infrastructure.md are the ones the declarations generate."""

from __future__ import annotations

from pathlib import Path

import pytest

from ses_to_connect.settings import FUNCTION_SETTINGS
from ses_to_connect_cdk.config import CONTEXT_KEYS
from ses_to_connect_cdk.docs import COMMAND, DOC, main, render, tables


def test_the_docs_tables_are_generated_from_the_declarations() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert render(text) == text, f"docs/infrastructure.md is out of date: run {COMMAND}"


def test_every_key_and_every_variable_the_stack_fills_in_has_one_row() -> None:
    rows = [line.split(" | ") for table in tables().values() for line in table.splitlines()[2:]]
    assert sorted(row[0].removeprefix("| ") for row in rows) == sorted(
        [f"`{spec.key}`" for spec in CONTEXT_KEYS] + [f"`{s.env}`" for s in FUNCTION_SETTINGS if not s.key]
    )
    function_rows = {row[0].removeprefix("| "): row[1] for row in rows if len(row) == 7}
    assert all(function_rows[f"`{s.key}`"] == f"`{s.env}`" for s in FUNCTION_SETTINGS if s.key)


def test_a_stale_table_is_rewritten_and_the_check_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DOC.read_text(encoding="utf-8")
    row = "| `idempotencyTtlSeconds` | `IDEMPOTENCY_TTL_SECONDS` | integer | `604800` | 3600-31536000 |"
    assert row in text
    stale = text.replace(row, row.replace("`604800`", "`86400`"))
    assert render(stale) == text

    copy = tmp_path / "infrastructure.md"
    copy.write_text(stale, encoding="utf-8")
    monkeypatch.setattr("ses_to_connect_cdk.docs.DOC", copy)
    monkeypatch.setattr("ses_to_connect_cdk.docs.REPO_ROOT", copy.parent)
    assert main(["--check"]) == 1
    assert (
        "infrastructure.md is out of date: run make docs (python -m ses_to_connect_cdk.docs)"
        in capsys.readouterr().err
    )
    assert copy.read_text(encoding="utf-8") == stale
    assert main([]) == 0
    assert copy.read_text(encoding="utf-8") == text


def test_a_table_without_its_markers_is_an_error() -> None:
    text = DOC.read_text(encoding="utf-8").replace("<!-- END generated table: lambda -->", "")
    with pytest.raises(ValueError, match="expected one marked table each for"):
        render(text)
