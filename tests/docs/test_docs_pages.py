"""The commands and code blocks of docs/*.md, as printed; and the convention every page follows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ses_to_connect.metric_names import MetricName
from tests.docs import COMMAND_LANGUAGES, NOT_RUN, PAGES, REPO_ROOT, blocks, run_page


@pytest.mark.parametrize("page", [p.name for p in PAGES if p.parent.name == "docs"])
def test_every_command_and_program_of_the_page_runs_as_printed(page: str, tmp_path: Path) -> None:
    failures = run_page(REPO_ROOT / "docs" / page, tmp_path / "home")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("page", [p.name for p in PAGES])
def test_no_documented_command_sets_pythonpath(page: str) -> None:
    text = next(p for p in PAGES if p.name == page).read_text(encoding="utf-8")
    assert "PYTHONPATH=" not in text


def test_a_block_left_unrun_says_why_in_plain_view() -> None:
    unrun = [b for page in PAGES for b in blocks(page) if b.body.startswith(NOT_RUN)]
    for block in unrun:
        assert block.language in COMMAND_LANGUAGES, block
        reason = block.body.splitlines()[0].removeprefix(NOT_RUN).strip()
        assert len(reason) > 20, f"{block}: say why it is not run"
    # Only the benchmark, which measures for minutes, is left to its own make target.
    assert [str(b) for b in unrun] == ["docs/performance.md:9 (sh)"]


def test_the_blocks_are_found() -> None:
    """The extraction itself: the README's fenced blocks, in order, with their languages."""
    readme = [b.language for b in blocks(REPO_ROOT / "README.md")]
    assert readme.count("sh") >= 3 and "python" in readme


def test_the_operations_page_lists_exactly_the_metrics_the_function_emits() -> None:
    text = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    listing = text.split("- **Metrics**", 1)[1].split("\n- **", 1)[0]
    listed = set(re.findall(r"`([A-Z][a-z]+(?:[A-Z][a-z]+)*)`", listing))
    assert listed == {metric.value for metric in MetricName}
