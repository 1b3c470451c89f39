"""``python -m operations preflight`` against moto (SES, SSM, Lambda, CloudFormation) and the emulator.

The account starts ready for the first email (cdk.json's example configuration); each failure
test breaks one thing and asserts the exact check that fails and the fix it prints.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from ses_to_connect_cdk.config import BridgeConfig
from ses_to_connect_cdk.function import powertools_layer_parameter
from ses_to_connect_cdk.paths import powertools_version
from ses_to_connect_tools.local_pipeline.connect_emulator import ConnectEmulator
from ses_to_connect_tools.local_pipeline.connect_instance_config import AttachedFiles, Flow
from ses_to_connect_tools.operations import __main__ as cli
from ses_to_connect_tools.operations.deployment import Clients, load_config
from ses_to_connect_tools.operations.preflight import Check, preflight, render

INSTANCE_ID = "00000000-0000-0000-0000-000000000000"  # cdk.json's example instance
ADDRESSES = ("support@example.com", "billing@example.com")
BILLING_FLOW = "11111111-1111-1111-1111-111111111111"  # cdk.json's contactFlowId of billing@
SUPPORT_FLOW = "846ec553-a005-41c0-8341-0123456789ab"  # support@'s own flow, associated in Connect
WHISPER_FLOW = "22222222-3333-4444-5555-666666666666"
FLOWS = {
    INSTANCE_ID: [
        Flow(BILLING_FLOW, "Billing inbound"),
        Flow(SUPPORT_FLOW, "Email inbound"),
        Flow(WHISPER_FLOW, "Agent whisper", type="AGENT_WHISPER"),
    ]
}


def instance(**overrides: Any) -> ConnectEmulator:
    """cdk.json's instance, ready for the first email: its addresses, flows and storage."""
    options: dict[str, Any] = {
        "instances": {INSTANCE_ID: ADDRESSES},
        "flows": FLOWS,
        "address_flows": {INSTANCE_ID: {"support@example.com": SUPPORT_FLOW}},
    }
    return ConnectEmulator(**{**options, **overrides})


FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


@dataclass
class Account:
    clients: Clients
    emulator: ConnectEmulator
    unreserved: list[int]  # what GetAccountSettings answers (moto does not implement it)
    public: dict[str, str]  # AWS's public SSM parameters (moto refuses names under /aws/)
    account_settings: Any  # the GetAccountSettings hook

    def run(self, *overrides: str, deployed: bool = False) -> list[Check]:
        return preflight(load_config(overrides), self.clients, deployed=deployed)


def _failed(checks: list[Check]) -> list[Check]:
    return [check for check in checks if not check.passed]


def _public_parameters(public: dict[str, str]) -> Any:
    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        name = json.loads(params["body"])["Name"]  # the serialized request
        if name not in public:
            return None  # moto answers: ParameterNotFound
        parameter = {"Name": name, "Type": "String", "Value": public[name], "Version": 1}
        return AWSResponse("https://ssm", 200, {}, None), {"Parameter": parameter}

    return answer


