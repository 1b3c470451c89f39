"""Helpers for the infrastructure tests: context loading and one real synth per configuration."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from ses_to_connect_cdk.application import build_app
from ses_to_connect_cdk.construct import SesToConnect
from ses_to_connect_cdk.mail_bucket import MailBucket
from ses_to_connect_cdk.paths import CDK_JSON
from ses_to_connect_cdk.stack import SesToConnectStack


def cdk_json_context() -> dict[str, Any]:
    """A fresh copy of the context in cdk.json (the example configuration and the feature flags)."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return copy.deepcopy(context)


@dataclass(frozen=True)
class Synth:
    stack: SesToConnectStack
    template: dict[str, Any]
    report: dict[str, Any]

    @property
    def construct(self) -> SesToConnect:
        return self.stack.ses_to_connect

    @property
    def mail(self) -> MailBucket:
        """The mail bucket construct the stack created (it always does: it brings no bucket)."""
        assert self.construct.mail is not None
        return self.construct.mail

    @property
    def assertions(self) -> Template:
        return Template.from_json(self.template)

    def logical_id(self, construct: Any) -> str:
        """Logical id of an L2 construct's default child, or of an L1 resource."""
        element = construct.node.default_child if not isinstance(construct, cdk.CfnElement) else construct
        return self.stack.get_logical_id(element)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def only(self, resource_type: str) -> dict[str, Any]:
        found = list(self.resources(resource_type).values())
        assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
        return found[0]

    def properties(self, construct: Any) -> dict[str, Any]:
        props: dict[str, Any] = self.template["Resources"][self.logical_id(construct)]["Properties"]
        return props


def synthesize(overrides: Mapping[str, Any], outdir: Path) -> Synth:
    context = cdk_json_context()
    context.update(overrides)
    app, stack = build_app(context, outdir=str(outdir))
    assembly = app.synth()
    template = assembly.get_stack_artifact(stack.artifact_id).template
    report = json.loads((outdir / "validation-report.json").read_text(encoding="utf-8"))
    return Synth(stack=stack, template=template, report=report)


SynthFactory = Callable[[Mapping[str, Any]], Synth]


# The configurations the tests look at. DEFAULT is cdk.json as committed (existing rule set, SSE-S3).
DEFAULT: dict[str, Any] = {}
KMS_ACTIVATED: dict[str, Any] = {
    "ruleSetMode": "create-and-activate",
    "ruleSetName": None,
    "mailEncryption": "kms",
    "alarmEmail": "ops@example.com",
    "contactExpiryMinutes": 120,
    "sesRecipients": ["example.com"],
    "lambdaReservedConcurrency": "none",
    "removalPolicy": "destroy",
}
INACTIVE: dict[str, Any] = {
    "ruleSetMode": "create-inactive",
    "ruleSetName": "bridge-rules",
    "tlsPolicy": "Optional",
}
