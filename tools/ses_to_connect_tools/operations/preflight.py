"""``preflight``: read-only checks that the first email can work, before (or after) ``cdk deploy``.

Each check calls only Describe/List/Get APIs and ends as pass or fail; a failure carries the
fix. A check that cannot ask (no permission, a network error) fails with the AWS error and
the permission it needs, so that "could not check" never reads as "fine".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from ses_to_connect.settings import normalized_extensions
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
# The flow type an email contact starts: an inbound flow ("Inbound flow" in the admin guide's flow
# types, CONTACT_FLOW in the API). Whispers, holds, queues and transfers run inside a contact.
INBOUND_FLOW_TYPE = "CONTACT_FLOW"


class Check(NamedTuple):
    name: str
    passed: bool
    detail: str
    fix: str = ""
    warning: bool = False  # passed, but the operator should read it before deploying


def preflight(config: BridgeConfig, clients: Clients, *, deployed: bool = False) -> list[Check]:
    """Every check, in the order an operator would fix them. ``deployed``: the rule must exist."""
    steps: list[tuple[str, str, Callable[[], Iterator[Check]]]] = [
        ("Connect instance", "connect:DescribeInstance", lambda: _instance(config, clients)),
        ("Connect email storage", "connect:ListInstanceStorageConfigs", lambda: _storage(config, clients)),
        (
            "Connect addresses",
            "connect:SearchEmailAddresses (and connect:DescribeEmailAddress, which it depends on)",
            lambda: _addresses(config, clients),
        ),
        (
            "Connect flows",
            "connect:DescribeContactFlow and connect:GetFlowAssociation (and connect:SearchEmailAddresses, "
            "connect:DescribeEmailAddress)",
            lambda: _flows(config, clients),
        ),
        (
            "Connect attachment rules",
            "connect:DescribeAttachedFilesConfiguration",
            lambda: _attachment_rules(config, clients),
        ),
        (
            "receipt rule set",
            "ses:DescribeActiveReceiptRuleSet",
            lambda: _rule_set(config, clients, deployed=deployed),
        ),
        ("receipt rule position", "ses:DescribeReceiptRuleSet", lambda: _rule_after(config, clients)),
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


def _instance_addresses(config: BridgeConfig, clients: Clients) -> dict[str, dict[str, Any]]:
    """The instance's email addresses (SearchEmailAddresses items) by lowercase address."""
    known: dict[str, dict[str, Any]] = {}
    request: dict[str, Any] = {"InstanceId": config.connect_instance_id, "MaxResults": 100}
    while True:
        page = clients.connect.search_email_addresses(**request)
        known.update((item["EmailAddress"].lower(), item) for item in page.get("EmailAddresses", []))
        if not page.get("NextToken"):
            return known
        request["NextToken"] = page["NextToken"]


def _addresses(config: BridgeConfig, clients: Clients) -> Iterator[Check]:
    known = _instance_addresses(config, clients)
    for address in config.function.connect_addresses:
        found = address.address.lower() in known
        yield Check(
            f"Connect address {address.address}",
            found,
            "an email address of the instance" if found else "not an email address of the instance",
            "" if found else "create it in Connect (Channels > Email addresses) or fix connectAddresses",
        )


def _flows(config: BridgeConfig, clients: Clients) -> Iterator[Check]:
    """Each address's flow: its contactFlowId, or else the flow Connect has associated with the address."""
    known: dict[str, dict[str, Any]] | None = None
    for address in config.function.connect_addresses:
        name = f"Connect flow for {address.address}"
        if address.contact_flow_id:
            yield _flow_check(name, config, clients, address.contact_flow_id, "contactFlowId")
            continue
        known = _instance_addresses(config, clients) if known is None else known
        item = known.get(address.key)
        if item is None:
            continue  # not an address of the instance: its own check says so
        flow_id = _associated_flow(config, clients, item)
        if flow_id is None:
            yield Check(
                name,
                False,
                "no contactFlowId, and no flow is associated with the address in Connect: an inbound email "
                "contact needs one",
                "Connect console > Channels > Email addresses > the address > Flow: choose an inbound "
                "flow, or set its contactFlowId in connectAddresses",
            )
            continue
        yield _flow_check(name, config, clients, flow_id, "the address's own flow")


