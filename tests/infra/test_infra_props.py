"""Construct props validate themselves (before any resource exists); small helpers behave."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from ses_to_connect_cdk.config import RuleSetMode
from ses_to_connect_cdk.failure_queue import FailureQueueProps
from ses_to_connect_cdk.function import (
    BridgeFunctionProps,
    MailPrefixes,
    log_retention,
    powertools_layer_parameter,
)
from ses_to_connect_cdk.mail_bucket import MailBucket, MailBucketProps
from ses_to_connect_cdk.nag import acknowledge
from ses_to_connect_cdk.paths import powertools_version
from ses_to_connect_cdk.receipt_rule import InboundReceiptRuleProps

RULE_ARN = "arn:aws:ses:us-east-1:111122223333:receipt-rule-set/set:receipt-rule/rule"


@pytest.fixture(scope="module")
def scope() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Props", env=cdk.Environment(account="111122223333", region="us-east-1"))


@pytest.fixture(scope="module")
def mail(scope: cdk.Stack) -> MailBucket:
    return MailBucket(
        scope, "Mail", MailBucketProps("inbound/", "attachments/", "quarantine/", 30, 7, 90, 7, 90)
    )


def test_failure_queue_retention_is_at_most_14_days() -> None:
    with pytest.raises(ValueError, match="retention_days must be 1-14"):
        FailureQueueProps(retention_days=15)


def test_function_props_need_the_variables_the_function_requires(scope: cdk.Stack, mail: MailBucket) -> None:
    queue = sqs.Queue(scope, "Queue")
    with pytest.raises(ValueError) as caught:
        BridgeFunctionProps(
            environment={"CONNECT_INSTANCE_ID": "x"},
            connect_instance_arn="arn",
            mail_bucket=mail.bucket,
            failure_queue=queue,
            powertools_version="3.37.0",
            prefixes=MailPrefixes("inbound/", "attachments/", "quarantine/"),
            powertools_layer_arn=None,
            memory_mb=512,
            timeout_seconds=300,
            reserved_concurrency=2,
            retry_attempts=2,
            max_event_age_seconds=21600,
            log_retention_days=30,
            tracing=False,
        )
    assert str(caught.value) == "BridgeFunctionProps: environment lacks CONNECT_ADDRESSES, MAIL_BUCKET"


def test_receipt_rule_props_check_the_arn_names_the_rule(scope: cdk.Stack, mail: MailBucket) -> None:
    function = lambda_.Function.from_function_name(scope, "Fn", "fn")
    with pytest.raises(ValueError, match="receipt_rule_arn does not name this rule set and rule"):
        InboundReceiptRuleProps(
            mode=RuleSetMode.EXISTING,
            rule_set_name="set",
            rule_name="other",
            recipients=("a@example.com",),
            receipt_rule_arn=RULE_ARN,
            account="111122223333",
            mail_bucket=mail.bucket,
            function=function,
        )


def test_acknowledgments_need_a_reason(scope: cdk.Stack) -> None:
    with pytest.raises(ValueError, match="needs a real reason"):
        acknowledge(scope, "AwsSolutions-S1", "because")


def test_powertools_version_is_read_from_the_requirements(tmp_path: Path) -> None:
    requirements = tmp_path / "lambda.txt"
    requirements.write_text(
        "# pins\nboto3==1.0\naws-lambda-powertools==3.37.0  # layer version\n", encoding="utf-8"
    )
    assert powertools_version(requirements) == "3.37.0"
    requirements.write_text("aws-lambda-powertools>=3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("no exact pin 'aws-lambda-powertools==X.Y.Z' found")):
        powertools_version(requirements)


def test_layer_parameter_paths() -> None:
    assert powertools_layer_parameter("3.37.0") == "/aws/service/powertools/python/arm64/python3.13/3.37.0"
    assert (
        powertools_layer_parameter("3.37.0", lambda_.Architecture.X86_64)
        == "/aws/service/powertools/python/x86_64/python3.13/3.37.0"
    )


def test_log_retention_accepts_only_cloudwatch_periods() -> None:
    assert log_retention(30) is cdk.aws_logs.RetentionDays.ONE_MONTH
    with pytest.raises(ValueError, match="10 is not a CloudWatch Logs retention period"):
        log_retention(10)
