"""The operators' CloudWatch dashboard: what the bridge did, what Lambda did, and what waits.

One row per question: did mail become contacts (contacts, quarantine by reason, attachments),
did anything fail (permanent failures, failure-queue depth, errors), is the function keeping up
(duration, throttles, concurrency), and is asynchronous delivery healthy (the age and drops of
events in Lambda's own queue). Alarm states sit on top so a red one is the first thing seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ses_to_connect.limits import MAX_S3_URL
from ses_to_connect.metric_names import MetricName
from ses_to_connect_cdk.alarms import URL_LENGTH_ALARM_THRESHOLD, bridge_metric

__all__ = ["BridgeDashboard", "BridgeDashboardProps", "dashboard_url"]

_PERIOD = cdk.Duration.minutes(5)
_WIDTH = 8  # three graphs per row (the grid is 24 wide)
_HEIGHT = 6


@dataclass(frozen=True)
class BridgeDashboardProps:
    function: lambda_.IFunction
    failure_queue: sqs.IQueue
    metrics_namespace: str
    service_name: str
    alarms: Sequence[cw.IAlarm] = ()
    reserved_concurrency: int | None = None


def dashboard_url(region: str, dashboard_name: str) -> str:
    """The console address of a dashboard (the standard partition's console)."""
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={dashboard_name}"


class BridgeDashboard(Construct):
    """Public attributes: ``dashboard``, ``url``."""

    def __init__(self, scope: Construct, construct_id: str, props: BridgeDashboardProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=cdk.Duration.hours(24))
        self.url = dashboard_url(cdk.Stack.of(self).region, self.dashboard.dashboard_name)
        fn, queue = props.function, props.failure_queue

        if props.alarms:
            self.dashboard.add_widgets(
                cw.AlarmStatusWidget(title="Alarms", alarms=list(props.alarms), width=24, height=3)
            )
        self.dashboard.add_widgets(
            self._graph(
                "Contacts created",
                [
                    self._bridge(MetricName.CONTACTS_CREATED),
                    self._bridge(MetricName.DUPLICATE_INVOCATIONS),
                    self._bridge(MetricName.CONTACTS_WITHOUT_ID),
                ],
            ),
            self._graph("Quarantined by reason", [self._quarantine_by_reason()]),
            self._graph(
                "Attachments sent and skipped",
                [self._bridge(MetricName.ATTACHMENTS_SENT), self._bridge(MetricName.ATTACHMENTS_SKIPPED)],
            ),
        )
        self.dashboard.add_widgets(
            self._graph(
                "Permanent failures and failed destinations",
                [
                    self._bridge(MetricName.PERMANENT_FAILURES),
                    fn.metric("DestinationDeliveryFailures", period=_PERIOD, statistic="Sum"),
                ],
            ),
            self._graph(
                "Failure-queue depth",
                [queue.metric_approximate_number_of_messages_visible(period=_PERIOD, statistic="Maximum")],
            ),
            self._graph(
                "Errors and throttles",
                [
                    fn.metric_errors(period=_PERIOD, statistic="Sum"),
                    fn.metric_throttles(period=_PERIOD, statistic="Sum"),
                ],
            ),
        )
        concurrency_limit = (
            [cw.HorizontalAnnotation(value=props.reserved_concurrency, label="reserved concurrency")]
            if props.reserved_concurrency is not None
            else []
        )
        self.dashboard.add_widgets(
            self._graph(
                "Duration (ms)",
                [
                    fn.metric_duration(period=_PERIOD, statistic="p50", label="p50"),
                    fn.metric_duration(period=_PERIOD, statistic="p99", label="p99"),
                    fn.metric_duration(period=_PERIOD, statistic="Maximum", label="max"),
                ],
            ),
            self._graph(
                "Concurrent executions",
                [fn.metric("ConcurrentExecutions", period=_PERIOD, statistic="Maximum")],
                annotations=concurrency_limit,
            ),
            self._graph(
                "Pre-signed URL length (characters)",
                [self._bridge(MetricName.ATTACHMENT_URL_LENGTH, statistic="Maximum")],
                annotations=[
                    cw.HorizontalAnnotation(value=MAX_S3_URL, label="Connect's S3Url limit"),
                    cw.HorizontalAnnotation(value=URL_LENGTH_ALARM_THRESHOLD, label="alarm"),
                ],
            ),
        )
        self.dashboard.add_widgets(
            self._graph(
                "Asynchronous events: age in Lambda's queue (ms)",
                [fn.metric("AsyncEventAge", period=_PERIOD, statistic="Maximum")],
            ),
            self._graph(
                "Asynchronous events: received and dropped",
                [
                    fn.metric("AsyncEventsReceived", period=_PERIOD, statistic="Sum"),
                    fn.metric("AsyncEventsDropped", period=_PERIOD, statistic="Sum"),
                ],
            ),
        )

    def _bridge(self, name: MetricName, *, statistic: str = "Sum") -> cw.Metric:
        return bridge_metric(self.props.metrics_namespace, self.props.service_name, name, statistic, _PERIOD)

    def _quarantine_by_reason(self) -> cw.MathExpression:
        # The reasons are open-ended (verdict rules, guards, ...): one line per reason that occurred.
        namespace, metric = self.props.metrics_namespace, MetricName.QUARANTINED_BY_REASON.value
        return cw.MathExpression(
            expression=(
                f'SEARCH(\'{{"{namespace}",reason,service}} MetricName="{metric}" '
                f"service=\"{self.props.service_name}\"', 'Sum', {int(_PERIOD.to_seconds())})"
            ),
            label="",
            period=_PERIOD,
        )

    @staticmethod
    def _graph(
        title: str, metrics: list[cw.IMetric], *, annotations: list[cw.HorizontalAnnotation] | None = None
    ) -> cw.GraphWidget:
        return cw.GraphWidget(
            title=title,
            left=metrics,
            left_annotations=annotations,
            width=_WIDTH,
            height=_HEIGHT,
            left_y_axis=cw.YAxisProps(min=0),
        )
