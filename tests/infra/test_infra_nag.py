"""cdk-nag AwsSolutions runs on every synth: no open findings; each acknowledgment is scoped and reasoned."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_iam as iam

from ses_to_connect_cdk.application import build_app
from ses_to_connect_cdk.config import ConfigError
from tests.infra.infra_support import Synth, cdk_json_context

INSTANCE = "arn:aws:connect:us-east-1:111122223333:instance/00000000-0000-0000-0000-000000000000"
BRIDGE_POLICY = {
    "AwsSolutions-IAM5[Resource::<MailBucketC2C0137B.Arn>/inbound/*]",
    "AwsSolutions-IAM5[Resource::<MailBucketC2C0137B.Arn>/attachments/*]",
    "AwsSolutions-IAM5[Resource::<MailBucketC2C0137B.Arn>/quarantine/*]",
    f"AwsSolutions-IAM5[Resource::{INSTANCE}/contact-flow/*]",
    f"AwsSolutions-IAM5[Resource::{INSTANCE}/contact/*]",  # agents' replies (docs/threading.md)
    f"AwsSolutions-IAM5[Resource::{INSTANCE}/file/*]",
}
PROVIDER = (
    "SesToConnect/AWS679f53fac002430cb0da5b7982bd2287/ServiceRole",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
)
ALWAYS = {
    ("SesToConnect/Default/FailureQueue/Queue", "AwsSolutions-SQS3"),
    ("SesToConnect/Default/Bridge/Function", "AwsSolutions-L1"),
} | {("SesToConnect/Default/Bridge/Policy", rule) for rule in BRIDGE_POLICY}
# The concurrency reservation (default 2) is a deploy-time call through CDK's provider function.
RESERVED = {PROVIDER}
ACTIVATION = {
    ("SesToConnect/Default/Receipt/Activate/CustomResourcePolicy", "AwsSolutions-IAM5[Resource::*]"),
    PROVIDER,
}
KMS = {
    (
        "SesToConnect/Default/Receipt/SesWritePolicy",
        "AwsSolutions-IAM5[Resource::<MailBucketC2C0137B.Arn>/inbound/*]",
    ),
}


def nag_report(s: Synth) -> dict[str, Any]:
    reports = [r for r in s.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert len(reports) == 1, s.report
    report: dict[str, Any] = reports[0]
    return report


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("default", ALWAYS | RESERVED),
        ("inactive", ALWAYS | RESERVED),
        ("kms_activated", ALWAYS | ACTIVATION | KMS),
    ],
)
def test_no_open_findings_and_exactly_the_expected_acknowledgments(
    fixture: str, expected: set[tuple[str, str]], request: pytest.FixtureRequest
) -> None:
    report = nag_report(request.getfixturevalue(fixture))
    assert report["conclusion"] == "success"
    assert report["violations"] == []
    acknowledged = {(v["acknowledgedAt"], v["ruleName"]) for v in report["suppressedViolations"]}
    assert acknowledged == expected
    for violation in report["suppressedViolations"]:
        assert violation["acknowledgedId"] == f"AwsSolutions::{violation['ruleName']}"
        assert len(violation["reason"]) >= 40, violation
        # each acknowledgment sits on the one construct that owns the finding
        assert all(
            c["constructPath"].startswith(violation["acknowledgedAt"] + "/")
            for c in violation["violatingConstructs"]
        )


def test_an_unacknowledged_finding_fails_the_synth(tmp_path: Any) -> None:
    app, stack = build_app(cdk_json_context(), outdir=str(tmp_path))
    policy = iam.Policy(
        stack, "TooBroad", statements=[iam.PolicyStatement(actions=["s3:*"], resources=["*"])]
    )
    policy.attach_to_role(stack.ses_to_connect.bridge.role)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text(encoding="utf-8")
    assert "AwsSolutions-IAM5[Action::s3:*]" in report
    assert "AwsSolutions-IAM5[Resource::*]" in report
    assert "SesToConnect/TooBroad/Resource" in report


def test_a_region_without_ses_receiving_stops_the_synth_naming_the_receiving_regions(tmp_path: Any) -> None:
    context = cdk_json_context()
    context["connectInstanceArn"] = INSTANCE.replace("us-east-1", "eu-north-1")
    with pytest.raises(ConfigError, match=r"region: 'eu-north-1' has no SES email receiving") as raised:
        build_app(context, outdir=str(tmp_path))
    assert "deploy to a receiving region (ap-northeast-1, ap-southeast-1, " in str(raised.value)
    assert not (tmp_path / "manifest.json").exists()
