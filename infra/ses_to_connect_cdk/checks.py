"""The stack's rules between keys: disjoint prefixes, the timeout budget, receiving regions, the smoke
mailbox. Each key's own rule is its declaration's; these run on the values those rules accepted.
"""

from __future__ import annotations

from typing import Any

from ses_to_connect.setting_rules import key_prefix, overlapping_prefixes
from ses_to_connect.timing import connect_call_seconds
from ses_to_connect_cdk.keys import (
    CONTEXT_KEYS,
    MAX_LAMBDA_TIMEOUT_SECONDS,
    MAX_SES_RECIPIENTS,
    OTHER_AWS_CALLS_IN_BUDGET,
    SES_OPT_IN_REGIONS,
    SES_RECEIVING_REGIONS,
)


def timeout_budget_seconds(
    *, destinations: int, connect_attempts: int, connect_timeout_seconds: int, aws_timeout_seconds: int
) -> int:
    """What the function's timeout must cover: one worst-case Connect call per destination (one per
    configured Connect address at most, made one after another) plus one attempt of each other AWS
    call the invocation waits on."""
    other = OTHER_AWS_CALLS_IN_BUDGET * 2 * aws_timeout_seconds
    return destinations * connect_call_seconds(connect_attempts, connect_timeout_seconds) + other


def default_timeout_seconds(budget: int) -> int:
    """The function's timeout when ``lambdaTimeoutSeconds`` is unset: the budget rounded up to a whole
    minute (the margin covers the work between calls), so adding an address needs no tuning; at most
    Lambda's 900 s (a budget beyond it is refused with what to change)."""
    return min(-(-budget // 60) * 60, MAX_LAMBDA_TIMEOUT_SECONDS)


def recipient_covers(recipient: str, address: str) -> bool:
    """SES matching: a full address, a domain (exact), or '.domain' (any subdomain)."""
    recipient, address = recipient.lower(), address.lower()
    domain = address.rpartition("@")[2]
    if "@" in recipient:
        return recipient == address
    if recipient.startswith("."):
        return domain.endswith(recipient)
    return domain == recipient


def smoke_mailbox(kwargs: dict[str, Any], *, explicit_recipients: bool, problems: list[str]) -> None:
    """The rule must store the smoke mailbox's mail, and the function must not take it for Connect's."""
    mailbox: str | None = kwargs["smoke_mailbox"]
    if mailbox is None:
        return
    if mailbox.lower() in {a.address.lower() for a in kwargs["connect_addresses"]}:
        problems.append(
            f"smokeMailbox: {mailbox!r} is a Connect address; name an address Connect does not own"
        )
    elif not explicit_recipients:
        kwargs["ses_recipients"] = (*kwargs["ses_recipients"], mailbox)
        if len(kwargs["ses_recipients"]) > MAX_SES_RECIPIENTS:
            problems.append(f"smokeMailbox: the rule would match more than {MAX_SES_RECIPIENTS} recipients")
    elif not any(recipient_covers(r, mailbox) for r in kwargs["ses_recipients"]):
        problems.append(
            f"sesRecipients: no entry covers smokeMailbox {mailbox!r}; the rule would not store its mail"
        )


def cross_checks(kwargs: dict[str, Any], problems: list[str]) -> None:
    """The rules between keys, on the values each key's own rule accepted (``kwargs`` by field name)."""
    prefixes = {spec.key: kwargs[spec.name] for spec in CONTEXT_KEYS if spec.rule is key_prefix}
    problems.extend(overlapping_prefixes(prefixes))
    if kwargs["connect_addresses"]:
        _check_timeout(kwargs, problems)
    region = kwargs["region"]
    receiving = SES_RECEIVING_REGIONS | set(kwargs["extra_receiving_regions"])
    if region in SES_OPT_IN_REGIONS:
        problems.append(
            f"region: {region!r} is an opt-in region, where SES does not write received mail to an S3 "
            f"bucket of the region; receive in one of {', '.join(sorted(SES_RECEIVING_REGIONS))} with -c "
            "region=..., and the function calls Connect in the instance's region"
        )
    elif region and region not in receiving:
        problems.append(
            f"region: {region!r} has no SES email receiving, and SES invokes only a function in its own "
            f"region; deploy to a receiving region ({', '.join(sorted(receiving))}) with -c region=..., "
            "and the function calls Connect in the instance's region"
        )
    expiry, kept_days = kwargs["attachment_url_expiry_seconds"], kwargs["attachments_retention_days"]
    if expiry and kept_days and kept_days * 86_400 < expiry:
        problems.append(
            f"attachmentsRetentionDays: {kept_days} days is shorter than attachmentUrlExpirySeconds "
            f"({expiry}); a URL Connect was given would point at a deleted object"
        )
    if kwargs["rule_after"] and kwargs["rule_after"] == kwargs["rule_name"]:
        problems.append("ruleAfter: a rule cannot be placed after itself")


def _check_timeout(kwargs: dict[str, Any], problems: list[str]) -> None:
    """Derive an unset lambdaTimeoutSeconds from the budget; refuse a timeout that cannot cover it."""
    addresses, attempts = len(kwargs["connect_addresses"]), kwargs["connect_max_attempts"]
    connect_timeout, aws_timeout = kwargs["connect_timeout_seconds"], kwargs["aws_timeout_seconds"]
    budget = timeout_budget_seconds(
        destinations=addresses,
        connect_attempts=attempts,
        connect_timeout_seconds=connect_timeout,
        aws_timeout_seconds=aws_timeout,
    )
    explicit = kwargs["lambda_timeout_seconds"] is not None
    if not explicit:
        kwargs["lambda_timeout_seconds"] = default_timeout_seconds(budget)
    timeout = kwargs["lambda_timeout_seconds"]
    if timeout >= budget:
        return
    how = (
        f"{addresses} Connect address(es) x {attempts} attempts x 2 x connectTimeoutSeconds "
        f"{connect_timeout} + backoff, + {OTHER_AWS_CALLS_IN_BUDGET} x 2 x awsTimeoutSeconds {aws_timeout}"
    )
    if budget <= MAX_LAMBDA_TIMEOUT_SECONDS:
        problems.append(
            f"lambdaTimeoutSeconds: {timeout} s is shorter than the retry budget of {budget} s ({how}); "
            f"raise it to at least {budget} (max {MAX_LAMBDA_TIMEOUT_SECONDS}), leave it unset to derive "
            "it, or lower connectMaxAttempts / connectTimeoutSeconds"
        )
        return
    per_call = connect_call_seconds(attempts, connect_timeout)
    fits = (MAX_LAMBDA_TIMEOUT_SECONDS - OTHER_AWS_CALLS_IN_BUDGET * 2 * aws_timeout) // per_call
    problems.append(
        f"lambdaTimeoutSeconds: the retry budget is {budget} s ({how}), more than Lambda's "
        f"{MAX_LAMBDA_TIMEOUT_SECONDS} s; lower connectMaxAttempts or connectTimeoutSeconds (each address's "
        f"worst call now takes {per_call} s; at these settings {fits} address(es) fit), or split the "
        "addresses across two stacks"
    )
