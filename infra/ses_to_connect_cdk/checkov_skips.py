"""checkov skips, recorded on the one resource each concerns, with the reason (like the cdk-nag
acknowledgments in :mod:`ses_to_connect_cdk.nag`).

checkov scans the synthesized templates (``make test``); it reads a resource's skips from its
``Metadata.checkov.skip`` list of ``{"id": ..., "comment": ...}``. A finding that is neither fixed
nor skipped here with a reason fails the scan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct

__all__ = ["skip_checkov"]


def skip_checkov(construct: IConstruct, reasons: Mapping[str, str]) -> None:
    """Skip each check id in ``reasons`` on ``construct``'s CloudFormation resource, saying why."""
    resource = construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
    if not isinstance(resource, cdk.CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to record checkov skips on")
    for check, reason in reasons.items():
        if len(reason) < 20:
            raise ValueError(f"skipping {check} needs a real reason, not {reason!r}")
    current: Any = resource.get_metadata("checkov") or {}
    skips = [*current.get("skip", []), *({"id": c, "comment": r} for c, r in reasons.items())]
    resource.add_metadata("checkov", {"skip": skips})
