"""Shared fixtures: each configuration is synthesized once per session (jsii synth is slow).

A synth here is the real one: the cdk.json context (feature flags included), the cdk-nag
AwsSolutions checks, and ``app.synth()``, which fails on any unacknowledged finding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.infra.infra_support import DEFAULT, INACTIVE, KMS_ACTIVATED, Synth, SynthFactory, synthesize


@pytest.fixture(scope="session")
def synth_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthFactory]:
    cache: dict[str, Synth] = {}

    def factory(overrides: Mapping[str, Any]) -> Synth:
        key = json.dumps(overrides, sort_keys=True)
        if key not in cache:
            cache[key] = synthesize(overrides, tmp_path_factory.mktemp("cdk.out"))
        return cache[key]

    yield factory


@pytest.fixture(scope="session")
def default(synth_factory: SynthFactory) -> Synth:
    return synth_factory(DEFAULT)


@pytest.fixture(scope="session")
def kms_activated(synth_factory: SynthFactory) -> Synth:
    return synth_factory(KMS_ACTIVATED)


@pytest.fixture(scope="session")
def inactive(synth_factory: SynthFactory) -> Synth:
    return synth_factory(INACTIVE)