def _associated_flow(config: BridgeConfig, clients: Clients, item: dict[str, Any]) -> str | None:
    """The flow associated with an email address (GetFlowAssociation, INBOUND_EMAIL), or None.

    The API reference documents ResourceId as an ARN for phone numbers only: the address's ARN is
    asked first, then its id."""
    for resource in (item.get("EmailAddressArn"), item.get("EmailAddressId")):
        if not resource:
            continue
        try:
            answer = clients.connect.get_flow_association(
                InstanceId=config.connect_instance_id, ResourceId=resource, ResourceType="INBOUND_EMAIL"
            )
        except ClientError as exc:
            if error_code(exc) not in ("ResourceNotFoundException", "InvalidParameterException"):
                raise
            continue
        flow_id = answer.get("FlowId")
        if flow_id:
            return str(flow_id).rpartition("/")[2]  # an ARN or an id
    return None


def _flow_check(name: str, config: BridgeConfig, clients: Clients, flow_id: str, source: str) -> Check:
    try:
        flow = clients.connect.describe_contact_flow(
            InstanceId=config.connect_instance_id, ContactFlowId=flow_id
        )["ContactFlow"]
    except ClientError as exc:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            return Check(
                name,
                False,
                f"{source} {flow_id} is not a flow of instance {config.connect_instance_id}",
                "Connect console > Routing > Flows > the flow > Show additional flow information: copy its "
                "id (the last part of its ARN) into contactFlowId",
            )
        if code == "ContactFlowNotPublishedException":
            return Check(
                name, False, f"{source} {flow_id} has never been published", "publish the flow in Connect"
            )
        raise
    described = f"{source} {flow_id} ({flow.get('Name', '?')}, type {flow.get('Type', '?')})"
    if flow.get("Type") != INBOUND_FLOW_TYPE:
        return Check(
            name,
            False,
            f"{described}: an email contact starts an inbound flow (type {INBOUND_FLOW_TYPE})",
            "choose an inbound flow (Routing > Flows, type Inbound flow)",
        )
    if flow.get("State") == "ARCHIVED":
        return Check(
            name, False, f"{described} is archived", "restore the flow in Connect, or choose another"
        )
    return Check(name, True, f"{described}, an inbound flow")


def _attachment_rules(config: BridgeConfig, clients: Clients) -> Iterator[Check]:
    """The function's attachmentExtensions / attachmentMaxBytes against the instance's EMAIL configuration."""
    answer = clients.connect.describe_attached_files_configuration(
        InstanceId=config.connect_instance_id, AttachmentScope="EMAIL"
    )["AttachedFilesConfiguration"]
    listed = answer.get("ExtensionConfiguration", {}).get("AllowedExtensions")
    instance_extensions = None if listed is None else normalized_extensions(e["Extension"] for e in listed)
    ours = set(config.function.attachment_extensions)
    if instance_extensions is None:
        yield Check(
            "attachment extensions match the instance", False, "the instance states no extensions", ""
        )
    else:
        sent_refused = sorted(ours - set(instance_extensions))
        taken_dropped = sorted(set(instance_extensions) - ours)
        problems = []
        if sent_refused:
            problems.append(
                f"the function would send {' '.join(sent_refused)}, which the instance refuses (each such "
                "email would go without its attachments)"
            )
        if taken_dropped:
            problems.append(f"it would drop {' '.join(taken_dropped)}, which the instance takes")
        listing = json.dumps([e.lstrip(".") for e in instance_extensions], separators=(",", ":"))
        yield Check(
            "attachment extensions match the instance",
            not problems,
            "; ".join(problems)
            or f"{len(instance_extensions)} extensions, as the instance's EMAIL configuration",
            f"-c 'attachmentExtensions={listing}' (or the same list in cdk.json)" if problems else "",
        )
    limit = answer.get("MaximumSizeLimitInBytes")
    ours_limit = config.function.attachment_max_bytes
    if limit is None:
        yield Check("attachment size matches the instance", False, "the instance states no maximum size", "")
        return
    if ours_limit > limit:
        why = (
            f"the function would send files up to {ours_limit} bytes; the instance refuses files over {limit}"
        )
    elif ours_limit < limit:
        why = f"the function would drop files of {ours_limit + 1}-{limit} bytes, which the instance takes"
    else:
        why = ""
    yield Check(
        "attachment size matches the instance",
        not why,
        why or f"at most {limit} bytes per file",
        f"-c attachmentMaxBytes={limit} (or the same in cdk.json)" if why else "",
    )


