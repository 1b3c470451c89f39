"""One set of local services per test module; every test starts with a clean emulator.

Tests of one module share moto's state (bucket, tables, queue), so each builds messages
with unique SES message ids and Message-IDs; the emulator is reset before each test, and each
test's invocations run in a container of their own, so a setting one test changes never reaches
another.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ses_to_connect import handler
from ses_to_connect_tools.local_pipeline.aws import BUCKET, METRICS_NAMESPACE, LocalAws, local_aws
from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator

from . import container


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with local_aws() as running:
        # Every put becomes a version: the tests count uploads from S3 itself.
        running.client("s3").put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
        )
        yield running


@pytest.fixture
def emulator(aws: LocalAws) -> ConnectEmulator:
    assert aws.emulator is not None
    aws.emulator.reset()
    return aws.emulator


@pytest.fixture(autouse=True)
def fresh_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings and clients are cached per container; each test gets its own.

    The handler's Metrics read their namespace when the module was first imported, maybe before
    local_aws() set the stack's environment: give them the stack's namespace, and no metrics left
    over from another test (Powertools keeps them while metrics are disabled).
    """
    monkeypatch.setattr(handler.metrics, "namespace", METRICS_NAMESPACE)
    handler.metrics.clear_metrics()
    container(monkeypatch)
