"""cdk-nag (3.x) wiring: the AwsSolutions pack on every synth, and scoped acknowledgments.

cdk-nag 3 plugs into CDK's own policy-validation API (``cdk.Validations``): findings fail the
synth until fixed or acknowledged. An acknowledgment here is always attached to one construct
(never a stack) and always carries the reason, so the audit trail reads from the code.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

__all__ = ["PLUGIN", "acknowledge", "add_nag_checks"]


def add_nag_checks(app: cdk.App) -> None:
    """Run the AwsSolutions rule pack when ``app`` synthesizes; any unacknowledged finding fails it."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


PLUGIN = "AwsSolutions"


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding (e.g. ``AwsSolutions-IAM5[Resource::...]``) on exactly one construct."""
    if len(reason) < 20:
        raise ValueError(f"acknowledgment of {rule_id} needs a real reason, not {reason!r}")
    # "<plugin>::<rule>" is the id the validation report asks for; a bare id is read as a legacy
    # annotation id and only matched by cdk-nag for backwards compatibility.
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=f"{PLUGIN}::{rule_id}", reason=reason))
