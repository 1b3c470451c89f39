"""Receive where SES can, deliver where the instance is: the cross-region example synthesizes.

``-c region=ap-northeast-1 -c connectInstanceArn=arn:aws:connect:ap-northeast-2:...``: Seoul has
Amazon Connect but no SES email receiving, Tokyo has both.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.infra_support import Synth, SynthFactory

SEOUL_INSTANCE = "arn:aws:connect:ap-northeast-2:111122223333:instance/00000000-0000-0000-0000-000000000000"
CROSS_REGION: dict[str, Any] = {"region": "ap-northeast-1", "connectInstanceArn": SEOUL_INSTANCE}


@pytest.fixture(scope="module")
def cross_region(synth_factory: SynthFactory) -> Synth:
    return synth_factory(CROSS_REGION)


def test_the_stack_receives_in_the_ses_region(cross_region: Synth) -> None:
    s = cross_region
    assert (s.stack.account, s.stack.region) == ("111122223333", "ap-northeast-1")
    assert s.template["Outputs"]["MxHost"]["Value"] == "inbound-smtp.ap-northeast-1.amazonaws.com"
    rule_arn = (
        "arn:aws:ses:ap-northeast-1:111122223333:receipt-rule-set/default-rule-set:"
        "receipt-rule/ses-to-connect"
    )
    assert s.only("AWS::Lambda::Permission")["Properties"]["SourceArn"] == rule_arn


def test_the_function_calls_connect_in_the_instance_region(cross_region: Synth) -> None:
    s = cross_region
    env = s.properties(s.construct.bridge.function)["Environment"]["Variables"]
    assert env["CONNECT_REGION"] == "ap-northeast-2"
    assert env["CONNECT_INSTANCE_ID"] == "00000000-0000-0000-0000-000000000000"


def test_the_grant_names_the_instance_region(cross_region: Synth) -> None:
    s = cross_region
    statements = s.properties(s.construct.bridge.policy)["PolicyDocument"]["Statement"]
    connect = [st for st in statements if st["Sid"] == "StartEmailContacts"]
    assert connect == [
        {
            "Action": "connect:StartEmailContact",
            "Effect": "Allow",
            "Resource": [SEOUL_INSTANCE, f"{SEOUL_INSTANCE}/contact-flow/*"],
            "Sid": "StartEmailContacts",
        }
    ]
    assert s.template["Outputs"]["ConnectInstanceArn"]["Value"] == SEOUL_INSTANCE


def test_the_synth_passes_cdk_nag(cross_region: Synth) -> None:
    reports = {r["pluginName"]: r["conclusion"] for r in cross_region.report["pluginReports"]}
    assert reports == {"AwsSolutions": "success"}
