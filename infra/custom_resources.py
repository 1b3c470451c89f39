"""The provider function CDK shares between every ``AwsCustomResource`` of a stack (deploy-time API
calls: the concurrency reservation, the rule set activation), its log group, and the findings on it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.checkov_skips import skip_checkov
from infra.nag import acknowledge

__all__ = ["AWS_CUSTOM_RESOURCE_FUNCTION_ID", "describe_provider", "provider_log_group"]

# The construct id CDK gives the singleton function behind every AwsCustomResource in a stack.
AWS_CUSTOM_RESOURCE_FUNCTION_ID = "AWS679f53fac002430cb0da5b7982bd2287"


def provider_log_group(
    scope: Construct, *, retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy
) -> logs.LogGroup:
    """One log group for the shared provider: a singleton takes the log group of whichever custom
    resource creates it, so every custom resource of the stack must be given this same one."""
    log_group = logs.LogGroup(scope, "CustomResourceLogs", retention=retention, removal_policy=removal_policy)
    skip_checkov(
        log_group,
        {
            "CKV_AWS_158": "CloudWatch Logs encrypts every log group at rest; this one holds only the "
            "deploy-time API calls' requests and responses (function name, rule set name)."
        },
    )
    return log_group


def describe_provider(stack: cdk.Stack) -> None:
    """Acknowledge and skip, with reasons, what the scanners find on CDK's provider function, if any."""
    provider = stack.node.try_find_child(AWS_CUSTOM_RESOURCE_FUNCTION_ID)
    if provider is None:
        return
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
