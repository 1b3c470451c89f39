"""Alarms on the failure path, the function, Lambda's event queue, the quarantine rate and the
attachment URLs, to an encrypted SNS topic."""

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

from ses_to_connect.limits import MAX_S3_URL
from ses_to_connect.metric_names import MetricName

__all__ = ["URL_LENGTH_ALARM_THRESHOLD", "BridgeAlarms", "BridgeAlarmsProps", "bridge_metric"]

_FIVE_MINUTES = cdk.Duration.minutes(5)
# A pre-signed URL carries the role's session token (about 1,700 of Connect's 2,000 characters
# with a realistic token): warn while there is still room, before attachments start being skipped.
URL_LENGTH_ALARM_THRESHOLD = 1800
# Events normally wait seconds in Lambda's queue; this long means throttling holds them back.
_EVENT_AGE_ALARM_SECONDS = 900


@dataclass(frozen=True)
class BridgeAlarmsProps:
    function: lambda_.IFunction
    failure_queue: sqs.IQueue
    # Must allow cloudwatch.amazonaws.com to use it (StackKey.allow_cloudwatch_alarms).
    topic_key: kms.IKey
    account: str
    metrics_namespace: str
    service_name: str
    quarantine_threshold: int
    alarm_email: str | None
    # The function's maximum event age: the event-age alarm fires well before events expire.
    max_event_age_seconds: int
    # Alarm when mail arrives but no contact is created for this many hours (None: no such alarm).
    no_contacts_hours: int | None


def bridge_metric(
    namespace: str, service: str, name: MetricName, statistic: str, period: cdk.Duration
) -> cw.Metric:
    """One of the function's own metrics: Powertools EMF, dimension ``service``."""
    return cw.Metric(
        namespace=namespace,
        metric_name=name.value,
        dimensions_map={"service": service},
        statistic=statistic,
        period=period,
    )


class BridgeAlarms(Construct):
    """Public attributes: ``topic``, ``failure_queue_depth``, ``errors``, ``throttles``,
    ``destination_failures``, ``quarantine_rate``, ``async_event_age``, ``async_events_dropped``,
    ``url_length``, ``contacts_without_id``, ``no_contacts`` (None unless configured), ``alarms``
    (all of them)."""

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
        self._created: list[cw.Alarm] = []  # every alarm, in the order made (the dashboard's)
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
        quarantined = self._bridge_metric(MetricName.QUARANTINED, "Sum", cdk.Duration.hours(1))
        self.quarantine_rate = self._alarm(
            "QuarantineRate",
            quarantined,
            threshold=props.quarantine_threshold,
            description=(
                f"At least {props.quarantine_threshold} messages quarantined within an hour: check the "
                "verdict policy and the quarantine prefix."
            ),
        )
        event_age_seconds = min(_EVENT_AGE_ALARM_SECONDS, props.max_event_age_seconds // 2)
        self.async_event_age = self._alarm(
            "AsyncEventAge",
            fn.metric("AsyncEventAge", period=_FIVE_MINUTES, statistic="Maximum"),
            threshold=event_age_seconds * 1000,  # the metric is in milliseconds
            description=(
                f"Events waited over {event_age_seconds} s in Lambda's asynchronous queue (throttling or "
                f"errors hold them back); after {props.max_event_age_seconds} s they are dropped."
            ),
        )
        self.async_events_dropped = self._alarm(
            "AsyncEventsDropped",
            fn.metric("AsyncEventsDropped", period=_FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            description=(
                "Lambda dropped asynchronous events without running them successfully: check the failure "
                "queue (each should be there) and DestinationDeliveryFailures (then they are lost)."
            ),
        )
        self.url_length = self._alarm(
            "AttachmentUrlLength",
            self._bridge_metric(MetricName.ATTACHMENT_URL_LENGTH, "Maximum", _FIVE_MINUTES),
            threshold=URL_LENGTH_ALARM_THRESHOLD,
            description=(
                f"A pre-signed attachment URL reached {URL_LENGTH_ALARM_THRESHOLD} characters; Connect "
                f"takes at most {MAX_S3_URL}, longer ones are skipped (url_too_long). Shorten the "
                "attachments prefix or the role's session token."
            ),
        )
        self.contacts_without_id = self._alarm(
            "ContactsWithoutId",
            self._bridge_metric(MetricName.CONTACTS_WITHOUT_ID, "Sum", _FIVE_MINUTES),
            threshold=1,
            description=(
                "A contact exists but its id is unknown: Connect's answer was lost and the retry came after "
                "the attachment URLs expired (docs/exactly-once.md). Replies to that email will not thread; "
                "find the contact in Connect by the sesMessageId attribute in the logs."
            ),
        )
        self.no_contacts = (
            None if props.no_contacts_hours is None else self._no_contacts(props.no_contacts_hours)
        )
        self.alarms = tuple(self._created)

    def _bridge_metric(self, name: MetricName, statistic: str, period: cdk.Duration) -> cw.Metric:
        return bridge_metric(self.props.metrics_namespace, self.props.service_name, name, statistic, period)

    def _no_contacts(self, hours: int) -> cw.Alarm:
        period = cdk.Duration.hours(hours)
        arrived = self.props.function.metric("AsyncEventsReceived", period=period, statistic="Sum")
        created = self._bridge_metric(MetricName.CONTACTS_CREATED, "Sum", period)
        return self._alarm(
            "NoContacts",
            cw.MathExpression(
                # No ContactsCreated datapoint at all is the case this alarm exists for: FILL makes it 0.
                expression="IF(FILL(arrived, 0) > 0 AND FILL(created, 0) == 0, 1, 0)",
                using_metrics={"arrived": arrived, "created": created},
                period=period,
                label="mail arrived, no contact created",
            ),
            threshold=1,
            description=(
                f"Mail reached the function in the last {hours} h but no contact was created: everything "
                "was quarantined or failed. Check the quarantine prefix, the failure queue and the logs."
            ),
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
        self._created.append(alarm)
        return alarm
