"""The SES side: receipt rule (and, by mode, its rule set and activation), plus SES's own grants.

Names are deterministic (from configuration), so the rule's ARN is known before the rule exists:
the bucket policy, the Lambda permission and the KMS key policy reference it as a plain string,
and the rule then depends on them. No token cycle, and SES can write its setup object and
invoke the function the moment the rule is created.

Rule set modes:

* ``existing``: the rule is added to a rule set that already exists (normally the active one;
  an account has one active set per region). Nothing else in the account changes.
* ``create-inactive``: a new rule set is created and left inactive; mail does not flow until
  someone activates it.
* ``create-and-activate``: a new rule set is created and a custom resource calls
  ``ses:SetActiveReceiptRuleSet``, which REPLACES whatever set was active before.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ses as ses
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.config import RuleSetMode, TlsPolicy
from infra.mail_bucket import MailBucket
from infra.nag import acknowledge

__all__ = ["AWS_CUSTOM_RESOURCE_FUNCTION_ID", "InboundReceiptRule", "InboundReceiptRuleProps"]

# The construct id CDK gives the singleton function behind every AwsCustomResource in a stack.
AWS_CUSTOM_RESOURCE_FUNCTION_ID = "AWS679f53fac002430cb0da5b7982bd2287"


@dataclass(frozen=True)
class InboundReceiptRuleProps:
    mode: RuleSetMode
    rule_set_name: str
    rule_name: str
    recipients: tuple[str, ...]
    receipt_rule_arn: str
    account: str
    mail_bucket: MailBucket
    function: lambda_.IFunction
    tls_policy: TlsPolicy = TlsPolicy.REQUIRE
    rule_after: str | None = None
    # Log group of the activation custom resource's function (create-and-activate only).
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN

    def __post_init__(self) -> None:
        problems = []
        if not self.recipients:
            problems.append("recipients must not be empty")
        if not self.receipt_rule_arn.endswith(
            f"receipt-rule-set/{self.rule_set_name}:receipt-rule/{self.rule_name}"
        ):
            problems.append("receipt_rule_arn does not name this rule set and rule")
        if problems:
            raise ValueError("InboundReceiptRuleProps: " + "; ".join(problems))


class InboundReceiptRule(Construct):
    """Public attributes: ``rule``, ``rule_set`` (None in ``existing`` mode), ``activation`` (None unless
    ``create-and-activate``), ``lambda_permission``, ``bucket_statement``."""

    def __init__(self, scope: Construct, construct_id: str, props: InboundReceiptRuleProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        mail = props.mail_bucket

        # SES's access, scoped to this account and this exact rule.
        self.bucket_statement = mail.grant_ses_delivery(
            account=props.account, receipt_rule_arn=props.receipt_rule_arn
        )
        self.lambda_permission = lambda_.CfnPermission(
            self,
            "SesInvokePermission",
            action="lambda:InvokeFunction",
            function_name=props.function.function_arn,
            principal="ses.amazonaws.com",
            source_account=props.account,
            source_arn=props.receipt_rule_arn,
        )

        self.rule_set: ses.CfnReceiptRuleSet | None = None
        if props.mode is not RuleSetMode.EXISTING:
            self.rule_set = ses.CfnReceiptRuleSet(self, "RuleSet", rule_set_name=props.rule_set_name)

        self.rule = ses.CfnReceiptRule(
            self,
            "Rule",
            rule_set_name=props.rule_set_name,
            after=props.rule_after,
            rule=ses.CfnReceiptRule.RuleProperty(
                name=props.rule_name,
                enabled=True,
                recipients=list(props.recipients),
                # Verdict headers and event fields exist only with scanning on; the function's
                # verdict policy decides what to do with them (no drop_spam rule).
                scan_enabled=True,
                tls_policy=props.tls_policy.value,
                actions=[
                    # Order matters: the object is stored before the function runs.
                    ses.CfnReceiptRule.ActionProperty(
                        s3_action=ses.CfnReceiptRule.S3ActionProperty(
                            bucket_name=mail.bucket.bucket_name,
                            object_key_prefix=mail.props.inbound_prefix,
                            # No kms_key_arn: that is client-side encryption get_object cannot read.
                        )
                    ),
                    ses.CfnReceiptRule.ActionProperty(
                        lambda_action=ses.CfnReceiptRule.LambdaActionProperty(
                            function_arn=props.function.function_arn,
                            invocation_type="Event",
                        )
                    ),
                ],
            ),
        )
        self.rule.node.add_dependency(self.lambda_permission, mail.policy)
        if self.rule_set is not None:
            self.rule.node.add_dependency(self.rule_set)

        self.activation: cr.AwsCustomResource | None = None
        if props.mode is RuleSetMode.CREATE_AND_ACTIVATE:
            self.activation = self._activate(props)

    def _activate(self, props: InboundReceiptRuleProps) -> cr.AwsCustomResource:
        call = cr.AwsSdkCall(
            service="SES",
            action="SetActiveReceiptRuleSet",
            parameters={"RuleSetName": props.rule_set_name},
            physical_resource_id=cr.PhysicalResourceId.of(f"active-receipt-rule-set-{props.rule_set_name}"),
        )
        log_group = logs.LogGroup(
            self, "ActivationLogGroup", retention=props.log_retention, removal_policy=props.removal_policy
        )
        activation = cr.AwsCustomResource(
            self,
            "Activate",
            resource_type="Custom::SesActiveReceiptRuleSet",
            on_create=call,
            on_update=call,
            # No on_delete: deactivating on teardown could switch off a set someone activated
            # since. Teardown deactivates by hand first (docs/infrastructure.md).
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        # SetActiveReceiptRuleSet has no resource-level permissions: "*" is the only scope.
                        actions=["ses:SetActiveReceiptRuleSet"],
                        resources=["*"],
                    )
                ]
            ),
            install_latest_aws_sdk=False,
            log_group=log_group,
        )
        # Activate only once the rule is in the set, so the set never goes live empty.
        activation.node.add_dependency(self.rule)

        stack = cdk.Stack.of(self)
        provider = stack.node.find_child(AWS_CUSTOM_RESOURCE_FUNCTION_ID)
        acknowledge(
            activation.node.find_child("CustomResourcePolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "ses:SetActiveReceiptRuleSet supports no resource-level permissions; '*' is the only possible "
            "Resource, and the statement allows nothing but that one action.",
        )
        acknowledge(
            provider.node.find_child("ServiceRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's AwsCustomResource provider function always uses the AWS managed basic execution "
            "role for its CloudWatch logs; it runs only during deployments.",
        )
        return activation
