"""The SES side: receipt rule (and, by mode, its rule set and activation), plus SES's own grants.

Names are deterministic (from configuration), so the rule's ARN is known before the rule exists:
the bucket policy (or, with a KMS-encrypted bucket, the S3 action role's trust policy) and the
Lambda permission reference it as a plain string, and the rule then depends on them. No token
cycle, and SES can write its setup object and invoke the function the moment the rule is created.

How SES writes the raw message:

* SSE-S3 bucket: as ``ses.amazonaws.com``, allowed by the bucket policy for this account and rule
  (added here to a bucket of this app; an imported bucket's owner adds ``bucket_statement`` themselves).
* SSE-KMS bucket: through the S3 action's ``IamRoleArn``. SES assumes a role (trusted for this
  account and rule only) that may put objects under the inbound prefix and use the key; with a
  role, SES uses the role and only the role for the action (SES developer guide, "Giving
  permissions to Amazon SES for email receiving"), so neither the bucket nor the key policy names
  SES.

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
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import custom_resources as cr
from constructs import Construct

from ses_to_connect_cdk.config import RuleSetMode, TlsPolicy
from ses_to_connect_cdk.custom_resources import deploy_call
from ses_to_connect_cdk.nag import acknowledge, wildcard_resource_rule

__all__ = ["InboundReceiptRule", "InboundReceiptRuleProps"]


@dataclass(frozen=True)
class InboundReceiptRuleProps:
    mode: RuleSetMode
    rule_set_name: str
    rule_name: str
    recipients: tuple[str, ...]
    receipt_rule_arn: str
    account: str
    mail_bucket: s3.IBucket
    function: lambda_.IFunction
    # Where SES stores raw mail in the bucket.
    inbound_prefix: str = "inbound/"
    tls_policy: TlsPolicy = TlsPolicy.REQUIRE
    rule_after: str | None = None
    # The bucket's SSE-KMS key: SES then writes through an S3 action role allowed to use it.
    mail_key: kms.IKey | None = None
    # The activation's deploy-time call (create-and-activate only): its provider's log group.
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
    ``create-and-activate``), ``lambda_permission``, and how SES writes: ``bucket_statement`` (SSE-S3;
    ``bucket_statement_added`` is False for an imported bucket, whose owner must add it) or
    ``write_role`` and ``write_policy`` (SSE-KMS); the other pair is None."""

    def __init__(self, scope: Construct, construct_id: str, props: InboundReceiptRuleProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        mail = props.mail_bucket
        self.inbound_objects = mail.arn_for_objects(f"{props.inbound_prefix}*")

        # SES's access, scoped to this account and this exact rule.
        self.bucket_statement: iam.PolicyStatement | None = None
        self.bucket_statement_added = False
        self.write_role: iam.Role | None = None
        self.write_policy: iam.Policy | None = None
        if props.mail_key is None:
            self.bucket_statement = iam.PolicyStatement(
                sid="AllowSesToStoreInboundMail",
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.inbound_objects],
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": props.account,
                        "aws:SourceArn": props.receipt_rule_arn,
                    }
                },
            )
            self.bucket_statement_added = mail.add_to_resource_policy(self.bucket_statement).statement_added
        else:
            self.write_role, self.write_policy = self._write_role(props, props.mail_key)
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
                            bucket_name=mail.bucket_name,
                            object_key_prefix=props.inbound_prefix,
                            iam_role_arn=self.write_role.role_arn if self.write_role else None,
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
        self.rule.node.add_dependency(self.lambda_permission)
        if mail.policy is not None:  # SES writes a setup object the moment the rule exists
            self.rule.node.add_dependency(mail.policy)
        if self.write_policy is not None:
            self.rule.node.add_dependency(self.write_policy)
        if self.rule_set is not None:
            self.rule.node.add_dependency(self.rule_set)

        self.activation: cr.AwsCustomResource | None = None
        if props.mode is RuleSetMode.CREATE_AND_ACTIVATE:
            self.activation = self._activate(props)

    def _write_role(self, props: InboundReceiptRuleProps, key: kms.IKey) -> tuple[iam.Role, iam.Policy]:
        """The role SES assumes to store raw mail in the SSE-KMS bucket (trust policy as documented)."""
        role = iam.Role(
            self,
            "SesWriteRole",
            assumed_by=iam.ServicePrincipal(
                "ses.amazonaws.com",
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": props.account,
                        "aws:SourceArn": props.receipt_rule_arn,
                    }
                },
            ),
            description="SES receipt rule's S3 action: stores inbound mail in the KMS-encrypted bucket",
        )
        policy = iam.Policy(
            self,
            "SesWritePolicy",
            statements=[
                iam.PolicyStatement(
                    sid="StoreInboundMail",
                    actions=["s3:PutObject"],
                    resources=[self.inbound_objects],
                ),
                iam.PolicyStatement(
                    sid="EncryptInboundMailWithTheKey",
                    # S3 asks KMS for the object's data key as the writer. Encrypt and GenerateDataKey
                    # are what the S3 action's IamRoleArn documentation lists; Decrypt is what SES's
                    # guide adds for SSE-KMS buckets (S3 needs it for multipart uploads).
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[key.key_arn],
                ),
            ],
        )
        policy.attach_to_role(role)
        acknowledge(
            policy,
            wildcard_resource_rule(self, self.inbound_objects),
            "SES names each raw message by its message id under the inbound prefix; the role may put "
            "objects there and nowhere else in the bucket.",
        )
        return role, policy

    def _activate(self, props: InboundReceiptRuleProps) -> cr.AwsCustomResource:
        call = cr.AwsSdkCall(
            service="SES",
            action="SetActiveReceiptRuleSet",
            parameters={"RuleSetName": props.rule_set_name},
            physical_resource_id=cr.PhysicalResourceId.of(f"active-receipt-rule-set-{props.rule_set_name}"),
        )
        activation = deploy_call(
            self,
            "Activate",
            log_retention=props.log_retention,
            removal_policy=props.removal_policy,
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
        )
        # Activate only once the rule is in the set, so the set never goes live empty.
        activation.node.add_dependency(self.rule)
        acknowledge(
            activation.node.find_child("CustomResourcePolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "ses:SetActiveReceiptRuleSet supports no resource-level permissions; '*' is the only possible "
            "Resource, and the statement allows nothing but that one action.",
        )
        return activation
