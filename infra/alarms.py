"""Alarms on the failure path, the function and the quarantine rate, to an encrypted SNS topic."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

__all__ = ["BridgeAlarms", "BridgeAlarmsProps"]

_FIVE_MINUTES = cdk.Duration.minutes(5)


@dataclass(frozen=True)
class BridgeAlarmsProps:
    function: lambda_.IFunction
    failure_queue: sqs.IQueue
    # Must allow cloudwatch.amazonaws.com to use it (StackKey.allow_cloudwatch_alarms).
    topic_key: kms.IKey
    account: str
    metrics_namespace: str
    service_name: str
    quarantine_threshold: int = 10
    alarm_email: str | None = None

    def __post_init__(self) -> None:
        if self.quarantine_threshold < 1:
            raise ValueError("BridgeAlarmsProps: quarantine_threshold must be at least 1")


class BridgeAlarms(Construct):
    """Public attributes: ``topic``, ``failure_queue_depth``, ``errors``, ``throttles``,
    ``destination_failures``, ``quarantine_rate``, ``alarms`` (all of them)."""

    def __init__(self, scope: Construct, construct_id: str, props: BridgeAlarmsProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props

        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="SES to Connect bridge alarms",
            master_key=props.topic_key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": props.account}},
            )
        )
        if props.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(props.alarm_email))

        fn, queue = props.function, props.failure_queue
        self.failure_queue_depth = self._alarm(
            "FailureQueueDepth",
            queue.metric_approximate_number_of_messages_visible(period=_FIVE_MINUTES, statistic="Maximum"),
            threshold=1,
            description="Events failed every attempt and wait in the failure queue: inspect and replay them.",
        )
        self.errors = self._alarm(
            "FunctionErrors",
            fn.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            description="The bridge function raised errors; Lambda retries, then uses the failure queue.",
        )
        self.throttles = self._alarm(
            "FunctionThrottles",
            fn.metric_throttles(period=_FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            evaluation_periods=3,
            description=(
                "The function was throttled for 15 minutes in a row: the reserved concurrency holds a burst "
                "back (events wait and are retried for up to the maximum event age)."
            ),
        )
        self.destination_failures = self._alarm(
            "DestinationDeliveryFailures",
            fn.metric("DestinationDeliveryFailures", period=_FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            description="Lambda could not put failed events into the failure queue: those events are lost.",
        )
        quarantined = cw.Metric(
            namespace=props.metrics_namespace,
            metric_name="Quarantined",
            dimensions_map={"service": props.service_name},
            statistic="Sum",
            period=cdk.Duration.hours(1),
        )
        self.quarantine_rate = self._alarm(
            "QuarantineRate",
            quarantined,
            threshold=props.quarantine_threshold,
            description=(
                f"At least {props.quarantine_threshold} messages quarantined within an hour: check the "
                "verdict policy and the quarantine prefix."
            ),
        )
        self.alarms = (
            self.failure_queue_depth,
            self.errors,
            self.throttles,
            self.destination_failures,
            self.quarantine_rate,
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm
