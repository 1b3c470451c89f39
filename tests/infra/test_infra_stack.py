"""The synthesized template, resource by resource: exact properties and exact IAM statements."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from ses_to_connect_cdk.config import BridgeConfig
from ses_to_connect_cdk.paths import LAMBDA_REQUIREMENTS, powertools_version
from tests.infra.infra_support import Synth, SynthFactory, cdk_json_context
from tests.support.constants import CODE_ASSET_FOLDERS

INSTANCE_ARN = "arn:aws:connect:us-east-1:111122223333:instance/00000000-0000-0000-0000-000000000000"
# docs/threading.md: reads of agents' replies, on every resource type IAM may check them against.
READ_AGENT_REPLIES = {
    "Action": ["connect:GetAttachedFile", "connect:ListAssociatedContacts", "connect:ListContactReferences"],
    "Effect": "Allow",
    "Resource": [INSTANCE_ARN, f"{INSTANCE_ARN}/contact/*", f"{INSTANCE_ARN}/file/*"],
    "Sid": "ReadAgentRepliesForThreading",
}
ACCOUNT = "111122223333"


def get_att(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def objects(s: Synth, prefix: str) -> dict[str, Any]:
    """The template form of ``bucket.arn_for_objects(prefix + '*')`` for the mail bucket."""
    return {"Fn::Join": ["", [get_att(s.logical_id(s.construct.mail_bucket)), f"/{prefix}*"]]}


def config_of(s: Synth) -> BridgeConfig:
    return s.construct.config


# ---- mail bucket --------------------------------------------------------------------------


def test_mail_bucket_is_private_ssl_only_versioned_logged_and_retained(default: Synth) -> None:
    logical_id = default.logical_id(default.construct.mail_bucket)
    resource = default.template["Resources"][logical_id]
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"
    props = resource["Properties"]
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": default.logical_id(default.mail.access_log_bucket)},
        "LogFilePrefix": "mail-bucket/",
    }


def test_mail_bucket_lifecycle_per_prefix_including_noncurrent_versions(default: Synth) -> None:
    rules = default.properties(default.construct.mail_bucket)["LifecycleConfiguration"]["Rules"]
    abort = {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
    noncurrent = {"NoncurrentVersionExpiration": {"NoncurrentDays": 7}}
    assert rules == [
        {
            **abort,
            "ExpirationInDays": 30,
            "Id": "expire-inbound",
            **noncurrent,
            "Prefix": "inbound/",
            "Status": "Enabled",
        },
        {
            **abort,
            "ExpirationInDays": 7,
            "Id": "expire-attachments",
            **noncurrent,
            "Prefix": "attachments/",
            "Status": "Enabled",
        },
        {
            **abort,
            "ExpirationInDays": 90,
            "Id": "expire-quarantine",
            **noncurrent,
            "Prefix": "quarantine/",
            "Status": "Enabled",
        },
        {**abort, "Id": "noncurrent-versions-everywhere", **noncurrent, "Status": "Enabled"},
        {"ExpiredObjectDeleteMarker": True, "Id": "remove-expired-delete-markers", "Status": "Enabled"},
    ]


def test_kms_option_uses_the_stack_key_with_a_bucket_key(kms_activated: Synth) -> None:
    s = kms_activated
    resource = s.template["Resources"][s.logical_id(s.construct.mail_bucket)]
    assert resource["Properties"]["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "KMSMasterKeyID": get_att(s.logical_id(s.construct.key)),
                    "SSEAlgorithm": "aws:kms",
                },
            }
        ]
    }
    assert resource["DeletionPolicy"] == "Delete"  # removalPolicy: destroy


def test_access_log_bucket(default: Synth) -> None:
    s = default
    log_bucket = s.logical_id(s.mail.access_log_bucket)
    props = s.properties(s.mail.access_log_bucket)
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {
        "SSEAlgorithm": "AES256"  # server access logs can only be delivered to SSE-S3 buckets
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LifecycleConfiguration"]["Rules"] == [
        {
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            "ExpirationInDays": 90,
            "Id": "expire-access-logs",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
            "Status": "Enabled",
        }
    ]
    assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    policy = next(
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in s.resources("AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": log_bucket}
    )
    assert policy[-1] == {
        "Action": "s3:PutObject",
        "Condition": {
            "ArnLike": {"aws:SourceArn": get_att(s.logical_id(s.construct.mail_bucket))},
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
        },
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Resource": {"Fn::Join": ["", [get_att(log_bucket), "/mail-bucket/*"]]},
    }


def mail_bucket_policy(s: Synth) -> list[dict[str, Any]]:
    policy = s.properties(s.construct.mail_bucket.policy)
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def test_mail_bucket_policy_denies_plain_http_and_old_tls(default: Synth) -> None:
    bucket = default.logical_id(default.construct.mail_bucket)
    both = [get_att(bucket), {"Fn::Join": ["", [get_att(bucket), "/*"]]}]
    deny_http, deny_tls = mail_bucket_policy(default)[:2]
    assert deny_http == {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": both,
    }
    assert deny_tls == {
        "Action": "s3:*",
        "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": both,
    }


def allowed_for_ses_of_this_rule(s: Synth) -> dict[str, Any]:
    """What every grant to SES carries: the principal, this account and this exact rule."""
    return {
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": config_of(s).receipt_rule_arn}
        },
        "Effect": "Allow",
        "Principal": {"Service": "ses.amazonaws.com"},
    }


@pytest.mark.parametrize("fixture", ["default", "inactive"])
def test_ses_may_only_put_inbound_mail_for_this_account_and_rule(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    s: Synth = request.getfixturevalue(fixture)
    assert s.construct.receipt.write_role is None
    allows = [st for st in mail_bucket_policy(s) if st["Effect"] == "Allow"]
    assert allows == [
        {
            "Action": "s3:PutObject",
            **allowed_for_ses_of_this_rule(s),
            "Resource": objects(s, "inbound/"),
            "Sid": "AllowSesToStoreInboundMail",
        }
    ]


def test_kms_mode_writes_through_an_s3_action_role_trusted_for_this_rule_only(kms_activated: Synth) -> None:
    s = kms_activated
    receipt = s.construct.receipt
    assert receipt.write_role is not None and receipt.write_policy is not None
    assert receipt.bucket_statement is None
    # The role, and only the role, is used by the action: no bucket or key policy names SES.
    assert [st for st in mail_bucket_policy(s) if st["Effect"] == "Allow"] == []
    assert not any("ses.amazonaws.com" in str(st.get("Principal")) for st in key_statements(s))

    action = s.properties(receipt.rule)["Rule"]["Actions"][0]["S3Action"]
    assert action == {
        "BucketName": {"Ref": s.logical_id(s.construct.mail_bucket)},
        "IamRoleArn": get_att(s.logical_id(receipt.write_role)),
        "ObjectKeyPrefix": "inbound/",
    }
    assert "KmsKeyArn" not in action  # client-side encryption: unreadable for get_object
    assert s.properties(receipt.write_role)["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", **allowed_for_ses_of_this_rule(s)}
    ]
    policy = s.properties(receipt.write_policy)
    assert policy["Roles"] == [{"Ref": s.logical_id(receipt.write_role)}]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": objects(s, "inbound/"),
            "Sid": "StoreInboundMail",
        },
        {
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Effect": "Allow",
            "Resource": get_att(s.logical_id(s.construct.key)),
            "Sid": "EncryptInboundMailWithTheKey",
        },
    ]
    # SES writes its setup object when the rule is created: the role must be usable by then.
    rule = s.template["Resources"][s.logical_id(receipt.rule)]
    assert s.logical_id(receipt.write_policy) in rule["DependsOn"]


def test_receipt_rule_arn_is_the_exact_rule(default: Synth, kms_activated: Synth, inactive: Synth) -> None:
    prefix = f"arn:aws:ses:us-east-1:{ACCOUNT}:receipt-rule-set/"
    assert config_of(default).receipt_rule_arn == prefix + "default-rule-set:receipt-rule/ses-to-connect"
    assert config_of(kms_activated).receipt_rule_arn == prefix + "ses-to-connect:receipt-rule/ses-to-connect"
    assert config_of(inactive).receipt_rule_arn == prefix + "bridge-rules:receipt-rule/ses-to-connect"


# ---- function -----------------------------------------------------------------------------


def test_the_deployed_runtime_is_the_python_the_tests_run_on(default: Synth) -> None:
    runtime = default.properties(default.construct.bridge.function)["Runtime"]
    assert runtime == f"python{sys.version_info.major}.{sys.version_info.minor}"


def test_function_runtime_architecture_handler_and_sizes(default: Synth) -> None:
    props = default.properties(default.construct.bridge.function)
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "ses_to_connect.handler.lambda_handler"
    assert props["MemorySize"] == 512
    assert props["Timeout"] == 300
    # Set by the custom resource below where the account allows it, never by the function itself.
    assert "ReservedConcurrentExecutions" not in props
    assert props["Role"] == get_att(default.logical_id(default.construct.bridge.role))
    assert props["LoggingConfig"] == {
        "LogGroup": {"Ref": default.logical_id(default.construct.bridge.log_group)}
    }


def test_concurrency_is_reserved_at_deploy_time_where_the_account_quota_allows(default: Synth) -> None:
    s = default
    reservation = s.construct.bridge.reservation
    assert reservation is not None
    resource = s.only("Custom::ReservedConcurrency")
    function = {"Ref": s.logical_id(s.construct.bridge.function)}
    create = json.loads(_joined(resource["Properties"]["Create"], function))
    assert create == {
        "service": "Lambda",
        "action": "PutFunctionConcurrency",
        "parameters": {"FunctionName": "<function>", "ReservedConcurrentExecutions": 2},
        # Fixed, so a changed number updates in place (a replacement's delete would unreserve).
        "physicalResourceId": {"id": "reserved-concurrency"},
        # A quota that cannot spare the reservation (a new account's 10) leaves the function
        # unreserved instead of failing the deploy.
        "ignoreErrorCodesMatching": "InvalidParameterValueException",
    }
    assert json.loads(_joined(resource["Properties"]["Update"], function)) == create
    delete = json.loads(_joined(resource["Properties"]["Delete"], function))
    assert delete["action"] == "DeleteFunctionConcurrency"
    policy = s.properties(reservation.node.find_child("CustomResourcePolicy"))
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Action": ["lambda:DeleteFunctionConcurrency", "lambda:PutFunctionConcurrency"],
            "Effect": "Allow",
            "Resource": get_att(s.logical_id(s.construct.bridge.function)),
        }
    ]


def _joined(value: Any, function: dict[str, Any]) -> str:
    """A custom resource's call as JSON, with the function's name token shown as <function>."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join("<function>" if part == function else part for part in parts)