def _rule_after(config: BridgeConfig, clients: Clients) -> Iterator[Check]:
    """ruleAfter must name a rule of the set, or CreateReceiptRule fails the deploy."""
    after = config.rule_after
    if after is None:
        return
    name = f"ruleAfter {after!r} in {config.rule_set_name!r}"
    if config.rule_set_mode is not RuleSetMode.EXISTING:
        yield Check(
            name,
            False,
            f"the deploy creates {config.rule_set_name!r} with this stack's rule only: there is no {after!r} "
            "to follow",
            "unset ruleAfter (or use ruleSetMode=existing with the set that holds it)",
        )
        return
    try:
        rules = clients.ses.describe_receipt_rule_set(RuleSetName=config.rule_set_name).get("Rules", [])
    except ClientError as exc:
        if error_code(exc) not in ("RuleSetDoesNotExist", "RuleSetDoesNotExistException"):
            raise
        yield Check(name, False, f"no rule set {config.rule_set_name!r}", "fix ruleSetName")
        return
    names = [rule.get("Name") for rule in rules]
    yield Check(
        name,
        after in names,
        "present"
        if after in names
        else f"no such rule (the set holds {', '.join(map(repr, names)) or 'none'})",
        "" if after in names else "fix ruleAfter (a rule name of the set), or unset it to put the rule first",
    )


def _rule_set(config: BridgeConfig, clients: Clients, *, deployed: bool) -> Iterator[Check]:
    active = clients.ses.describe_active_receipt_rule_set()
    active_name = active.get("Metadata", {}).get("Name")
    rules: list[dict[str, Any]] = active.get("Rules", [])
    wanted = config.rule_set_name
    if config.rule_set_mode is RuleSetMode.CREATE_AND_ACTIVATE:
        if active_name and active_name != wanted:
            stopping = ", ".join(repr(rule.get("Name")) for rule in rules) or "none"
            yield Check(
                "receipt rule set is active",
                True,
                f"the deploy activates {wanted!r} and so REPLACES the active set {active_name!r}: its rules "
                f"({stopping}) stop applying, for every domain of the account in {config.region}",
                f"to keep them, use ruleSetMode=existing with ruleSetName={active_name} instead",
                warning=True,
            )
        else:
            yield Check("receipt rule set is active", True, f"the deploy activates {wanted!r}")
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
            for a in config.function.connect_addresses
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
    domains = sorted({a.address.rpartition("@")[2].lower() for a in config.function.connect_addresses})
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
        label = "FAIL" if not check.passed else "WARN" if check.warning else "PASS"
        lines.append(f"{label}  {check.name}: {check.detail}")
        if check.fix and (check.warning or not check.passed):
            lines.append(f"      {'fix' if not check.passed else 'note'}: {check.fix}")
    failed = sum(not c.passed for c in checks)
    warned = sum(c.passed and c.warning for c in checks)
    lines.append(
        f"{len(checks) - failed} passed, {failed} failed" + (f", {warned} to read" if warned else "")
    )
    return "\n".join(lines)
