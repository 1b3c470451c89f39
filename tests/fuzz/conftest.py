"""Hypothesis profiles of the fuzz suite, and a summary of how many examples ran.

``fuzz-short`` (default): derandomized, so the README test command runs the same examples on
every machine and a failure is reproducible; no shrinking, so a failing run stays short; no
example database. ``fuzz-debug`` (``HYPOTHESIS_PROFILE=debug``): the same examples, shrunk.
``fuzz-long`` (``HYPOTHESIS_PROFILE=long``): random, 10,000 examples of the main property,
failures shrunk and kept in the (git-ignored) ``.hypothesis/`` database.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, Phase, settings

from . import ACTIVE_PROFILE, DEBUG_PROFILE, EXAMPLES, LONG_PROFILE, SECONDS, SHORT_PROFILE

# Generated MIME is large by design (thousands of headers, deep trees), so the size and speed
# health checks would only complain about the point of the exercise.
_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    SHORT_PROFILE,
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
    phases=[Phase.explicit, Phase.generate],
)
settings.register_profile(
    DEBUG_PROFILE,
    settings.get_profile(SHORT_PROFILE),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)
settings.register_profile(
    LONG_PROFILE,
    max_examples=10_000,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)


def pytest_report_header(config: pytest.Config) -> str:
    return f"fuzz profile: {ACTIVE_PROFILE}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many generated examples each property test ran (workers of pytest-xdist report nothing)."""
    if not EXAMPLES:
        return
    terminalreporter.section(f"fuzz examples ({ACTIVE_PROFILE})")
    for name, count in sorted(EXAMPLES.items()):
        terminalreporter.write_line(f"{name}: {count:,} examples in {SECONDS[name]:.1f} s")
    terminalreporter.write_line(f"total: {sum(EXAMPLES.values()):,} examples")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    """Wall-clock time of each test, for the examples summary."""
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        SECONDS[item.name] += time.perf_counter() - start
