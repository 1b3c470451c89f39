"""cdk-nag (3.x) wiring: the AwsSolutions pack on every synth, and scoped acknowledgments.

cdk-nag 3 plugs into CDK's own policy-validation API (``cdk.Validations``): findings fail the
synth until fixed or acknowledged. An acknowledgment here is always attached to one construct
(never a stack) and always carries the reason, so the audit trail reads from the code.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

__all__ = ["PLUGIN", "acknowledge", "add_nag_checks", "wildcard_resource_rule"]


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


def wildcard_resource_rule(scope: IConstruct, resource: str) -> str:
    """The rule id cdk-nag reports for a wildcard ``resource`` (a token or a string) in a policy.

    cdk-nag names the resource by flattening its CloudFormation form (its ``flattenCfnReference``):
    ``Fn::GetAtt`` becomes ``<Id.Attr>``, ``Ref`` becomes ``<Id>``, ``Fn::Join`` is joined and
    ``${...}`` is written ``<...>``; so the id is right whether the bucket is created here or imported.
    """
    return f"AwsSolutions-IAM5[Resource::{_flatten(cdk.Stack.of(scope).resolve(resource))}]"


def _flatten(node: Any) -> str:
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return str(delimiter).join(_flatten(item) for item in items)
    if "Fn::Sub" in node:
        return _flatten(node["Fn::Sub"])
    if "Fn::GetAtt" in node:
        logical_id, attribute = node["Fn::GetAtt"]
        return f"<{_flatten(logical_id)}.{_flatten(attribute)}>"
    if "Fn::ImportValue" in node:
        return _flatten(node["Fn::ImportValue"])
    if "Ref" in node:
        return f"<{_flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))
