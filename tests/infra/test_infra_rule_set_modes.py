"""What each rule set mode creates: nothing, an inactive set, or a set plus its activation."""

from __future__ import annotations

import json

from tests.infra.infra_support import Synth


def test_existing_mode_adds_the_rule_to_the_named_set_and_creates_no_set(default: Synth) -> None:
    s = default
    assert s.resources("AWS::SES::ReceiptRuleSet") == {}
    assert s.resources("Custom::SesActiveReceiptRuleSet") == {}
    assert s.only("AWS::SES::ReceiptRule")["Properties"]["RuleSetName"] == "default-rule-set"
    assert s.construct.receipt.rule_set is None
    assert s.construct.receipt.activation is None


def test_create_inactive_creates_the_set_and_does_not_activate_it(inactive: Synth) -> None:
    s = inactive
    rule_set = s.construct.receipt.rule_set
    assert rule_set is not None
    assert s.only("AWS::SES::ReceiptRuleSet")["Properties"] == {"RuleSetName": "bridge-rules"}
    rule = s.only("AWS::SES::ReceiptRule")
    assert rule["Properties"]["RuleSetName"] == "bridge-rules"
    assert s.logical_id(rule_set) in rule["DependsOn"]
    assert rule["Properties"]["Rule"]["TlsPolicy"] == "Optional"
    assert s.resources("Custom::SesActiveReceiptRuleSet") == {}
    assert s.construct.receipt.activation is None
    # The bridge, and CDK's provider of the deploy-time calls (here only the concurrency reservation).
    assert len(s.resources("AWS::Lambda::Function")) == 2
    assert s.resources("Custom::ReservedConcurrency")


def test_create_and_activate_activates_the_new_set_after_its_rule_exists(kms_activated: Synth) -> None:
    s = kms_activated
    rule_set = s.construct.receipt.rule_set
    assert rule_set is not None
    assert s.only("AWS::SES::ReceiptRuleSet")["Properties"] == {"RuleSetName": "ses-to-connect"}
    activation = s.only("Custom::SesActiveReceiptRuleSet")
    call = {
        "action": "SetActiveReceiptRuleSet",
        "service": "SES",
        "parameters": {"RuleSetName": "ses-to-connect"},
        "physicalResourceId": {"id": "active-receipt-rule-set-ses-to-connect"},
    }
    props = activation["Properties"]
    assert json.loads(props["Create"]) == call
    assert json.loads(props["Update"]) == call
    assert "Delete" not in props  # teardown never switches off a set someone may have activated since
    assert props["InstallLatestAwsSdk"] is False  # no download from npm during deployment
    assert s.logical_id(s.construct.receipt.rule) in activation["DependsOn"]


def test_activation_function_may_only_set_the_active_rule_set(kms_activated: Synth) -> None:
    s = kms_activated
    activation = s.construct.receipt.activation
    assert activation is not None
    policy = s.template["Resources"][s.logical_id(activation.node.find_child("CustomResourcePolicy"))]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "ses:SetActiveReceiptRuleSet", "Effect": "Allow", "Resource": "*"}
    ]


def test_activation_function_logs_with_retention(kms_activated: Synth) -> None:
    s = kms_activated
    functions = s.resources("AWS::Lambda::Function")
    provider = next(v for k, v in functions.items() if k.startswith("AWS679f53fac002430cb0da5b7982bd2287"))
    log_group_id = provider["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert s.template["Resources"][log_group_id]["Properties"] == {"RetentionInDays": 30}


def test_outputs_name_the_rule_set_of_each_mode(
    default: Synth, inactive: Synth, kms_activated: Synth
) -> None:
    assert default.template["Outputs"]["RuleSetName"]["Value"] == "default-rule-set"
    assert inactive.template["Outputs"]["RuleSetName"]["Value"] == "bridge-rules"
    assert kms_activated.template["Outputs"]["RuleSetName"]["Value"] == "ses-to-connect"
    assert (
        kms_activated.template["Outputs"]["RuleSetName"]["Description"]
        == "Receipt rule set (create-and-activate)"
    )