def test_unreserved_concurrency_when_set_to_none(kms_activated: Synth) -> None:
    assert kms_activated.construct.bridge.reservation is None
    assert kms_activated.resources("Custom::ReservedConcurrency") == {}


def test_powertools_layer_comes_from_the_public_ssm_parameter_of_the_pinned_version(default: Synth) -> None:
    version = powertools_version()
    assert f"aws-lambda-powertools=={version}" in LAMBDA_REQUIREMENTS.read_text(encoding="utf-8")
    layers = default.properties(default.construct.bridge.function)["Layers"]
    assert len(layers) == 1
    parameter = layers[0]["Ref"]
    assert default.template["Parameters"][parameter] == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": f"/aws/service/powertools/python/arm64/python3.13/{version}",
    }


def test_explicit_layer_arn_and_rule_position(synth_factory: SynthFactory) -> None:
    layer = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    s = synth_factory({"powertoolsLayerArn": layer, "ruleAfter": "spam-filter"})
    assert s.properties(s.construct.bridge.function)["Layers"] == [layer]
    assert not any("powertools" in name.lower() for name in s.template.get("Parameters", {}))
    assert s.only("AWS::SES::ReceiptRule")["Properties"]["After"] == "spam-filter"


def test_function_environment_is_exactly_the_settings_contract(default: Synth) -> None:
    env = default.properties(default.construct.bridge.function)["Environment"]["Variables"]
    assert env == {
        "CONNECT_INSTANCE_ID": "00000000-0000-0000-0000-000000000000",
        "CONNECT_REGION": "us-east-1",
        "CONNECT_ADDRESSES": '[{"address":"support@example.com"},'
        '{"address":"billing@example.com","contactFlowId":"11111111-1111-1111-1111-111111111111"}]',
        "MAIL_BUCKET": {"Ref": default.logical_id(default.construct.mail_bucket)},
        "IDEMPOTENCY_TABLE": {"Ref": default.logical_id(default.construct.tables.idempotency)},
        "IDEMPOTENCY_TTL_SECONDS": "604800",
        "THREADS_TABLE": {"Ref": default.logical_id(default.construct.tables.threads)},
        "THREAD_TTL_DAYS": "365",
        "FAILURE_QUEUE_URL": {"Ref": default.logical_id(default.construct.failure_queue)},
        "ATTACHMENT_URL_EXPIRY_SECONDS": "3600",
        "ATTACHMENT_UPLOADS": "4",
        "ATTACHMENT_EXTENSIONS": '[".csv",".doc",".docx",".heic",".jfif",".jpeg",".jpg",".mov",".mp4",".pdf",'
        '".png",".ppt",".pptx",".rtf",".txt",".wav",".xls",".xlsx"]',
        "ATTACHMENT_MAX_BYTES": "20000000",
        "INLINE_IMAGE_MIN_BYTES": "2048",
        "AWS_TIMEOUT_SECONDS": "10",
        "INBOUND_PREFIX": "inbound/",
        "QUARANTINE_PREFIX": "quarantine/",
        "ATTACHMENTS_PREFIX": "attachments/",
        "BODY_PREFERENCE": "html",
        "PREFER_REPLY_TO": "false",
        "STATIC_ATTRIBUTES": '{"channel":"email"}',
        "VERDICT_POLICY": "{}",  # cdk.json's override of spf:FAIL gives its default action
        "CONNECT_RETRY_MODE": "standard",
        "CONNECT_MAX_ATTEMPTS": "5",
        "CONNECT_TIMEOUT_SECONDS": "10",
        "POWERTOOLS_SERVICE_NAME": "ses-to-connect",
        "POWERTOOLS_METRICS_NAMESPACE": "SesToConnect",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "MALLOC_ARENA_MAX": "1",
    }


