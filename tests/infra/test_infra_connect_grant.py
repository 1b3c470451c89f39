"""The function's connect:StartEmailContact grant, read from the synthesized template, against every
reading of what IAM authorizes the call on.

No single document settles it, so each reading is written down with its source and the grant must
allow the call under all of them, for an address with a flow of its own and for one without
(``support@…`` in cdk.json, and the smoke test's default recipient), and for nothing outside the
configured instance.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import pytest

from tests.infra.infra_support import Synth

INSTANCE = "00000000-0000-0000-0000-000000000000"
INSTANCE_ARN = f"arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE}"
CONFIGURED_FLOW = "11111111-1111-1111-1111-111111111111"  # billing@'s flow in cdk.json
DEFAULT_FLOW = "99999999-8888-7777-6666-555555555555"  # an address's own flow, chosen in Connect
OTHER_INSTANCE_ARN = "arn:aws:connect:us-east-1:111122223333:instance/11111111-2222-3333-4444-555555555555"


class Reading(NamedTuple):
    """One reading: where it comes from, and the resource ARNs IAM checks for one request."""

    source: str
    resources: tuple[str, ...]


def _flow(flow_id: str, instance_arn: str = INSTANCE_ARN) -> str:
    return f"{instance_arn}/contact-flow/{flow_id}"


READINGS = {
    "instance-required": Reading(
        "Service Authorization Reference, Amazon Connect, copies of January 2025 to January 2026: resource "
        "type `instance*` (required) for StartEmailContact",
        (INSTANCE_ARN,),
    ),
    "contact-flow-optional-with-flow": Reading(
        "Service Authorization Reference, mid-2026 copy: `contact-flow` (optional); the request names the "
        "configured flow (ContactFlowId)",
        (_flow(CONFIGURED_FLOW),),
    ),
    "both-listed": Reading(
        "a copy listing both: every listed resource type of the request is checked",
        (INSTANCE_ARN, _flow(CONFIGURED_FLOW)),
    ),
    "no-flow-id-instance": Reading(
        "a request without ContactFlowId (StartEmailContact API reference: the address's own flow is used); "
        "no document says what IAM then checks: the instance",
        (INSTANCE_ARN,),
    ),
    "no-flow-id-default-flow": Reading(
        "a request without ContactFlowId, read as checking the address's own flow, which Connect chooses",
        (_flow(DEFAULT_FLOW),),
    ),
}


def _matches(pattern: str, arn: str) -> bool:
    """IAM's ARN matching: ``*`` any run of characters (``/`` included), ``?`` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def _allowed(statements: list[dict[str, Any]], arn: str) -> bool:
    """Whether an identity statement allows connect:StartEmailContact on ``arn`` (no Deny is synthesized)."""
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if (
            statement["Effect"] == "Allow"
            and "Condition" not in statement
            and any(_matches(a, "connect:StartEmailContact") for a in actions)
            and any(isinstance(r, str) and _matches(r, arn) for r in resources)
        ):
            return True
    return False


def _function_statements(s: Synth) -> list[dict[str, Any]]:
    policy = s.template["Resources"][s.logical_id(s.construct.bridge.policy)]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


@pytest.mark.parametrize("fixture", ["default", "kms_activated"])
@pytest.mark.parametrize("reading", list(READINGS))
def test_the_synthesized_grant_allows_the_call_under_each_reading(
    fixture: str, reading: str, request: pytest.FixtureRequest
) -> None:
    statements = _function_statements(request.getfixturevalue(fixture))
    refused = [arn for arn in READINGS[reading].resources if not _allowed(statements, arn)]
    assert refused == [], f"{READINGS[reading].source}: not granted {refused}"


def test_nothing_outside_the_configured_instance_is_granted(default: Synth) -> None:
    statements = _function_statements(default)
    for arn in (
        OTHER_INSTANCE_ARN,
        _flow(CONFIGURED_FLOW, OTHER_INSTANCE_ARN),
        f"{INSTANCE_ARN}-other",
        f"{INSTANCE_ARN}/queue/{DEFAULT_FLOW}",
        "arn:aws:connect:eu-west-1:111122223333:instance/" + INSTANCE,
    ):
        assert not _allowed(statements, arn), arn


def test_the_matcher_reads_iam_wildcards_as_iam_does() -> None:
    """The check above is only as good as this matcher: it must refuse what IAM would refuse."""
    assert _matches(f"{INSTANCE_ARN}/contact-flow/*", _flow(DEFAULT_FLOW))
    assert not _matches(f"{INSTANCE_ARN}/contact-flow/*", INSTANCE_ARN)
    assert not _matches(INSTANCE_ARN, _flow(DEFAULT_FLOW))
    assert _matches("connect:Start*", "connect:StartEmailContact")
    assert not _allowed(
        [
            {
                "Effect": "Allow",
                "Action": "connect:StartEmailContact",
                "Resource": INSTANCE_ARN,
                "Condition": {"StringEquals": {"aws:ResourceTag/x": "y"}},
            }
        ],
        INSTANCE_ARN,
    )
