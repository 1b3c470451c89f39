"""What operators see: the dashboard, the event-queue and URL-length alarms, and tracing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ses_to_connect.metric_names import MetricName
from ses_to_connect_cdk.config import ConfigError
from tests.infra.infra_support import Synth, SynthFactory, cdk_json_context
from tests.infra.test_infra_config import build

TRACED = {"tracing": True, "noContactsAlarmHours": 6}


@pytest.fixture(scope="module")
def traced(synth_factory: SynthFactory) -> Synth:
    return synth_factory(TRACED)


def _dashboard(s: Synth) -> dict[str, Any]:
    """The dashboard body with its tokens (function name, queue name, region) replaced by markers."""
    body = s.only("AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else json.dumps(json.dumps(p))[1:-1] for p in parts)
    document: dict[str, Any] = json.loads(text)
    return document


def _metric_names(widget: dict[str, Any]) -> list[str]:
    names = []
    for row in widget["properties"].get("metrics", []):
        if isinstance(row[-1], dict) and "expression" in row[-1]:
            names.append(re.sub(r"\s+", " ", row[-1]["expression"]))
        else:
            names.append(row[1])
    return names


def test_dashboard_shows_every_figure_operators_need(default: Synth) -> None:
    widgets = _dashboard(default)["widgets"]
    graphs = {w["properties"]["title"]: _metric_names(w) for w in widgets if w["type"] == "metric"}
    assert graphs == {
        "Contacts created": ["ContactsCreated", "DuplicateInvocations", "ContactsWithoutId"],
        "Quarantined by reason": [
            'SEARCH(\'{"SesToConnect",reason,service} MetricName="QuarantinedByReason" '
            "service=\"ses-to-connect\"', 'Sum', 300)"
        ],
        "Attachments sent and skipped": ["AttachmentsSent", "AttachmentsSkipped"],
        "Permanent failures and failed destinations": ["PermanentFailures", "DestinationDeliveryFailures"],
        "Failure-queue depth": ["ApproximateNumberOfMessagesVisible"],
        "Errors and throttles": ["Errors", "Throttles"],
        "Duration (ms)": ["Duration", "Duration", "Duration"],
        "Concurrent executions": ["ConcurrentExecutions"],
        "Pre-signed URL length (characters)": ["AttachmentUrlLength"],
        "Asynchronous events: age in Lambda's queue (ms)": ["AsyncEventAge"],
        "Asynchronous events: received and dropped": ["AsyncEventsReceived", "AsyncEventsDropped"],
    }
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == len(default.construct.alarms.alarms) == 9


def _alarmed_bridge_metrics(s: Synth, namespace: str) -> set[str]:
    """Every metric of the function's own namespace that an alarm reads, alone or in metric math."""
    names: set[str] = set()
    for alarm in s.resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == namespace:
            names.add(props["MetricName"])
        for query in props.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == namespace:
                names.add(metric["MetricName"])
    return names


def _shown_bridge_metrics(s: Synth, namespace: str) -> set[str]:
    """Every metric of the function's own namespace that the dashboard graphs or searches."""
    names: set[str] = set()
    for widget in _dashboard(s)["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[-1], dict) and "expression" in row[-1]:
                names.update(re.findall(r'MetricName="(\w+)"', row[-1]["expression"]))
            elif row[0] == namespace:
                names.add(row[1])
    return names


def test_alarms_and_dashboard_read_only_metrics_the_function_emits(traced: Synth) -> None:
    alarmed = _alarmed_bridge_metrics(traced, "SesToConnect")
    shown = _shown_bridge_metrics(traced, "SesToConnect")
    # Both walks find what they must, so the subset below is not vacuous.
    assert alarmed == {"Quarantined", "AttachmentUrlLength", "ContactsWithoutId", "ContactsCreated"}
    assert {"QuarantinedByReason", "PermanentFailures"} <= shown
    assert alarmed | shown <= {metric.value for metric in MetricName}


def test_dashboard_marks_the_limits_it_watches(default: Synth) -> None:
    widgets = {w["properties"]["title"]: w["properties"] for w in _dashboard(default)["widgets"]}
    url = widgets["Pre-signed URL length (characters)"]["annotations"]["horizontal"]
    assert [(a["value"], a["label"]) for a in url] == [(2000, "Connect's S3Url limit"), (1800, "alarm")]
    concurrency = widgets["Concurrent executions"]["annotations"]["horizontal"]
    assert [(a["value"], a["label"]) for a in concurrency] == [(2, "reserved concurrency")]


def test_tracing_is_off_by_default(default: Synth) -> None:
    function = default.properties(default.construct.bridge.function)
    assert "TracingConfig" not in function
    assert "TRACING" not in function["Environment"]["Variables"]
    actions = json.dumps(default.resources("AWS::IAM::Policy"))
    assert "xray:" not in actions


def test_tracing_key_turns_on_active_tracing_the_handler_and_its_grant(traced: Synth) -> None:
    function = traced.properties(traced.construct.bridge.function)
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["Environment"]["Variables"]["TRACING"] == "true"
    statements = [
        (statement, policy["Properties"]["Roles"])
        for policy in traced.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(action).startswith("xray:") for action in _list(statement["Action"]))
    ]
    role = [{"Ref": traced.logical_id(traced.construct.bridge.role)}]
    assert statements == [
        (
            {
                "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                "Effect": "Allow",
                "Resource": "*",
            },
            role,
        )
    ]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_contacts_alarm_compares_arrivals_with_contacts(traced: Synth, default: Synth) -> None:
    assert default.construct.alarms.no_contacts is None
    alarm = traced.construct.alarms.no_contacts
    assert alarm is not None
    props = traced.properties(alarm)
    expression, *inputs = props["Metrics"]
    assert expression["Expression"] == "IF(FILL(arrived, 0) > 0 AND FILL(created, 0) == 0, 1, 0)"
    assert {i["Id"]: i["MetricStat"]["Metric"]["MetricName"] for i in inputs} == {
        "arrived": "AsyncEventsReceived",
        "created": "ContactsCreated",
    }
    assert {i["MetricStat"]["Period"] for i in inputs} == {6 * 3600}
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert "6 h" in props["AlarmDescription"]


def test_event_age_alarm_stays_below_a_short_maximum_age(synth_factory: SynthFactory) -> None:
    s = synth_factory({"asyncMaxEventAgeSeconds": 600})
    assert s.properties(s.construct.alarms.async_event_age)["Threshold"] == 300_000


def test_tracing_and_no_contacts_keys_are_validated() -> None:
    assert build(tracing="true").function.tracing is True
    assert build().function.tracing is False
    assert build().no_contacts_alarm_hours is None
    assert build(noContactsAlarmHours="12").no_contacts_alarm_hours == 12
    with pytest.raises(ConfigError) as raised:
        build(noContactsAlarmHours=25, tracing="yes")
    assert raised.value.problems == [
        'tracing: must be true or false, not "yes"',
        "noContactsAlarmHours: must be between 1 and 24, not 25",
    ]


def test_cdk_json_leaves_tracing_and_the_no_contacts_alarm_off() -> None:
    context = cdk_json_context()
    assert (context["tracing"], context["noContactsAlarmHours"]) == (False, None)