def test_contact_expiry_reaches_the_environment(kms_activated: Synth) -> None:
    env = kms_activated.properties(kms_activated.construct.bridge.function)["Environment"]["Variables"]
    assert env["CONTACT_EXPIRY_MINUTES"] == "120"


def test_function_code_is_the_lambda_src_folder_without_caches(default: Synth) -> None:
    resource = default.template["Resources"][default.logical_id(default.construct.bridge.function)]
    stage = cdk.Stage.of(default.stack)
    assert stage is not None
    asset_hash = resource["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    staged = Path(stage.outdir) / f"asset.{asset_hash}"
    assert (staged / "ses_to_connect" / "handler.py").is_file()
    assert (staged / "ses_to_connect" / "settings.py").is_file()
    assert not list(staged.rglob(".*_cache"))
    # The only byte-code is the asset's own, for the runtime (test_infra_bundling.py): none copied.
    assert {p.name.split(".")[1] for p in staged.rglob("*.pyc")} == {"cpython-313"}
    assert {p.parent.name for p in staged.rglob("*.pyc")} == {"__pycache__"}


def test_log_group_retention(default: Synth) -> None:
    resource = default.template["Resources"][default.logical_id(default.construct.bridge.log_group)]
    assert resource["Properties"] == {"RetentionInDays": 30}
    assert resource["DeletionPolicy"] == "Retain"


def test_role_is_assumed_by_lambda_only_and_has_no_managed_policies(default: Synth) -> None:
    props = default.properties(default.construct.bridge.role)
    assert props["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in props
    assert "Policies" not in props


def expected_function_statements(s: Synth) -> list[dict[str, Any]]:
    bridge = s.construct.bridge
    return [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": get_att(s.logical_id(bridge.log_group)),
            "Sid": "WriteOwnLogGroup",
        },
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": [objects(s, "inbound/"), objects(s, "quarantine/")],
            "Sid": "ReadStoredMail",
        },
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": [objects(s, "attachments/"), objects(s, "quarantine/")],
            "Sid": "WriteAttachmentsAndQuarantine",
        },
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": objects(s, "attachments/"),
            "Sid": "PresignAttachmentsForConnect",
        },
        {
            "Action": "connect:StartEmailContact",
            "Effect": "Allow",
            "Resource": [INSTANCE_ARN, f"{INSTANCE_ARN}/contact-flow/*"],
            "Sid": "StartEmailContacts",
        },
        READ_AGENT_REPLIES,
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": get_att(s.logical_id(s.construct.failure_queue)),
            "Sid": "SendFailedEventsToFailureQueue",
        },
        {
            "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Effect": "Allow",
            "Resource": get_att(s.logical_id(s.construct.tables.idempotency)),
            "Sid": "IdempotencyLedger",
        },
        {
            "Action": ["dynamodb:BatchGetItem", "dynamodb:PutItem"],
            "Effect": "Allow",
            "Resource": get_att(s.logical_id(s.construct.tables.threads)),
            "Sid": "ThreadIndex",
        },
    ]


