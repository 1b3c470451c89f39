"""Deploy-time API calls (the concurrency reservation, the rule set activation) as ``AwsCustomResource``s,
the log group of the provider function CDK shares between all of a stack's, and the findings on it.
"""

from __future__ import annotations

import typing
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from ses_to_connect_cdk.checkov_skips import skip_checkov
from ses_to_connect_cdk.nag import acknowledge

__all__ = ["AWS_CUSTOM_RESOURCE_FUNCTION_ID", "deploy_call"]

# The construct id CDK gives the singleton function behind every AwsCustomResource in a stack.
AWS_CUSTOM_RESOURCE_FUNCTION_ID = "AWS679f53fac002430cb0da5b7982bd2287"
LOG_GROUP_ID = "CustomResourceLogs"


def deploy_call(
    scope: Construct,
    construct_id: str,
    *,
    log_retention: logs.RetentionDays,
    removal_policy: cdk.RemovalPolicy,
    **props: Any,
) -> cr.AwsCustomResource:
    """An ``AwsCustomResource`` (``props`` as its own) whose provider logs to the stack's one log group.

    The provider is a singleton that takes the log group of whichever custom resource creates it, so
    the log group lives in the stack, made by the first call (which also describes the provider).
    """
    stack = cdk.Stack.of(scope)
    existing = stack.node.try_find_child(LOG_GROUP_ID)
    log_group = (
        typing.cast(logs.ILogGroup, existing)
        if existing is not None
        else _provider_log_group(stack, log_retention, removal_policy)
    )
    resource = cr.AwsCustomResource(
        scope, construct_id, log_group=log_group, install_latest_aws_sdk=False, **props
    )
    if existing is None:
        _describe_provider(stack)
    return resource


def _provider_log_group(
    stack: cdk.Stack, retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy
) -> logs.LogGroup:
    log_group = logs.LogGroup(stack, LOG_GROUP_ID, retention=retention, removal_policy=removal_policy)
    skip_checkov(
        log_group,
        {
            "CKV_AWS_158": "CloudWatch Logs encrypts every log group at rest; this one holds only the "
            "deploy-time API calls' requests and responses (function name, rule set name)."
        },
    )
    return log_group


def _describe_provider(stack: cdk.Stack) -> None:
    """Acknowledge and skip, with reasons, what the scanners find on CDK's provider function."""
    provider = stack.node.find_child(AWS_CUSTOM_RESOURCE_FUNCTION_ID)
    acknowledge(
        provider.node.find_child("ServiceRole"),
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "CDK's AwsCustomResource provider function always uses the AWS managed basic execution "
        "role for its CloudWatch logs; it runs only during deployments.",
    )
    skip_checkov(
        provider,
        {
            "CKV_AWS_115": "CDK's custom-resource provider runs only while CloudFormation deploys this "
            "stack, one call at a time; a reservation would take concurrency from the account for nothing.",
            "CKV_AWS_116": "CloudFormation invokes the provider synchronously and reports its failure as the "
            "failed deployment; there is no asynchronous event a DLQ could keep.",
            "CKV_AWS_117": "The provider calls only public AWS APIs (Lambda, SES) during deployments; a VPC "
            "would need NAT or endpoints and protect nothing.",
            "CKV_AWS_173": "CDK's provider has no environment variables of ours and holds no secrets.",
        },
    )
