"""``SesToConnect`` inside a team's own stack: bring-your-own bucket, key and queue, conflicting props,
and the project's stack, whose logical ids must not move (a new id replaces a deployed bucket or table).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from ses_to_connect_cdk import BridgeConfig, SesToConnect, SesToConnectProps
from ses_to_connect_cdk.nag import add_nag_checks
from ses_to_connect_cdk.paths import REPO_ROOT
from tests.infra.infra_support import Synth, cdk_json_context

ACCOUNT, REGION = "111122223333", "us-east-1"
ENV = cdk.Environment(account=ACCOUNT, region=REGION)
INSTANCE = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/00000000-0000-0000-0000-000000000000"
TEAM_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-1111-1111-1111-111111111111"
QUEUE_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/22222222-2222-2222-2222-222222222222"
TEAM_QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:team-failures"
RULE_ARN = f"arn:aws:ses:{REGION}:{ACCOUNT}:receipt-rule-set/team-rules:receipt-rule/ses-to-connect"
# Only what the README example sets; every other key keeps its default.
TEAM_SETTINGS: dict[str, Any] = {
    "connectInstanceArn": INSTANCE,
    "connectAddresses": [{"address": "support@example.com"}],
    "ruleSetName": "team-rules",
}
# Every resource of the project's default stack, by logical id: deployed stacks keep these, so a
# changed id would replace the resource.
DEFAULT_LOGICAL_IDS = {
    "AWS679f53fac002430cb0da5b7982bd22872D164C4C",
    "AWS679f53fac002430cb0da5b7982bd2287ServiceRoleC1EA0FF2",
    *(
        f"Alarms{name}"
        for name in (
            "AsyncEventAge951FAE75",
            "AsyncEventsDroppedC11AC5B5",
            "AttachmentUrlLength2A68D72B",
            "ContactsWithoutIdBA0CEE2D",
            "DestinationDeliveryFailuresA1DB1F23",
            "FailureQueueDepthF84E55DB",
            "FunctionErrors8A553A4B",
            "FunctionThrottles9E6847CC",
            "QuarantineRate0B9547E1",
            "Topic3A2DFEBA",
            "TopicPolicyED3A875E",
        )
    ),
    "BridgeAsyncInvokeConfigB6BEA56F",
    "BridgeFunction6149FCA3",
    "BridgeLogGroupE1C67D8D",
    "BridgePolicy9A1BCA07",
    "BridgeReservedConcurrencyCustomResourcePolicyCA3DE834",
    "BridgeReservedConcurrencyFD3E3571",
    "BridgeRoleD155AD50",
    "CustomResourceLogsE45D40F0",
    "Dashboard7A714131",
    "FailureQueue0B31C32D",
    "FailureQueuePolicy6DAFE673",
    "Key9BCD29C7",
    "MailAccessLogs62D028DD",
    "MailAccessLogsPolicy1AED0DCE",
    "MailBucketC2C0137B",
    "MailBucketPolicy1B0A2EF9",
    "ReceiptRule50A2CE76",
    "ReceiptSesInvokePermission93F3F978",
    "StateIdempotency06E65588",
    "StateThreads389FB3BF",
}


@dataclass(frozen=True)
class TeamSynth:
    construct: SesToConnect
    template: dict[str, Any]
    template_file: Path
    nag: dict[str, Any]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def only(self, resource_type: str) -> dict[str, Any]:
        (resource,) = self.resources(resource_type).values()
        return resource

    def statements(self) -> dict[str, dict[str, Any]]:
        policy = self.template["Resources"][self.logical_id(self.construct.bridge.policy)]
        return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "Sid" in s}

    def logical_id(self, construct: Any) -> str:
        return cdk.Stack.of(self.construct).get_logical_id(construct.node.default_child)


def team_config(**overrides: Any) -> BridgeConfig:
    return BridgeConfig.from_context({**TEAM_SETTINGS, **overrides})


def synth_team_stack(
    outdir: Path, settings: Mapping[str, Any], bring: Any, env: cdk.Environment = ENV
) -> TeamSynth:
    """A team's app: its own stack and resources, the construct, cdk-nag; ``bring(stack)`` gives the props'
    existing_* objects."""
    flags = {k: v for k, v in cdk_json_context().items() if k.startswith("@aws-cdk")}
    app = cdk.App(context=flags, outdir=str(outdir))
    stack = cdk.Stack(app, "TeamStack", env=env)
    construct = SesToConnect(stack, "Mail", SesToConnectProps(config=team_config(**settings), **bring(stack)))
    add_nag_checks(app)
    assembly = app.synth()
    report = json.loads((outdir / "validation-report.json").read_text(encoding="utf-8"))
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    return TeamSynth(construct, artifact.template, outdir / artifact.template_file, nag)


def imported(stack: cdk.Stack) -> dict[str, Any]:
    key = kms.Key.from_key_arn(stack, "TeamKey", TEAM_KEY)
    return {
        "existing_bucket_obj": s3.Bucket.from_bucket_attributes(
            stack, "TeamBucket", bucket_name="team-mail", encryption_key=key
        ),
        "existing_key_obj": key,
        # A queue with a key of its own: the function must be granted it too.
        "existing_queue_obj": sqs.Queue.from_queue_attributes(
            stack, "TeamQueue", queue_arn=TEAM_QUEUE, key_arn=QUEUE_KEY
        ),
    }


def concrete_bucket(stack: cdk.Stack) -> dict[str, Any]:
    bucket = s3.Bucket(
        stack,
        "TeamBucket",
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        server_access_logs_prefix="access-logs/",
    )
    return {"existing_bucket_obj": bucket}


@pytest.fixture(scope="module")
def byo(tmp_path_factory: pytest.TempPathFactory) -> TeamSynth:
    return synth_team_stack(tmp_path_factory.mktemp("byo"), {"mailEncryption": "kms"}, imported)


@pytest.fixture(scope="module")
def team_bucket(tmp_path_factory: pytest.TempPathFactory) -> TeamSynth:
    return synth_team_stack(tmp_path_factory.mktemp("team-bucket"), {}, concrete_bucket)


# ---- bring your own bucket, key and queue ---------------------------------------------------


def test_brought_resources_are_used_and_none_is_created_twice(byo: TeamSynth) -> None:
    for kind in ("AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::KMS::Key", "AWS::SQS::Queue"):
        assert byo.resources(kind) == {}, kind
    function = byo.template["Resources"][byo.logical_id(byo.construct.bridge.function)]
    env = function["Properties"]["Environment"]["Variables"]
    assert env["MAIL_BUCKET"] == "team-mail"
    assert byo.construct.mail is None
    assert byo.construct.mail_key is byo.construct.key
    assert byo.only("AWS::SNS::Topic")["Properties"]["KmsMasterKeyId"] == TEAM_KEY
    # An imported key's policy cannot be changed from here: its owner adds the CloudWatch statement.
    assert byo.construct.key_policy_allows_alarms is False
    tables = byo.resources("AWS::DynamoDB::Table").values()
    assert [t["Properties"]["SSESpecification"]["KMSMasterKeyId"] for t in tables] == [TEAM_KEY, TEAM_KEY]


def test_the_function_is_granted_exactly_its_prefixes_the_queue_and_both_keys(byo: TeamSynth) -> None:
    statements = byo.statements()
    assert statements["ReadStoredMail"]["Resource"] == [
        "arn:aws:s3:::team-mail/inbound/*",
        "arn:aws:s3:::team-mail/quarantine/*",
    ]
    assert statements["WriteAttachmentsAndQuarantine"]["Resource"] == [
        "arn:aws:s3:::team-mail/attachments/*",
        "arn:aws:s3:::team-mail/quarantine/*",
    ]
    assert statements["PresignAttachmentsForConnect"]["Resource"] == "arn:aws:s3:::team-mail/attachments/*"
    assert statements["SendFailedEventsToFailureQueue"] == {
        "Action": "sqs:SendMessage",
        "Effect": "Allow",
        "Resource": TEAM_QUEUE,
        "Sid": "SendFailedEventsToFailureQueue",
    }
    assert statements["UseDataKeyForMailAndQueue"] == {
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Effect": "Allow",
        "Resource": [TEAM_KEY, QUEUE_KEY],
        "Sid": "UseDataKeyForMailAndQueue",
    }
    destination = byo.only("AWS::Lambda::EventInvokeConfig")["Properties"]["DestinationConfig"]
    assert destination == {"OnFailure": {"Destination": TEAM_QUEUE}}


def test_ses_writes_the_kms_bucket_through_a_role_granted_the_brought_key(byo: TeamSynth) -> None:
    rule = byo.only("AWS::SES::ReceiptRule")["Properties"]
    s3_action = rule["Rule"]["Actions"][0]["S3Action"]
    write_role = byo.construct.receipt.write_role
    assert write_role is not None
    assert s3_action == {
        "BucketName": "team-mail",
        "IamRoleArn": {"Fn::GetAtt": [byo.logical_id(write_role), "Arn"]},
        "ObjectKeyPrefix": "inbound/",
    }
    write_policy = byo.construct.receipt.write_policy
    assert write_policy is not None
    statements = byo.template["Resources"][byo.logical_id(write_policy)]["Properties"]["PolicyDocument"]
    assert [s["Resource"] for s in statements["Statement"]] == [
        "arn:aws:s3:::team-mail/inbound/*",
        TEAM_KEY,
    ]


def test_nag_finds_nothing_open_and_acknowledges_the_imported_bucket_prefixes(byo: TeamSynth) -> None:
    assert byo.nag["conclusion"] == "success"
    assert byo.nag["violations"] == []
    acknowledged = {(v["acknowledgedAt"], v["ruleName"]) for v in byo.nag["suppressedViolations"]}
    policy = "TeamStack/Mail/Bridge/Policy"
    for prefix in ("inbound", "attachments", "quarantine"):
        rule = f"AwsSolutions-IAM5[Resource::arn:aws:s3:::team-mail/{prefix}/*]"
        assert (policy, rule) in acknowledged
    assert (
        "TeamStack/Mail/Receipt/SesWritePolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:s3:::team-mail/inbound/*]",
    ) in acknowledged


def test_cfn_lint_finds_nothing_in_the_team_template(byo: TeamSynth) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    lint = subprocess.run(
        [str(cfn_lint), "--format", "json", "--regions", REGION, "--", str(byo.template_file)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    found = [(m["Level"], m["Rule"]["Id"], m["Message"]) for m in json.loads(lint.stdout)]
    # W3005: CDK's own "DependsOn already implied by GetAtt" (Function -> Role), as in the project's stack.
    assert [f for f in found if f[1] != "W3005"] == []


def test_a_bucket_of_the_same_app_gets_ses_statement_and_the_rule_waits_for_it(
    team_bucket: TeamSynth,
) -> None:
    (bucket_id,) = team_bucket.resources("AWS::S3::Bucket")  # the team's bucket, no second one
    assert team_bucket.construct.receipt.bucket_statement_added is True
    (policy_id, policy), *others = team_bucket.resources("AWS::S3::BucketPolicy").items()
    assert others == []
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    assert policy["Properties"]["PolicyDocument"]["Statement"][-1] == {
        "Action": "s3:PutObject",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": RULE_ARN}},
        "Effect": "Allow",
        "Principal": {"Service": "ses.amazonaws.com"},
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/inbound/*"]]},
        "Sid": "AllowSesToStoreInboundMail",
    }
    assert policy_id in team_bucket.only("AWS::SES::ReceiptRule")["DependsOn"]
    assert team_bucket.construct.key_policy_allows_alarms is True  # the construct's own key
    assert team_bucket.nag["conclusion"] == "success"
    assert team_bucket.nag["violations"] == []


# ---- conflicting props ----------------------------------------------------------------------


@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "TeamStack", env=ENV)


def build(stack: cdk.Stack, settings: Mapping[str, Any], **bring: Any) -> SesToConnect:
    return SesToConnect(stack, "Mail", SesToConnectProps(config=team_config(**settings), **bring))


def test_a_key_without_kms_mail_encryption_is_refused(stack: cdk.Stack) -> None:
    key = kms.Key.from_key_arn(stack, "Key", TEAM_KEY)
    with pytest.raises(ValueError) as raised:
        build(stack, {}, existing_key_obj=key)
    assert str(raised.value) == (
        "SesToConnectProps: existing_key_obj is given but mailEncryption is 's3-managed': set mailEncryption "
        "to 'kms' (the key then encrypts the mail data too) or leave the key out"
    )
    assert stack.node.find_child("Mail").node.children == []  # refused before creating anything


def test_bucket_conflicts_are_reported_together(stack: cdk.Stack) -> None:
    bucket = s3.Bucket.from_bucket_attributes(
        stack, "Bucket", bucket_name="team-mail", encryption_key=kms.Key.from_key_arn(stack, "Own", QUEUE_KEY)
    )
    with pytest.raises(ValueError) as raised:
        build(
            stack,
            {"inboundRetentionDays": 14, "accessLogRetentionDays": 30},
            existing_bucket_obj=bucket,
        )
    assert str(raised.value) == (
        "SesToConnectProps: existing_bucket_obj is encrypted with a KMS key but mailEncryption is "
        "'s3-managed': set mailEncryption to 'kms' so SES writes through a role allowed to use the key; "
        "existing_bucket_obj is given, so inboundRetentionDays, accessLogRetentionDays cannot apply (they "
        "shape the lifecycle of a bucket the construct creates): set the lifecycle on your bucket and leave "
        "these settings out"
    )


def test_kms_with_a_brought_bucket_needs_its_key_and_the_same_key(stack: cdk.Stack) -> None:
    plain = s3.Bucket.from_bucket_name(stack, "Plain", "team-mail")
    with pytest.raises(ValueError, match=r"pass the bucket's key as existing_key_obj"):
        build(stack, {"mailEncryption": "kms"}, existing_bucket_obj=plain)
    stack = cdk.Stack(cdk.App(), "TeamStack", env=ENV)
    encrypted = s3.Bucket.from_bucket_attributes(
        stack,
        "Encrypted",
        bucket_name="team-mail",
        encryption_key=kms.Key.from_key_arn(stack, "Own", QUEUE_KEY),
    )
    with pytest.raises(
        ValueError, match=r"^SesToConnectProps: existing_key_obj is not the key existing_bucket"
    ):
        build(
            stack,
            {"mailEncryption": "kms"},
            existing_bucket_obj=encrypted,
            existing_key_obj=kms.Key.from_key_arn(stack, "Other", TEAM_KEY),
        )


def test_the_stack_must_be_in_the_configured_account_and_region() -> None:
    stack = cdk.Stack(cdk.App(), "Elsewhere", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    with pytest.raises(ValueError, match=r"the stack's env \(111122223333, eu-west-1\) must be the config's"):
        build(stack, {})


# ---- the project's own stack ----------------------------------------------------------------


def test_the_default_stack_keeps_every_logical_id_and_uses_one_construct(default: Synth) -> None:
    assert set(default.template["Resources"]) == DEFAULT_LOGICAL_IDS
    assert [type(c) for c in default.stack.node.children if isinstance(c, SesToConnect)] == [SesToConnect]
    assert default.construct.node.path == "SesToConnect/Default"


def test_the_documented_example_synthesizes(tmp_path: Path) -> None:
    doc = (REPO_ROOT / "docs" / "infrastructure.md").read_text(encoding="utf-8")
    section = doc.split("## Use it inside your own CDK app", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "cdk.App()" in example
    # (CDK_OUTDIR cannot redirect it: jsii's node process has read the environment already.)
    runnable = example.replace("/path/to/ses-to-connect", str(REPO_ROOT)).replace(
        "cdk.App()", f"cdk.App(outdir={str(tmp_path)!r})"
    )
    exec(runnable, {})  # noqa: S102 - the example of our own docs
    template = json.loads((tmp_path / "TeamMail.template.json").read_text(encoding="utf-8"))
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::SES::ReceiptRule", "AWS::DynamoDB::Table"} <= types
    assert not types & {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SQS::Queue"}
    assert set(template["Outputs"]) == {"FunctionName"}