def test_function_policy_is_exactly_least_privilege(default: Synth) -> None:
    props = default.properties(default.construct.bridge.policy)
    assert props["Roles"] == [{"Ref": default.logical_id(default.construct.bridge.role)}]
    assert props["PolicyDocument"]["Statement"] == expected_function_statements(default)


def test_kms_option_adds_decrypt_and_generate_data_key_on_its_own_key_only(kms_activated: Synth) -> None:
    s = kms_activated
    statements = s.properties(s.construct.bridge.policy)["PolicyDocument"]["Statement"]
    assert statements == [
        *expected_function_statements(s),
        {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Effect": "Allow",
            "Resource": get_att(s.logical_id(s.construct.key)),
            "Sid": "UseDataKeyForMailAndQueue",
        },
    ]


def all_allow_statements(s: Synth) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in s.template["Resources"].items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            documents.append(props["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents.extend(p["PolicyDocument"] for p in props.get("Policies", []))
        for document in documents:
            found.extend((logical_id, st) for st in document["Statement"] if st["Effect"] == "Allow")
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("fixture", ["default", "kms_activated", "inactive"])
def test_no_identity_statement_is_broader_than_needed(fixture: str, request: pytest.FixtureRequest) -> None:
    s: Synth = request.getfixturevalue(fixture)
    statements = all_allow_statements(s)
    assert statements
    for logical_id, statement in statements:
        actions = as_list(statement["Action"])
        resources = as_list(statement["Resource"])
        assert not any(a in {"*", "connect:*", "s3:*", "sqs:*", "kms:*", "logs:*"} for a in actions), (
            statement
        )
        assert not any(a.endswith("*") for a in actions), statement
        if "*" in resources:
            # The only exception: an action without resource-level permissions, alone in its statement.
            assert actions == ["ses:SetActiveReceiptRuleSet"], (logical_id, statement)


@pytest.mark.parametrize("fixture", ["default", "kms_activated"])
def test_connect_is_granted_on_the_configured_instance_only(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    s: Synth = request.getfixturevalue(fixture)
    connect = [
        st for _, st in all_allow_statements(s) if "connect:StartEmailContact" in as_list(st["Action"])
    ]
    # The instance and its flows (every reading of the reference: test_infra_connect_grant.py), nothing else.
    assert connect == [
        {
            "Action": "connect:StartEmailContact",
            "Effect": "Allow",
            "Resource": [INSTANCE_ARN, f"{INSTANCE_ARN}/contact-flow/*"],
            "Sid": "StartEmailContacts",
        }
    ]


# ---- failure path -------------------------------------------------------------------------


def test_async_invoke_config_retries_then_sends_to_the_failure_queue(default: Synth) -> None:
    s = default
    resource = s.template["Resources"][s.logical_id(s.construct.bridge.event_invoke_config)]
    assert resource["Properties"] == {
        "DestinationConfig": {"OnFailure": {"Destination": get_att(s.logical_id(s.construct.failure_queue))}},
        "FunctionName": {"Ref": s.logical_id(s.construct.bridge.function)},
        "MaximumEventAgeInSeconds": 21600,
        "MaximumRetryAttempts": 2,
        "Qualifier": "$LATEST",
    }
    assert s.logical_id(s.construct.bridge.policy) in resource["DependsOn"]


def test_failure_queue_is_encrypted_ssl_only_with_14_days_retention(default: Synth) -> None:
    s = default
    assert s.properties(s.construct.failure_queue) == {
        "MessageRetentionPeriod": 1209600,
        "SqsManagedSseEnabled": True,
    }
    queue_policy = s.only("AWS::SQS::QueuePolicy")["Properties"]
    assert queue_policy["Queues"] == [{"Ref": s.logical_id(s.construct.failure_queue)}]
    assert queue_policy["PolicyDocument"]["Statement"] == [
        {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": get_att(s.logical_id(s.construct.failure_queue)),
        }
    ]


def test_failure_queue_with_the_kms_option(kms_activated: Synth) -> None:
    s = kms_activated
    assert s.properties(s.construct.failure_queue) == {
        "KmsMasterKeyId": get_att(s.logical_id(s.construct.key)),
        "MessageRetentionPeriod": 1209600,
    }


# ---- SES ----------------------------------------------------------------------------------


def test_receipt_rule_stores_then_invokes_with_scanning_and_tls(default: Synth) -> None:
    s = default
    rule = s.template["Resources"][s.logical_id(s.construct.receipt.rule)]
    assert rule["Properties"] == {
        "RuleSetName": "default-rule-set",
        "Rule": {
            "Name": "ses-to-connect",
            "Enabled": True,
            "Recipients": ["support@example.com", "billing@example.com"],
            "ScanEnabled": True,
            "TlsPolicy": "Require",
            "Actions": [
                {
                    "S3Action": {
                        "BucketName": {"Ref": s.logical_id(s.construct.mail_bucket)},
                        "ObjectKeyPrefix": "inbound/",
                    }
                },
                {
                    "LambdaAction": {
                        "FunctionArn": get_att(s.logical_id(s.construct.bridge.function)),
                        "InvocationType": "Event",
                    }
                },
            ],
        },
    }
    assert sorted(rule["DependsOn"]) == sorted(
        [s.logical_id(s.construct.mail_bucket.policy), s.logical_id(s.construct.receipt.lambda_permission)]
    )


def test_no_drop_spam_rule_and_no_other_function(default: Synth) -> None:
    assert len(default.resources("AWS::SES::ReceiptRule")) == 1
    # The bridge and CDK's provider of the deploy-time concurrency reservation; no drop-spam function.
    assert sorted(default.resources("AWS::Lambda::Function")) == [
        "AWS679f53fac002430cb0da5b7982bd22872D164C4C",
        default.logical_id(default.construct.bridge.function),
    ]


def test_recipients_can_be_a_domain(kms_activated: Synth) -> None:
    assert kms_activated.only("AWS::SES::ReceiptRule")["Properties"]["Rule"]["Recipients"] == ["example.com"]


@pytest.mark.parametrize("fixture", ["default", "kms_activated", "inactive"])
def test_ses_may_invoke_the_function_only_for_this_account_and_rule(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    s: Synth = request.getfixturevalue(fixture)
    assert s.only("AWS::Lambda::Permission")["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": get_att(s.logical_id(s.construct.bridge.function)),
        "Principal": "ses.amazonaws.com",
        "SourceAccount": ACCOUNT,
        "SourceArn": config_of(s).receipt_rule_arn,
    }


# ---- key, alarms, topic -------------------------------------------------------------------


def key_statements(s: Synth) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = s.properties(s.construct.key)["KeyPolicy"]["Statement"]
    return statements


CLOUDWATCH_KEY_STATEMENT = {
    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
    "Condition": {
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    },
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Resource": "*",
    "Sid": "AllowCloudWatchAlarmsToUseTheKey",
}


@pytest.mark.parametrize("fixture", ["default", "kms_activated"])
def test_key_is_rotated_and_lets_only_this_accounts_alarms_publish(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    s: Synth = request.getfixturevalue(fixture)
    assert s.properties(s.construct.key)["EnableKeyRotation"] is True
    assert key_statements(s)[1:] == [CLOUDWATCH_KEY_STATEMENT]  # SES uses its role, not the key policy


def test_alarm_topic_is_encrypted_and_ssl_only(default: Synth) -> None:
    s = default
    topic = s.logical_id(s.construct.alarms.topic)
    assert s.properties(s.construct.alarms.topic) == {
        "DisplayName": "SES to Connect bridge alarms",
        "KmsMasterKeyId": get_att(s.logical_id(s.construct.key)),
    }
    assert s.only("AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": {"Ref": topic},
            "Sid": "AllowPublishThroughSSLOnly",
        },
        {
            "Action": "sns:Publish",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Resource": {"Ref": topic},
            "Sid": "AllowCloudWatchAlarmsOfThisAccount",
        },
    ]


def test_email_subscription_only_when_configured(default: Synth, kms_activated: Synth) -> None:
    assert default.resources("AWS::SNS::Subscription") == {}
    assert kms_activated.only("AWS::SNS::Subscription")["Properties"] == {
        "Endpoint": "ops@example.com",
        "Protocol": "email",
        "TopicArn": {"Ref": kms_activated.logical_id(kms_activated.construct.alarms.topic)},
    }


def _five_minutes(
    namespace: str, name: str, dimensions: list[dict[str, Any]], statistic: str, threshold: int
) -> dict[str, Any]:
    """An alarm on one 5-minute datapoint."""
    return {
        "Namespace": namespace,
        "MetricName": name,
        "Dimensions": dimensions,
        "Statistic": statistic,
        "Period": 300,
        "Threshold": threshold,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
    }


def test_alarms(default: Synth) -> None:
    s = default
    service = [{"Name": "service", "Value": "ses-to-connect"}]
    topic = [{"Ref": s.logical_id(s.construct.alarms.topic)}]
    function = [{"Name": "FunctionName", "Value": {"Ref": s.logical_id(s.construct.bridge.function)}}]
    common = {
        "AlarmActions": topic,
        "OKActions": topic,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }
    expected = {
        "FailureQueueDepth": {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {
                    "Name": "QueueName",
                    "Value": get_att(s.logical_id(s.construct.failure_queue), "QueueName"),
                }
            ],
            "Statistic": "Maximum",
            "Period": 300,
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
        },
        "FunctionErrors": {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": function,
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
        },
        "FunctionThrottles": {
            "Namespace": "AWS/Lambda",
            "MetricName": "Throttles",
            "Dimensions": function,
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 1,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 3,
        },
        "DestinationDeliveryFailures": {
            "Namespace": "AWS/Lambda",
            "MetricName": "DestinationDeliveryFailures",
            "Dimensions": function,
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
        },
        "QuarantineRate": {
            "Namespace": "SesToConnect",
            "MetricName": "Quarantined",
            "Dimensions": [{"Name": "service", "Value": "ses-to-connect"}],
            "Statistic": "Sum",
            "Period": 3600,
            "Threshold": 10,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
        },
        "AsyncEventAge": _five_minutes("AWS/Lambda", "AsyncEventAge", function, "Maximum", 900_000),
        "AsyncEventsDropped": _five_minutes("AWS/Lambda", "AsyncEventsDropped", function, "Sum", 1),
        "AttachmentUrlLength": _five_minutes("SesToConnect", "AttachmentUrlLength", service, "Maximum", 1800),
        "ContactsWithoutId": _five_minutes("SesToConnect", "ContactsWithoutId", service, "Sum", 1),
    }
    alarms = {a.node.id: s.properties(a) for a in s.construct.alarms.alarms}
    assert set(alarms) == set(expected)
    assert len(s.resources("AWS::CloudWatch::Alarm")) == len(expected)
    for name, props in alarms.items():
        description = props.pop("AlarmDescription")
        assert description
        assert props == {**common, **expected[name]}, name


def test_outputs(default: Synth) -> None:
    s = default
    outputs = {name: o["Value"] for name, o in s.template["Outputs"].items()}
    assert outputs == {
        "MxHost": "inbound-smtp.us-east-1.amazonaws.com",
        "MailBucketName": {"Ref": s.logical_id(s.construct.mail_bucket)},
        "FunctionName": {"Ref": s.logical_id(s.construct.bridge.function)},
        "LogGroupName": {"Ref": s.logical_id(s.construct.bridge.log_group)},
        "FailureQueueUrl": {"Ref": s.logical_id(s.construct.failure_queue)},
        "IdempotencyTableName": {"Ref": s.logical_id(s.construct.tables.idempotency)},
        "ThreadsTableName": {"Ref": s.logical_id(s.construct.tables.threads)},
        "RuleSetName": "default-rule-set",
        "RuleName": "ses-to-connect",
        "RuleSetActive": "unchanged: the rule was added to 'default-rule-set', which this stack does not "
        "activate (the preflight checks that it is the active set)",
        "ConnectInstanceArn": INSTANCE_ARN,
        "ReservedConcurrency": "2 requested",
        "AlarmTopicArn": {"Ref": s.logical_id(s.construct.alarms.topic)},
        "DashboardUrl": {
            "Fn::Join": [
                "",
                [
                    "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=",
                    {"Ref": s.logical_id(s.construct.dashboard.dashboard)},
                ],
            ]
        },
    }
    assert all(o["Description"] for o in s.template["Outputs"].values())


def test_outputs_name_the_key_and_the_rule_set_state_by_mode(kms_activated: Synth, inactive: Synth) -> None:
    kms = {name: o["Value"] for name, o in kms_activated.template["Outputs"].items()}
    assert kms["MailKeyArn"] == get_att(kms_activated.logical_id(kms_activated.construct.key))
    assert kms["RuleSetActive"] == "true: this stack made it the region's active rule set"
    assert kms["ReservedConcurrency"] == "none"
    plain = {name: o["Value"] for name, o in inactive.template["Outputs"].items()}
    assert "MailKeyArn" not in plain
    assert plain["RuleSetActive"] == (
        "false: activate with aws ses set-active-receipt-rule-set --rule-set-name bridge-rules "
        "(replaces the active set)"
    )


def test_stack_environment_is_explicit_and_needs_no_lookups(default: Synth) -> None:
    assert (default.stack.account, default.stack.region) == (ACCOUNT, "us-east-1")
    assert default.stack.stack_name == "SesToConnect"
    assert default.stack.node.root.node.try_get_context("availability-zones") is None


@pytest.mark.parametrize(
    ("table", "key", "ttl"), [("idempotency", "id", "expiration"), ("threads", "messageId", "expiresAt")]
)
def test_state_tables_are_on_demand_recoverable_and_expire(
    default: Synth, table: str, key: str, ttl: str
) -> None:
    props = default.properties(getattr(default.construct.tables, table))
    assert props["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": key, "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    resource = default.template["Resources"][default.logical_id(getattr(default.construct.tables, table))]
    assert resource["DeletionPolicy"] == "Retain"


def test_state_tables_use_the_stack_key_with_kms(kms_activated: Synth) -> None:
    props = kms_activated.properties(kms_activated.construct.tables.threads)
    assert props["SSESpecification"] == {
        "KMSMasterKeyId": get_att(kms_activated.logical_id(kms_activated.construct.key)),
        "SSEEnabled": True,
        "SSEType": "KMS",
    }


def test_function_code_vendors_the_pinned_pure_python_packages(default: Synth) -> None:
    resource = default.template["Resources"][default.logical_id(default.construct.bridge.function)]
    stage = cdk.Stage.of(default.stack)
    assert stage is not None
    staged = Path(stage.outdir) / f"asset.{resource['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    assert (staged / "tnefparse" / "__init__.py").is_file()
    assert sorted(p.name for p in staged.iterdir()) == CODE_ASSET_FOLDERS
    # No native modules: the synth machine's compiled ones would not load on the function's arm64.
    assert (staged / "charset_normalizer" / "md.py").is_file()
    assert [p.name for p in staged.rglob("*") if p.suffix in {".so", ".pyd"}] == []
    detect = (
        "import sys; sys.path.insert(0, sys.argv[1]); import charset_normalizer as cn; "
        "print(cn.md.__file__.startswith(sys.argv[1]), cn.from_bytes(sys.argv[2].encode('cp932')).best())"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", detect, str(staged), "こんにちは、お元気ですか"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["True", "こんにちは、お元気ですか"]


def test_three_addresses_synthesize_with_the_shipped_defaults(synth_factory: SynthFactory) -> None:
    """cdk.json as shipped plus a third address, passed as `-c connectAddresses=...` would be: the
    timeout follows the budget (385 s, rounded up to 420 s) instead of stopping the synth."""
    addresses = [*cdk_json_context()["connectAddresses"], {"address": "sales@example.com"}]
    s = synth_factory({"connectAddresses": json.dumps(addresses)})
    assert s.properties(s.construct.bridge.function)["Timeout"] == 420
    assert (
        len(
            json.loads(
                s.properties(s.construct.bridge.function)["Environment"]["Variables"]["CONNECT_ADDRESSES"]
            )
        )
        == 3
    )


def test_the_synth_prints_a_note_for_a_flow_arn_it_took_the_id_of(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import app as entry  # noqa: PLC0415 - the CDK entry point, a script at the repository root

    flow = "846ec553-a005-41c0-8341-0123456789ab"
    context = {
        **cdk_json_context(),
        "connectAddresses": [
            {"address": "a@example.com", "contactFlowId": f"{INSTANCE_ARN}/contact-flow/{flow}"}
        ],
    }
    config = BridgeConfig.from_context(context)

    class _App:
        def synth(self) -> None:
            pass

    monkeypatch.setattr(entry, "build_app", lambda: (_App(), type("Stack", (), {"config": config})()))
    assert entry.main() == 0
    assert capsys.readouterr().err == (
        f"note: connectAddresses[0].contactFlowId '{INSTANCE_ARN}/contact-flow/{flow}' is a flow ARN; its id "
        f"{flow} is used\n"
    )
