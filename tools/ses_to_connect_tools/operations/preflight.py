"""``preflight``: read-only checks that the first email can work, before (or after) ``cdk deploy``.

Each check calls only Describe/List/Get APIs and ends as pass or fail; a failure carries the
fix. A check that cannot ask (no permission, a network error) fails with the AWS error and
the permission it needs, so that "could not check" never reads as "fine".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from ses_to_connect_cdk.config import BridgeConfig, RuleSetMode, recipient_covers
from ses_to_connect_cdk.paths import powertools_version
from ses_to_connect_tools.operations.deployment import Clients, aws_error, error_code, stack_outputs

__all__ = ["EMAIL_STORAGE_TYPES", "MIN_UNRESERVED_CONCURRENCY", "Check", "preflight", "render"]

# The Connect admin guide: the email channel needs instance storage for both.
EMAIL_STORAGE_TYPES = ("EMAIL_MESSAGES", "ATTACHMENTS")
# Lambda keeps this much of the account's concurrency unreserved ("You can reserve up to the
# Unreserved account concurrency value that is shown, minus 100").
MIN_UNRESERVED_CONCURRENCY = 100
# Receipt-rule actions that take the mail away from this rule: a Connect action makes a
# second contact, a stop or bounce ends processing before this rule runs.
_CONNECT = "ConnectAction"
_ENDING = ("StopAction", "BounceAction")


class Check(NamedTuple):
    name: str
    passed: bool
    detail: str
    fix: str = ""


def preflight(config: BridgeConfig, clients: Clients, *, deployed: bool = False) -> list[Check]:
    """Every check, in the order an operator would fix them. ``deployed``: the rule must exist."""
    steps: list[tuple[str, str, Callable[[], Iterator[Check]]]] = [
        ("Connect instance", "connect:DescribeInstance", lambda: _instance(config, clients)),
        ("Connect email storage", "connect:ListInstanceStorageConfigs", lambda: _storage(config, clients)),
        ("Connect addresses", "connect:SearchEmailAddresses", lambda: _addresses(config, clients)),
        (
            "receipt rule set",
            "ses:DescribeActiveReceiptRuleSet",
            lambda: _rule_set(config, clients, deployed=deployed),
        ),
        (
            "receiving domain",
            "ses:GetIdentityVerificationAttributes",
            lambda: _domains(config, clients),
        ),
        ("Powertools layer", "ssm:GetParameter and lambda:GetLayerVersion", lambda: _layer(config, clients)),
        (
            "reserved concurrency",
            "lambda:GetAccountSettings (and cloudformation:DescribeStacks, lambda:GetFunctionConcurrency)",
            lambda: _concurrency(config, clients),
        ),
    ]
    checks: list[Check] = []
    for name, permission, step in steps:
        try:
            checks.extend(step())
        except (ClientError, BotoCoreError) as exc:
            checks.append(Check(name, False, f"could not check: {aws_error(exc)}", f"allow {permission}"))
    return checks


def _instance(config: BridgeConfig, clients: Clients) -> Iterator[Check]:
    name = "Connect instance exists"
    region = config.connect_region
    try:
        instance = clients.connect.describe_instance(InstanceId=config.connect_instance_id)["Instance"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        yield Check(
            name,
            False,
            f"no instance {config.connect_instance_id} in {region}",
            "set connectInstanceArn to an instance of this account "
            f"(aws connect list-instances --region {region})",
        )
        return
    status = instance.get("InstanceStatus", "?")
    yield Check(
        name,
        status == "ACTIVE",
        f"{instance.get('Arn', config.connect_instance_arn)} is {status}",
        "" if status == "ACTIVE" else "wait until the instance is ACTIVE, or fix connectInstanceArn",
    )


def _storage(config: BridgeConfig, clients: Clients) -> Iterator[Check]:
    for resource_type in EMAIL_STORAGE_TYPES:
        configs = clients.connect.list_instance_storage_configs(
            InstanceId=config.connect_instance_id, ResourceType=resource_type
        ).get("StorageConfigs", [])
        where = ", ".join(_storage_location(c) for c in configs)
        yield Check(
            f"Connect storage for {resource_type}",
            bool(configs),
            where or "not configured: the email channel does not work without it",
            ""
            if configs
            else "Connect console > your instance > Data storage > Email messages and "
            f"attachments: choose an S3 bucket (or aws connect associate-instance-storage-config "
            f"--resource-type {resource_type})",
        )


def _storage_location(config: dict[str, Any]) -> str:
    s3 = config.get("S3Config")
    return f"s3://{s3['BucketName']}/{s3['BucketPrefix']}" if s3 else str(config.get("StorageType", "?"))


def _addresses(config: BridgeConfig, clients: Clients) -> Iterator[Check]:
    known: set[str] = set()
    request: dict[str, Any] = {"InstanceId": config.connect_instance_id, "MaxResults": 100}
    while True:
        page = clients.connect.search_email_addresses(**request)
        known.update(item["EmailAddress"].lower() for item in page.get("EmailAddresses", []))
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    for address in config.connect_addresses:
        found = address.address.lower() in known
        yield Check(
            f"Connect address {address.address}",
            found,
            "an email address of the instance" if found else "not an email address of the instance",
            "" if found else "create it in Connect (Channels > Email addresses) or fix connectAddresses",
        )


def _rule_set(config: BridgeConfig, clients: Clients, *, deployed: bool) -> Iterator[Check]:
    active = clients.ses.describe_active_receipt_rule_set()
    active_name = active.get("Metadata", {}).get("Name")
    rules: list[dict[str, Any]] = active.get("Rules", [])
    wanted = config.rule_set_name
    if config.rule_set_mode is RuleSetMode.CREATE_AND_ACTIVATE:
        replaced = (
            f", replacing the active set {active_name!r}" if active_name and active_name != wanted else ""
        )
        yield Check("receipt rule set is active", True, f"the deploy activates {wanted!r}{replaced}")
        if active_name != wanted:
            return  # the rules of the set that will be active are only this stack's
    elif active_name != wanted:
        now = f"the active set is {active_name!r}" if active_name else "no rule set is active"
        yield Check(
            "receipt rule set is active",
            False,
            f"{wanted!r} is not active ({now}): SES applies only the active set",
            f"aws ses set-active-receipt-rule-set --rule-set-name {wanted}"
            + (f", or set ruleSetName={active_name}" if active_name else ""),
        )
        return
    else:
        yield Check("receipt rule set is active", True, f"{wanted!r} is the active rule set")

    names = [rule.get("Name") for rule in rules]
    present = config.rule_name in names
    yield Check(
        f"rule {config.rule_name!r} in {wanted!r}",
        present or not deployed,
        "present" if present else "not there yet: the deploy adds it",
        "" if present or not deployed else "run cdk deploy (or check stackName, ruleSetName and ruleName)",
    )
    yield _competing_rules(config, rules, names)


def _competing_rules(config: BridgeConfig, rules: list[dict[str, Any]], names: list[Any]) -> Check:
    """Rules that create a second contact (a Connect action anywhere) or end processing first."""
    if config.rule_name in names:
        position = names.index(config.rule_name)
    elif config.rule_after in names:
        position = names.index(config.rule_after) + 1
    else:
        position = 0  # the stack puts its rule first
    problems: list[str] = []
    for index, rule in enumerate(rules):
        if rule.get("Name") == config.rule_name or not rule.get("Enabled", False):
            continue
        recipients = rule.get("Recipients") or []  # none: the rule takes every recipient
        covered = [
            a.address
            for a in config.connect_addresses
            if not recipients or any(recipient_covers(r, a.address) for r in recipients)
        ]
        kinds = {kind for action in rule.get("Actions", []) for kind in action}
        if not covered:
            continue
        if _CONNECT in kinds:
            problems.append(f"{rule.get('Name')!r} has a Connect action for {', '.join(covered)}")
        elif index < position and kinds & set(_ENDING):
            ending = "/".join(sorted(kinds & set(_ENDING)))
            problems.append(f"{rule.get('Name')!r} ({ending}) runs first for {', '.join(covered)}")
    return Check(
        "no other rule handles the Connect addresses",
        not problems,
        "; ".join(problems) or "no Connect action and no earlier stop or bounce for them",
        "remove those recipients from the other rule (a Connect action there makes every email two "
        "contacts), or disable it"
        if problems
        else "",
    )


def _domains(config: BridgeConfig, clients: Clients) -> Iterator[Check]:
    domains = sorted({a.address.rpartition("@")[2].lower() for a in config.connect_addresses})
    attributes = clients.ses.get_identity_verification_attributes(Identities=domains).get(
        "VerificationAttributes", {}
    )
    for domain in domains:
        status = attributes.get(domain, {}).get("VerificationStatus", "NotStarted")
        yield Check(
            f"domain {domain} verified in SES ({config.region})",
            status == "Success",
            f"verification status {status}",
            ""
            if status == "Success"
            else f"verify {domain} in SES in {config.region} and point its MX record at {config.mx_host}",
        )


def _layer(config: BridgeConfig, clients: Clients) -> Iterator[Check]:
    name = "Powertools layer resolves"
    arn = config.powertools_layer_arn
    source = "powertoolsLayerArn"
    if arn is None:
        # Imported here: ses_to_connect_cdk.function loads aws_cdk (and its node process), which no other
        # operations command needs.
        from ses_to_connect_cdk.function import powertools_layer_parameter  # noqa: PLC0415

        parameter = powertools_layer_parameter(powertools_version())
        source = f"SSM {parameter}"
        try:
            arn = clients.ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        except ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            yield Check(
                name,
                False,
                f"{source} does not exist in {config.region}",
                "set powertoolsLayerArn to the Powertools layer ARN for this region and version "
                "(listed in the Powertools documentation)",
            )
            return
    layer, _, version = arn.rpartition(":")
    if not version.isdigit():
        yield Check(name, False, f"{arn} (from {source}) names no layer version", "fix powertoolsLayerArn")
        return
    try:
        clients.lambda_.get_layer_version(LayerName=layer, VersionNumber=int(version))
    except ClientError as exc:
        if error_code(exc) not in ("ResourceNotFoundException", "AccessDeniedException"):
            raise
        yield Check(name, False, f"{arn} (from {source}): {aws_error(exc)}", "fix powertoolsLayerArn")
        return
    yield Check(name, True, f"{arn} (from {source})")


def _concurrency(config: BridgeConfig, clients: Clients) -> Iterator[Check]:
    name = "reserved concurrency fits the account"
    wanted = config.lambda_reserved_concurrency
    if wanted is None:
        yield Check(name, True, "no reservation (lambdaReservedConcurrency=none)")
        return
    limits = clients.lambda_.get_account_settings()["AccountLimit"]
    unreserved = int(limits["UnreservedConcurrentExecutions"])
    # A deployed function's own reservation comes back when it is replaced by the new one.
    outputs = stack_outputs(clients.cloudformation, config.stack_name) or {}
    own = 0
    if "FunctionName" in outputs:
        own = int(
            clients.lambda_.get_function_concurrency(FunctionName=outputs["FunctionName"]).get(
                "ReservedConcurrentExecutions", 0
            )
        )
    available = unreserved + own - MIN_UNRESERVED_CONCURRENCY
    yield Check(
        name,
        wanted <= available,
        f"lambdaReservedConcurrency={wanted}; the account allows {max(available, 0)} "
        f"(limit {limits.get('ConcurrentExecutions')}, unreserved {unreserved}, Lambda keeps "
        f"{MIN_UNRESERVED_CONCURRENCY} unreserved)",
        ""
        if wanted <= available
        else "deploy with -c lambdaReservedConcurrency=none (no pacing toward Connect's quota) or ask for a "
        "higher 'Concurrent executions' quota in Service Quotas (Lambda)",
    )


def render(checks: list[Check]) -> str:
    """One line per check, and its fix under a failure."""
    lines = []
    for check in checks:
        lines.append(f"{'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
        if not check.passed and check.fix:
            lines.append(f"      fix: {check.fix}")
    failed = sum(not c.passed for c in checks)
    lines.append(f"{len(checks) - failed} passed, {failed} failed")
    return "\n".join(lines)
