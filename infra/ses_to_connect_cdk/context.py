"""Reading the CDK context: each key by its declaration's rule, in the key names the user wrote.

Values may be native JSON (from cdk.json) or strings (from ``-c KEY=VALUE``); every rule takes both.
A key that is absent, null, or "" / "null" (from ``-c``) takes its default. Problems are appended,
never raised, so that :meth:`~ses_to_connect_cdk.config.BridgeConfig.from_context` reports them all.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from ses_to_connect.limits import EMAIL_PATTERN
from ses_to_connect.setting_rules import ConnectAddress, Setting, flows_of_instance, json_value, named
from ses_to_connect_cdk.checks import recipient_covers
from ses_to_connect_cdk.keys import (
    ACCOUNT_ID,
    DEFAULT_RULE_SET_NAME,
    DOMAIN,
    INSTANCE_ARN,
    INSTANCE_UUID,
    MAX_SES_RECIPIENTS,
    REGION_PATTERN,
    RULE_SET_NAME,
    SPECS,
    RuleSetMode,
)


class ContextReader:
    """Typed reads of context values, appending problems (and notes) instead of raising."""

    def __init__(self, context: Mapping[str, Any], problems: list[str]) -> None:
        self.context = context
        self.problems = problems
        # What was taken from a value accepted in another form (a flow ARN for its id): printed at synth.
        self.notes: list[str] = []

    def given(self, key: str) -> bool:
        return not _is_null(self.context.get(key))

    def raw(self, key: str) -> Any:
        """The value, or the key's default when it is not given."""
        return self.context[key] if self.given(key) else SPECS[key].default

    def optional_str(self, key: str) -> str | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problems.append(f"{key}: must be a string, not {json.dumps(value)}")
            return None
        return value.strip()

    def declared(self, spec: Setting) -> Any:
        """A key by its declaration's rule; its default when not given (or refused)."""
        if not self.given(spec.key):
            return spec.default
        reading = spec.read(self.context[spec.key])
        self.problems.extend(named(spec.key, problem) for problem in reading.problems)
        return reading.value

    def connect_addresses(self, instance_id: str, *, account: str, region: str) -> tuple[ConnectAddress, ...]:
        key = "connectAddresses"
        if not self.given(key):
            self.problems.append(f'{key} is required: a list of {{"address": ..., "contactFlowId": ...}}')
            return ()
        addresses: tuple[ConnectAddress, ...] = self.declared(SPECS[key])
        flows = flows_of_instance(addresses, instance_id, account=account or None, region=region or None)
        self.problems.extend(named(key, problem) for problem in flows.problems)
        self.notes.extend(named(key, note) for note in flows.notes)
        return flows.addresses

    def recipients(self, addresses: tuple[ConnectAddress, ...]) -> tuple[str, ...]:
        """What the rule matches; every Connect address must be covered (so it needs the addresses)."""
        key = "sesRecipients"
        if not self.given(key):
            return tuple(a.address for a in addresses)
        reading = json_value(SPECS[key], self.context[key], list)
        self.problems.extend(named(key, problem) for problem in reading.problems)
        items = reading.value or []
        if reading.problems:
            return ()
        if not items or len(items) > MAX_SES_RECIPIENTS:
            self.problems.append(
                f"{key}: must list 1-{MAX_SES_RECIPIENTS} addresses or domains, not {len(items)}"
            )
            return ()
        result: list[str] = []
        for index, item in enumerate(items):
            if not isinstance(item, str) or not (EMAIL_PATTERN.fullmatch(item) or DOMAIN.fullmatch(item)):
                self.problems.append(
                    f"{key}[{index}]: {json.dumps(item)} is not an email address or a domain (example.com, "
                    ".example.com for subdomains)"
                )
                continue
            if item.lower() in {r.lower() for r in result}:
                self.problems.append(f"{key}[{index}]: {item!r} is listed twice")
            result.append(item)
        for address in addresses:
            if not any(recipient_covers(r, address.address) for r in result):
                self.problems.append(
                    f"{key}: no entry covers the Connect address {address.address!r}; mail to it would never "
                    "reach the function (add the address or its domain)"
                )
        return tuple(result)

    def rule_set_name(self, mode: RuleSetMode) -> str:
        value = self.optional_str("ruleSetName")
        if value is None:
            if mode is RuleSetMode.EXISTING:
                self.problems.append(
                    "ruleSetName is required when ruleSetMode is 'existing': name the rule set to add the "
                    "rule to (the active one: aws ses describe-active-receipt-rule-set)"
                )
                return ""
            return DEFAULT_RULE_SET_NAME
        if not RULE_SET_NAME.fullmatch(value):
            self.problems.append(
                f"ruleSetName: {value!r} is not valid (1-64 letters, digits, '_' or '-', starting and ending "
                "with a letter or digit)"
            )
        return value


def report_misspelled_keys(context: Mapping[str, Any], problems: list[str]) -> None:
    known = list(SPECS)
    lowered = {k.lower(): k for k in known}
    for key in context:
        if key in SPECS or key.startswith(("@", "aws:", "cdk")):
            continue
        match = lowered.get(key.lower()) or next(
            iter(difflib.get_close_matches(key, known, n=1, cutoff=0.8)), None
        )
        if match:
            problems.append(f"{key}: unknown key; did you mean {match!r}?")


def connect_instance(reader: ContextReader, problems: list[str]) -> tuple[str, str, str, str, str]:
    """(partition, account, region, connect region, id) from connectInstanceArn, or connectInstanceId +
    account + region.

    ``region`` (where the stack receives mail) defaults to the instance's region and may differ from
    it: the function then calls Connect across regions.
    """
    arn = reader.optional_str("connectInstanceArn")
    instance_id = reader.optional_str("connectInstanceId")
    account = reader.optional_str("account")
    region = reader.optional_str("region")
    partition = "aws"
    if account is not None and not ACCOUNT_ID.fullmatch(account):
        problems.append(f"account: {account!r} must be a 12-digit AWS account id")
    if region is not None and not REGION_PATTERN.fullmatch(region):
        problems.append(f"region: {region!r} is not an AWS region name such as 'us-east-1'")
        region = None
    if arn is not None:
        match = INSTANCE_ARN.fullmatch(arn)
        if not match:
            problems.append(
                f"connectInstanceArn: {arn!r} is not a Connect instance ARN "
                "(arn:aws:connect:REGION:ACCOUNT:instance/INSTANCE-ID)"
            )
            return partition, account or "", region or "", region or "", instance_id or ""
        partition = match["partition"]
        if instance_id is not None and instance_id != match["id"]:
            problems.append(
                f"connectInstanceId: {instance_id!r} differs from the id in connectInstanceArn "
                f"({match['id']!r})"
            )
        if account is not None and account != match["account"]:
            problems.append(
                f"account: {account!r} differs from the account of connectInstanceArn "
                f"({match['account']!r}); "
                "the Connect instance must be in the deployment account"
            )
        return partition, match["account"], region or match["region"], match["region"], match["id"]
    if instance_id is None:
        problems.append(
            "connectInstanceArn is required (or connectInstanceId together with account and region)"
        )
        return partition, account or "", region or "", region or "", ""
    if not INSTANCE_UUID.fullmatch(instance_id):
        problems.append(f"connectInstanceId: {instance_id!r} is not a Connect instance id (a lowercase UUID)")
    if account is None:
        problems.append("account is required when connectInstanceId is given instead of connectInstanceArn")
    if region is None:
        problems.append("region is required when connectInstanceId is given instead of connectInstanceArn")
    return partition, account or "", region or "", region or "", instance_id


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in {"", "null"})
