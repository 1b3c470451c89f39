"""The shared email corpus: real-world messages kept beside the checkout, not in it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.support.constants import REPO_ROOT

CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "emails"
CORPUS_MISSING = (
    f"the shared email corpus is not here ({CORPUS}): it sits next to the repository as "
    "../shared/corpus/emails on the team's machines and is not part of a fresh clone"
)


@cache
def corpus_files() -> tuple[Path, ...]:
    """Every message of the corpus, by name; none when the corpus is absent."""
    return tuple(sorted(CORPUS.glob("*.eml"))) if CORPUS.is_dir() else ()


def skip_module_without_corpus() -> None:
    """Skip the calling test module, saying why, when the corpus is absent."""
    if not CORPUS.is_dir():
        pytest.skip(CORPUS_MISSING, allow_module_level=True)
