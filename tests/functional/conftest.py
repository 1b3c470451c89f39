"""Fixtures of the functional tests: fake AWS credentials everywhere, the handler on moto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import AWS_ENV_TO_CLEAR, FAKE_AWS_ENV, Bridge, bridge_env, running_bridge


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here may reach real AWS or read the developer's profile."""
    for name in AWS_ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bridge(fake_aws: None) -> Iterator[Bridge]:
    """The handler with its default test environment, a fresh bucket and a fresh stubber."""
    with running_bridge(bridge_env()) as running:
        yield running
