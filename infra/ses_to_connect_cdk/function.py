"""The bridge function: code, runtime, layer, environment, log group, least-privilege role, failure path,
and the concurrency reservation that paces it toward Connect's request quota."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from ses_to_connect_cdk.bundling import code_bundling
from ses_to_connect_cdk.checkov_skips import skip_checkov
from ses_to_connect_cdk.custom_resources import deploy_call
from ses_to_connect_cdk.nag import acknowledge, wildcard_resource_rule
from ses_to_connect_cdk.paths import function_package

__all__ = [
    "ARCHITECTURE",
    "HANDLER",
    "LOG_GROUP_KMS_REASON",
    "RUNTIME",
    "BridgeFunction",
    "BridgeFunctionProps",
    "MailPrefixes",
    "log_retention",
    "powertools_layer_parameter",
]

HANDLER = "ses_to_connect.handler.lambda_handler"
# The interpreter the tests run on (a test compares the two): Python 3.13 changed email parsing
# (strict getaddresses), so tested and deployed minor versions must match. Powertools publishes its
# layer for it as /aws/service/powertools/python/{arm64,x86_64}/python3.13/<version>.
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_GROUP_KMS_REASON = (
    "CloudWatch Logs encrypts every log group at rest; these logs carry outcomes, reasons and counts, "
    "never bodies, subjects, addresses or file names (tested), so a customer managed key would protect "
    "nothing more."
)
_ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache", "**/*.egg-info"]

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """The CloudWatch Logs retention enum member for ``days`` (one of the allowed periods)."""
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(f"{days} is not a CloudWatch Logs retention period") from None


def powertools_layer_parameter(version: str, architecture: lambda_.Architecture = ARCHITECTURE) -> str:
    """The public SSM parameter holding the Powertools v3 layer ARN for this runtime and version."""
    arch = "arm64" if architecture.name == lambda_.Architecture.ARM_64.name else "x86_64"
    return f"/aws/service/powertools/python/{arch}/{RUNTIME.name}/{version}"


@dataclass(frozen=True)
class MailPrefixes:
    """Where in the mail bucket each kind of object lives (relative key prefixes ending in '/')."""

    inbound: str
    attachments: str
    quarantine: str


@dataclass(frozen=True)
class BridgeFunctionProps:
    """What the function is built with: values the stack's configuration has validated
    (``ses_to_connect_cdk.keys`` declares their defaults and ranges), so none has a default here."""

    environment: Mapping[str, str]
    connect_instance_arn: str
    mail_bucket: s3.IBucket
    failure_queue: sqs.IQueue
    powertools_version: str
    prefixes: MailPrefixes
    # Explicit layer ARN (e.g. where the versioned SSM parameter is missing); None: the SSM parameter.
    powertools_layer_arn: str | None
    memory_mb: int
    timeout_seconds: int
    # Applied at deploy time when the account's concurrency quota allows it (see _reserve_concurrency).
    reserved_concurrency: int | None
    retry_attempts: int
    max_event_age_seconds: int
    log_retention_days: int
    # X-Ray active tracing; the handler turns on Powertools Tracer from the TRACING variable.
    tracing: bool
    # The keys of the bucket and the queue when they use SSE-KMS (one key, or each its own); the
    # function gets Decrypt and GenerateDataKey on them, nothing else.
    data_keys: tuple[kms.IKey, ...] = ()
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN
    description: str = "SES receipt rule -> Amazon Connect StartEmailContact"
    extra_statements: tuple[iam.PolicyStatement, ...] = field(default=())

    def __post_init__(self) -> None:
        missing = {"CONNECT_INSTANCE_ID", "CONNECT_ADDRESSES", "MAIL_BUCKET"} - set(self.environment)
        if missing:
            raise ValueError(f"BridgeFunctionProps: environment lacks {', '.join(sorted(missing))}")


class BridgeFunction(Construct):
    """Public attributes: ``function``, ``role``, ``policy``, ``log_group``, ``layer``,
    ``event_invoke_config``, ``reservation`` (None without a reserved concurrency)."""

    def __init__(self, scope: Construct, construct_id: str, props: BridgeFunctionProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props

        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=log_retention(props.log_retention_days),
            removal_policy=props.removal_policy,
        )
        skip_checkov(self.log_group, {"CKV_AWS_158": LOG_GROUP_KMS_REASON})

        # A role of our own instead of AWSLambdaBasicExecutionRole: logs only to this log group.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="SES to Connect bridge: reads inbound mail, writes derived objects, starts contacts",
        )
        self.policy = iam.Policy(self, "Policy", statements=self._statements())
        self.policy.attach_to_role(self.role)
        self._acknowledge_scoped_wildcards()

        layer_arn = props.powertools_layer_arn or ssm.StringParameter.value_for_string_parameter(
            self, powertools_layer_parameter(props.powertools_version)
        )
        self.layer = lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", layer_arn)

        self.function = lambda_.Function(
            self,
            "Function",
            description=props.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(
                str(function_package()), exclude=_ASSET_EXCLUDES, bundling=code_bundling(RUNTIME)
            ),
            layers=[self.layer],
            role=self.role,
            memory_size=props.memory_mb,
            timeout=cdk.Duration.seconds(props.timeout_seconds),
            environment=dict(props.environment),
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE if props.tracing else None,
        )
        if props.tracing:
            self._acknowledge_xray_grant()
        # The role's permissions must exist before the function can run or be wired to SES.
        self.function.node.add_dependency(self.policy)
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "The runtime is the Python minor version the tests run on (a test compares them); email "
            "parsing changed between minor versions, so a newer runtime waits until the tests move to it.",
        )
        skip_checkov(
            self.function,
            {
                "CKV_AWS_115": "The reserved concurrency is set at deploy time by the ReservedConcurrency "
                "custom resource, only where the account's concurrency quota allows it (a new account's "
                "quota of 10 allows none), so it is not a property of the function.",
                "CKV_AWS_116": "Failed asynchronous invocations go to the on-failure destination (the SQS "
                "failure queue of the AsyncInvokeConfig), which records the error too; a DLQ would duplicate "
                "it.",
                "CKV_AWS_117": "The function calls only public AWS endpoints (S3, DynamoDB, SQS, Connect); a "
                "VPC would add NAT or endpoints and protect nothing.",
                "CKV_AWS_173": "The environment holds names and settings, no secrets; Lambda encrypts it at "
                "rest with an AWS managed key.",
            },
        )
        self.reservation = (
            self._reserve_concurrency(props.reserved_concurrency)
            if props.reserved_concurrency is not None
            else None
        )

        # Failure path: Lambda retries a failed asynchronous invocation, then sends the event
        # (with the error) to the queue. The role's sqs:SendMessage is what authorises that.
        self.event_invoke_config = lambda_.CfnEventInvokeConfig(
            self,
            "AsyncInvokeConfig",
            function_name=self.function.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=props.retry_attempts,
            maximum_event_age_in_seconds=props.max_event_age_seconds,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(
                    destination=props.failure_queue.queue_arn
                )
            ),
        )
        self.event_invoke_config.node.add_dependency(self.policy)

    def _reserve_concurrency(self, executions: int) -> cr.AwsCustomResource:
        """Reserve ``executions`` concurrent executions if the account can spare them, else leave none.

        Lambda refuses a reservation that leaves fewer than 100 unreserved executions in the account
        (PutFunctionConcurrency) with InvalidParameterValueException; a new account's quota of 10
        refuses every reservation. As a property of the function that would fail the whole deploy, so
        the call is made by a custom resource that ignores exactly that error: the stack deploys
        everywhere, and the pacing applies wherever the quota allows (the preflight reports which).
        """
        function_name = self.function.function_name
        reserve = cr.AwsSdkCall(
            service="Lambda",
            action="PutFunctionConcurrency",
            parameters={"FunctionName": function_name, "ReservedConcurrentExecutions": executions},
            # One id whatever the number: a new id would make CloudFormation replace the resource and
            # then delete the old one, whose on_delete would remove the reservation just made.
            physical_resource_id=cr.PhysicalResourceId.of("reserved-concurrency"),
            ignore_error_codes_matching="InvalidParameterValueException",
        )
        reservation = deploy_call(
            self,
            "ReservedConcurrency",
            log_retention=log_retention(self.props.log_retention_days),
            removal_policy=self.props.removal_policy,
            resource_type="Custom::ReservedConcurrency",
            on_create=reserve,
            on_update=reserve,
            # Setting "none" removes the resource, and with it the reservation.
            on_delete=cr.AwsSdkCall(
                service="Lambda",
                action="DeleteFunctionConcurrency",
                parameters={"FunctionName": function_name},
                ignore_error_codes_matching="ResourceNotFoundException",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"],
                        resources=[self.function.function_arn],
                    )
                ]
            ),
        )
        return reservation

    def _acknowledge_xray_grant(self) -> None:
        """Active tracing grants xray:PutTraceSegments/PutTelemetryRecords on "*" in the DefaultPolicy."""
        default_policy = self.role.node.try_find_child("DefaultPolicy")
        if default_policy is not None:
            acknowledge(
                default_policy,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "
                "CDK grants them on '*' for active tracing, as the X-Ray documentation requires.",
            )

    def _acknowledge_scoped_wildcards(self) -> None:
        """The only wildcards in the policy are object keys under one prefix and Connect's contact flows."""
        props = self.props
        prefixes = props.prefixes
        reasons = {
            prefixes.inbound: "SES names each raw message by its message id under this prefix; the "
            "function reads (and quarantine-copies) exactly those objects, nothing outside the prefix.",
            prefixes.attachments: "Attachment objects get generated names under this prefix; the "
            "function writes them and pre-signs GETs for Connect, nothing outside the prefix.",
            prefixes.quarantine: "Quarantined copies and their JSON records are named by message id "
            "under this prefix; the function writes them and reads them back for an operator's replay.",
        }
        for prefix, reason in reasons.items():
            acknowledge(self.policy, wildcard_resource_rule(self, self._objects(prefix)), reason)
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::{props.connect_instance_arn}/contact-flow/*]",
            "The Service Authorization Reference has listed StartEmailContact against the instance and, in "
            "newer copies, the contact flow it starts; an address's default flow is chosen in Connect, not "
            "here, so the grant covers the flows of the configured instance only.",
        )
        for kind in ("contact", "file"):
            acknowledge(
                self.policy,
                f"AwsSolutions-IAM5[Resource::{props.connect_instance_arn}/{kind}/*]",
                "Agents' replies are read (never changed) to thread the customer's answers: their contacts "
                "and stored messages have ids only Connect knows, within the configured instance only.",
            )

    def _objects(self, prefix: str) -> str:
        return self.props.mail_bucket.arn_for_objects(f"{prefix}*")

    def _statements(self) -> list[iam.PolicyStatement]:
        props = self.props
        prefixes = props.prefixes
        statements = [
            iam.PolicyStatement(
                sid="WriteOwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
            iam.PolicyStatement(
                sid="ReadStoredMail",
                # Inbound mail is read (and is the quarantine copy's source); an operator's replay
                # reads a quarantined copy and its JSON record.
                actions=["s3:GetObject"],
                resources=[self._objects(prefixes.inbound), self._objects(prefixes.quarantine)],
            ),
            iam.PolicyStatement(
                sid="WriteAttachmentsAndQuarantine",
                actions=["s3:PutObject"],
                resources=[self._objects(prefixes.attachments), self._objects(prefixes.quarantine)],
            ),
            iam.PolicyStatement(
                sid="PresignAttachmentsForConnect",
                # Connect downloads attachments through URLs pre-signed with this role's credentials.
                actions=["s3:GetObject"],
                resources=[self._objects(prefixes.attachments)],
            ),
            iam.PolicyStatement(
                sid="StartEmailContacts",
                actions=["connect:StartEmailContact"],
                # Copies of the Service Authorization Reference disagree on what StartEmailContact is
                # authorized against: January 2025 to January 2026 list the instance as required,
                # a mid-2026 copy the contact flow as optional, and a request without ContactFlowId
                # names no flow. Both resource types of this instance cover every reading
                # (tests/infra/test_infra_connect_grant.py); both ARNs name the instance (and its
                # region, which may differ from the function's), so no connect:InstanceId condition.
                resources=[props.connect_instance_arn, f"{props.connect_instance_arn}/contact-flow/*"],
            ),
            iam.PolicyStatement(
                sid="ReadAgentRepliesForThreading",
                # docs/threading.md: the Message-ID of an agent's reply, read from the message Connect
                # keeps of it. Which resource types IAM checks for these reads is not documented where
                # found: the instance, its contacts and its attached files cover each reading.
                actions=[
                    "connect:ListAssociatedContacts",
                    "connect:ListContactReferences",
                    "connect:GetAttachedFile",
                ],
                resources=[
                    props.connect_instance_arn,
                    f"{props.connect_instance_arn}/contact/*",
                    f"{props.connect_instance_arn}/file/*",
                ],
            ),
            iam.PolicyStatement(
                sid="SendFailedEventsToFailureQueue",
                actions=["sqs:SendMessage"],
                resources=[props.failure_queue.queue_arn],
            ),
            *props.extra_statements,
        ]
        if props.data_keys:
            statements.append(
                iam.PolicyStatement(
                    sid="UseDataKeyForMailAndQueue",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[key.key_arn for key in props.data_keys],
                )
            )
        return statements