def _account_settings(unreserved: list[int]) -> Any:
    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        limits = {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": unreserved[0]}
        return AWSResponse("https://lambda", 200, {}, None), {"AccountLimit": limits, "AccountUsage": {}}

    return answer


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws(), instance() as emulator:
        connect = boto3.client("connect", endpoint_url=emulator.url, region_name="us-east-1")
        lambda_ = boto3.client("lambda", region_name="us-east-1")
        unreserved = [1000]
        settings = _account_settings(unreserved)
        lambda_.meta.events.register("before-call.lambda.GetAccountSettings", settings)
        clients = Clients(
            connect=connect,
            ses=boto3.client("ses", region_name="us-east-1"),
            ssm=boto3.client("ssm", region_name="us-east-1"),
            lambda_=lambda_,
            cloudformation=boto3.client("cloudformation", region_name="us-east-1"),
            s3=boto3.client("s3", region_name="us-east-1"),
            dynamodb=boto3.client("dynamodb", region_name="us-east-1"),
        )
        clients.ses.create_receipt_rule_set(RuleSetName="default-rule-set")
        clients.ses.set_active_receipt_rule_set(RuleSetName="default-rule-set")
        clients.ses.verify_domain_identity(Domain="example.com")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as layer:
            layer.writestr("python/aws_lambda_powertools/__init__.py", "")
        arn = lambda_.publish_layer_version(LayerName="powertools", Content={"ZipFile": archive.getvalue()})[
            "LayerVersionArn"
        ]
        public = {powertools_layer_parameter(powertools_version()): arn}
        clients.ssm.meta.events.register("before-call.ssm.GetParameter", _public_parameters(public))
        yield Account(clients, emulator, unreserved, public, settings)


def test_a_ready_account_passes_every_check(account: Account) -> None:
    checks = account.run()
    assert [(c.name, c.passed) for c in checks] == [
        ("Connect instance exists", True),
        ("Connect storage for EMAIL_MESSAGES", True),
        ("Connect storage for ATTACHMENTS", True),
        ("Connect address support@example.com", True),
        ("Connect address billing@example.com", True),
        ("Connect flow for support@example.com", True),
        ("Connect flow for billing@example.com", True),
        ("attachment extensions match the instance", True),
        ("attachment size matches the instance", True),
        ("receipt rule set is active", True),
        ("rule 'ses-to-connect' in 'default-rule-set'", True),
        ("no other rule handles the Connect addresses", True),
        ("domain example.com verified in SES (us-east-1)", True),
        ("Powertools layer resolves", True),
        ("reserved concurrency fits the account", True),
    ]
    assert checks[10].detail == "not there yet: the deploy adds it"
    assert (
        checks[5].detail
        == f"the address's own flow {SUPPORT_FLOW} (Email inbound, type CONTACT_FLOW), an inbound flow"
    )
    assert (
        checks[6].detail
        == f"contactFlowId {BILLING_FLOW} (Billing inbound, type CONTACT_FLOW), an inbound flow"
    )
    assert render(checks).endswith("15 passed, 0 failed")


def test_missing_instance(account: Account) -> None:
    other = "11111111-1111-1111-1111-111111111111"
    checks = account.run(f"connectInstanceArn=arn:aws:connect:us-east-1:111122223333:instance/{other}")
    assert _failed(checks)[0] == Check(
        "Connect instance exists",
        False,
        f"no instance {other} in us-east-1",
        "set connectInstanceArn to an instance of this account "
        "(aws connect list-instances --region us-east-1)",
    )


def test_missing_email_storage(account: Account) -> None:
    with instance(storage={INSTANCE_ID: ("ATTACHMENTS",)}) as emulator:
        account.clients = Clients(
            **{
                **account.clients.__dict__,
                "connect": boto3.client("connect", endpoint_url=emulator.url, region_name="us-east-1"),
            }
        )
        (failed,) = _failed(account.run())
    assert failed.name == "Connect storage for EMAIL_MESSAGES"
    assert failed.detail == "not configured: the email channel does not work without it"
    assert "Data storage > Email messages and attachments" in failed.fix
    assert "--resource-type EMAIL_MESSAGES" in failed.fix


def test_unknown_address(account: Account) -> None:
    checks = account.run(
        'connectAddresses=[{"address": "support@example.com"}, {"address": "help@example.com"}]'
    )
    (failed,) = _failed(checks)
    assert (failed.name, failed.detail) == (
        "Connect address help@example.com",
        "not an email address of the instance",
    )
    assert failed.fix == "create it in Connect (Channels > Email addresses) or fix connectAddresses"


def test_rule_set_not_active(account: Account) -> None:
    account.clients.ses.create_receipt_rule_set(RuleSetName="other")
    account.clients.ses.set_active_receipt_rule_set(RuleSetName="other")
    (failed,) = _failed(account.run())
    assert failed.name == "receipt rule set is active"
    assert (
        failed.detail
        == "'default-rule-set' is not active (the active set is 'other'): SES applies only the active set"
    )
    assert failed.fix == (
        "aws ses set-active-receipt-rule-set --rule-set-name default-rule-set, or set ruleSetName=other"
    )


def test_no_active_rule_set_and_a_set_the_deploy_leaves_inactive(account: Account) -> None:
    account.clients.ses.set_active_receipt_rule_set()  # none active
    (failed,) = _failed(account.run("ruleSetMode=create-inactive", "ruleSetName=bridge"))
    assert failed.detail == "'bridge' is not active (no rule set is active): SES applies only the active set"


def test_create_and_activate_says_what_it_replaces(account: Account) -> None:
    _rule(account, "archive", ["example.org"], {"AddHeaderAction": {"HeaderName": "X-A", "HeaderValue": "1"}})
    checks = account.run("ruleSetMode=create-and-activate", "ruleSetName=bridge")
    assert _failed(checks) == []
    (warned,) = [c for c in checks if c.warning]
    assert warned.detail == (
        "the deploy activates 'bridge' and so REPLACES the active set 'default-rule-set': its rules "
        "('archive') stop applying, for every domain of the account in us-east-1"
    )
    assert "WARN  receipt rule set is active: the deploy activates 'bridge' and so REPLACES" in render(checks)
    assert "      note: to keep them, use ruleSetMode=existing with ruleSetName=default-rule-set instead" in (
        render(checks)
    )
    assert render(checks).endswith("13 passed, 0 failed, 1 to read")  # the new set: no rule or rivals yet
    assert not any(c.warning for c in account.run())  # the existing set: nothing replaced


def test_after_deploy_the_rule_must_be_there(account: Account) -> None:
    (failed,) = _failed(account.run(deployed=True))
    assert (failed.name, failed.detail) == (
        "rule 'ses-to-connect' in 'default-rule-set'",
        "not there yet: the deploy adds it",
    )
    assert failed.fix == "run cdk deploy (or check stackName, ruleSetName and ruleName)"
    account.clients.ses.create_receipt_rule(
        RuleSetName="default-rule-set",
        Rule={"Name": "ses-to-connect", "Enabled": True, "Recipients": list(ADDRESSES), "Actions": []},
    )
    assert _failed(account.run(deployed=True)) == []


def _rule(
    account: Account, name: str, recipients: list[str], action: dict[str, Any], after: str | None = None
) -> None:
    rule = {"Name": name, "Enabled": True, "Recipients": recipients, "Actions": [action]}
    account.clients.ses.create_receipt_rule(
        RuleSetName="default-rule-set", Rule=rule, **({"After": after} if after else {})
    )


CONNECT_ACTION = {
    "ConnectAction": {
        "InstanceARN": f"arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE_ID}",
        "IAMRoleARN": "arn:aws:iam::111122223333:role/connect-email",
    }
}


def test_a_connect_rule_for_the_same_addresses_would_double_every_contact(account: Account) -> None:
    _rule(account, "connect-email", ["example.com"], CONNECT_ACTION)
    _rule(account, "tag", [], {"AddHeaderAction": {"HeaderName": "X-Seen", "HeaderValue": "1"}})  # harmless
    (failed,) = _failed(account.run())
    assert failed.name == "no other rule handles the Connect addresses"
    assert failed.detail == (
        "'connect-email' has a Connect action for support@example.com, billing@example.com"
    )
    assert failed.fix.startswith("remove those recipients from the other rule (a Connect action there")


def test_an_earlier_stop_rule_takes_the_mail_first(account: Account) -> None:
    _rule(account, "spam-filter", ["support@example.com"], {"StopAction": {"Scope": "RuleSet"}})
    _rule(account, "unrelated", ["other.example"], {"StopAction": {"Scope": "RuleSet"}})
    assert _failed(account.run()) == []  # the stack's rule goes first: nothing runs before it
    (failed,) = _failed(account.run("ruleAfter=spam-filter"))
    assert failed.detail == "'spam-filter' (StopAction) runs first for support@example.com"


def test_unverified_domain(account: Account) -> None:
    checks = account.run(
        'connectAddresses=[{"address": "support@example.com"}, {"address": "help@example.net"}]'
    )
    failed = [c for c in _failed(checks) if c.name.startswith("domain")]
    assert failed == [
        Check(
            "domain example.net verified in SES (us-east-1)",
            False,
            "verification status NotStarted",
            "verify example.net in SES in us-east-1 and point its MX record at "
            "inbound-smtp.us-east-1.amazonaws.com",
        )
    ]


def test_missing_layer_parameter_and_a_wrong_layer_arn(account: Account) -> None:
    account.public.clear()  # the versioned parameter is missing in the region
    (failed,) = _failed(account.run())
    assert failed.name == "Powertools layer resolves"
    assert failed.detail.endswith("does not exist in us-east-1")
    assert failed.fix.startswith("set powertoolsLayerArn to the Powertools layer ARN")

    account.public[powertools_layer_parameter(powertools_version())] = "arn:aws:lambda:us-east-1:1:layer:x"
    (failed,) = _failed(account.run())
    assert failed.detail.endswith("names no layer version")

    wrong = "arn:aws:lambda:us-east-1:111122223333:layer:powertools:9"
    (failed,) = _failed(account.run(f"powertoolsLayerArn={wrong}"))
    assert failed.detail.startswith(f"{wrong} (from powertoolsLayerArn): ")
    assert failed.fix == "fix powertoolsLayerArn"


def test_concurrency_the_account_cannot_reserve(account: Account) -> None:
    account.unreserved[0] = 101  # a new account: 10 in all would show 10; 101 leaves room for 1
    (failed,) = _failed(account.run())
    assert failed.name == "reserved concurrency fits the account"
    assert failed.detail.startswith("lambdaReservedConcurrency=2; the account allows 1 ")
    assert "lambdaReservedConcurrency=none" in failed.fix
    assert _failed(account.run("lambdaReservedConcurrency=1")) == []
    assert _failed(account.run("lambdaReservedConcurrency=none")) == []


def test_a_deployed_function_keeps_its_own_reservation(account: Account) -> None:
    lambda_ = account.clients.lambda_
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_.create_function(
        FunctionName="bridge", Runtime="python3.13", Role=role, Handler="h.h", Code={"ZipFile": b"x"}
    )
    lambda_.put_function_concurrency(FunctionName="bridge", ReservedConcurrentExecutions=2)
    account.clients.cloudformation.create_stack(
        StackName="SesToConnect",
        TemplateBody='{"Resources": {"H": {"Type": "AWS::SNS::Topic"}},'
        ' "Outputs": {"FunctionName": {"Value": "bridge"}}}',
    )
    account.unreserved[0] = 100  # the function's 2 are already taken out of the account's pool
    assert _failed(account.run()) == []


def test_a_check_that_cannot_ask_fails_with_the_permission_it_needs(account: Account) -> None:
    # Without the hook moto answers GetAccountSettings "404 Not yet implemented": an error like any other.
    account.clients.lambda_.meta.events.unregister(
        "before-call.lambda.GetAccountSettings", account.account_settings
    )
    (failed,) = _failed(account.run())
    assert failed.name == "reserved concurrency"
    assert failed.detail.startswith("could not check: ")
    assert failed.fix.startswith("allow lambda:GetAccountSettings")


def test_command_line_exit_codes(
    account: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(Clients, "for_config", classmethod(lambda _cls, _config: account.clients))
    assert cli.main(["preflight"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "15 passed, 0 failed"
    assert cli.main(["preflight", "--deployed"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  rule 'ses-to-connect' in 'default-rule-set': not there yet" in out
    assert "      fix: run cdk deploy" in out
    assert cli.main(["preflight", "-c", "lambdaMemoryMb=1"]) == 2
    assert "lambdaMemoryMb: must be between 128 and 10240, not 1" in capsys.readouterr().err


def test_config_is_the_stacks_own(account: Account) -> None:
    config = load_config(["lambdaReservedConcurrency=none"])
    assert isinstance(config, BridgeConfig)
    assert config.lambda_reserved_concurrency is None
    with pytest.raises(ValueError, match="-c expects KEY=VALUE"):
        load_config(["novalue"])


def test_the_operations_commands_start_without_loading_cdk() -> None:
    """Only preflight's layer check needs ses_to_connect_cdk.function (and with it aws_cdk and a node process,
    about 1.3 s and Node's end-of-life banner): redrive, replay and the rest must not pay for it."""
    probe = (
        "import sys, ses_to_connect_tools.operations.__main__;"
        " print([m for m in sys.modules if m.startswith('aws_cdk')])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=dict(os.environ)
    )
    assert loaded.stdout.strip() == "[]", loaded.stdout


# ---- flows, ruleAfter, the instance's attachment rules ----------------------------------------------


def _flow_check(checks: list[Check], address: str) -> Check:
    return next(c for c in checks if c.name == f"Connect flow for {address}")


def test_a_configured_flow_that_is_not_in_the_instance(account: Account) -> None:
    missing = "33333333-4444-5555-6666-777777777777"
    (failed,) = _failed(
        account.run(f'connectAddresses=[{{"address": "billing@example.com", "contactFlowId": "{missing}"}}]')
    )
    assert failed == Check(
        "Connect flow for billing@example.com",
        False,
        f"contactFlowId {missing} is not a flow of instance {INSTANCE_ID}",
        "Connect console > Routing > Flows > the flow > Show additional flow information: copy its id (the "
        "last part of its ARN) into contactFlowId",
    )


def test_a_flow_that_cannot_start_an_inbound_email(account: Account) -> None:
    (failed,) = _failed(
        account.run(
            f'connectAddresses=[{{"address": "billing@example.com", "contactFlowId": "{WHISPER_FLOW}"}}]'
        )
    )
    assert failed.detail == (
        f"contactFlowId {WHISPER_FLOW} (Agent whisper, type AGENT_WHISPER): an email contact starts an "
        "inbound flow (type CONTACT_FLOW)"
    )


def test_a_pasted_flow_arn_of_the_instance_is_checked_by_its_id(account: Account) -> None:
    arn = f"arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE_ID}/contact-flow/{BILLING_FLOW}"
    checks = account.run(f'connectAddresses=[{{"address": "billing@example.com", "contactFlowId": "{arn}"}}]')
    assert _failed(checks) == []
    assert _flow_check(checks, "billing@example.com").detail.startswith(f"contactFlowId {BILLING_FLOW} (")


def test_an_address_without_a_flow_of_its_own_or_in_the_configuration(account: Account) -> None:
    with instance(address_flows={}) as bare:
        account.clients = Clients(
            **{
                **account.clients.__dict__,
                "connect": boto3.client("connect", endpoint_url=bare.url, region_name="us-east-1"),
            }
        )
        (failed,) = _failed(account.run())
    assert failed.name == "Connect flow for support@example.com"
    assert failed.detail == (
        "no contactFlowId, and no flow is associated with the address in Connect: an inbound email contact "
        "needs one"
    )
    assert failed.fix.startswith("Connect console > Channels > Email addresses > the address > Flow")


def test_rule_after_must_name_a_rule_of_the_set(account: Account) -> None:
    _rule(account, "spam-filter", ["other.example"], {"StopAction": {"Scope": "RuleSet"}})
    (failed,) = _failed(account.run("ruleAfter=spam-fitler"))
    assert failed == Check(
        "ruleAfter 'spam-fitler' in 'default-rule-set'",
        False,
        "no such rule (the set holds 'spam-filter')",
        "fix ruleAfter (a rule name of the set), or unset it to put the rule first",
    )
    checks = account.run("ruleAfter=spam-filter")
    assert _failed(checks) == []
    assert Check("ruleAfter 'spam-filter' in 'default-rule-set'", True, "present") in checks
    (failed,) = _failed(
        account.run("ruleAfter=spam-filter", "ruleSetMode=create-and-activate", "ruleSetName=b")
    )
    assert (
        failed.detail
        == "the deploy creates 'b' with this stack's rule only: there is no 'spam-filter' to follow"
    )


def test_an_instance_whose_attachment_rules_the_function_would_not_follow(account: Account) -> None:
    account.emulator.set_attached_files(AttachedFiles(("pdf", "png", "zip"), 104_857_600))
    failed = _failed(account.run())
    assert [(c.name, c.detail) for c in failed] == [
        (
            "attachment extensions match the instance",
            "the function would send .csv .doc .docx .heic .jfif .jpeg .jpg .mov .mp4 .ppt .pptx .rtf .txt "
            ".wav .xls .xlsx, which the instance refuses (each such email would go without its attachments); "
            "it would drop .zip, which the instance takes",
        ),
        (
            "attachment size matches the instance",
            "the function would drop files of 20000001-104857600 bytes, which the instance takes",
        ),
    ]
    assert failed[0].fix == """-c 'attachmentExtensions=["pdf","png","zip"]' (or the same list in cdk.json)"""
    assert failed[1].fix == "-c attachmentMaxBytes=104857600 (or the same in cdk.json)"
    following = account.run('attachmentExtensions=["pdf","png","zip"]', "attachmentMaxBytes=104857600")
    assert _failed(following) == []

    account.emulator.set_attached_files(AttachedFiles(max_bytes=10_000_000))
    (failed_size,) = _failed(account.run())
    assert failed_size.detail == (
        "the function would send files up to 20000000 bytes; the instance refuses files over 10000000"
    )
