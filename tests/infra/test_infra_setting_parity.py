"""Both readers of every setting accept and refuse the same values, each naming its own key.

For every setting the function and the stack both read, values are drawn from its declaration (the
ends of its range and one beyond, its choices, its example, and what its rule is about) and given to
the stack's reader natively (cdk.json) and as text (``-c KEY=VALUE``), and to the function's reader
as its environment variable. All three must accept the same values, reach the same typed value,
and refuse with the same reasons, the stack's under the cdk.json key and the function's under the
variable. A new setting is covered by its declaration alone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ses_to_connect.errors import SettingsError
from ses_to_connect.setting_rules import (
    MAX_PREFIX,
    MAX_STATIC_ATTRIBUTES_BYTES,
    Setting,
    address_entries,
    file_extensions,
    key_prefix,
    static_attributes,
)
from ses_to_connect.settings import FUNCTION_SETTINGS, Settings
from ses_to_connect_cdk.config import PLACEHOLDER_RESOURCES, BridgeConfig, ConfigError
from tests.support.environment import ACCOUNT, REGION, function_environment

INSTANCE = "00000000-0000-4000-8000-000000000000"
FLOW = "846ec553-a005-41c0-8341-0123456789ab"
CONTEXT: dict[str, Any] = {
    "account": ACCOUNT,
    "region": REGION,
    "ruleSetMode": "create-inactive",
    "connectInstanceId": INSTANCE,
    "connectAddresses": [{"address": "support@example.com"}],
}
# The function's environment for CONTEXT, as the stack renders it; each case changes one variable.
ENVIRONMENT = function_environment(CONTEXT, bucket="mail-bucket")
SHARED = [s for s in FUNCTION_SETTINGS if s.env and s.key]

# What each rule is about, beyond what the declaration's type, range and choices give.
_BY_RULE: dict[Any, list[Any]] = {
    key_prefix: [
        "mail/in/",
        "a/b/",
        "a//b/",
        "/a/",
        "a",
        " a/ ",
        "x" * (MAX_PREFIX - 1) + "/",
        "x" * MAX_PREFIX + "/",
    ],
    static_attributes: [
        {},
        {"team": "billing"},
        {"bad key": "v"},
        {"n": 1},
        {"k": "x" * (MAX_STATIC_ATTRIBUTES_BYTES - 1)},  # exactly the budget
        {"k": "x" * MAX_STATIC_ATTRIBUTES_BYTES},  # one byte over
        [1],
        "{not json",
    ],
    file_extensions: [[".pdf"], ["PDF", ".zip"], ["tar.gz"], [1], {"a": 1}],
    address_entries: [
        [{"address": "a@example.com"}, {"address": "b@example.com", "contactFlowId": FLOW}],
        [
            {
                "address": "a@example.com",
                "contactFlowId": f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/{INSTANCE}/contact-flow/"
                f"{FLOW}",
            }
        ],
        [{"address": "a@example.com", "contactFlowId": "Sales inbound"}],
        [{"address": "a@example.com", "contactFlowId": ""}],
        [{"address": "not-an-address"}],
        [{"address": "a@example.com"}, {"address": "A@example.com"}],
        [{"address": "a@example.com", "flow": FLOW}],
        [],
        ["a@example.com"],
    ],
}
_BY_NAME: dict[str, list[Any]] = {
    "policy": [
        {},
        {"spf:FAIL": "quarantine"},
        {"spam:MAYBE": "deliver"},
        {"virus:FAIL": "drop"},
        ["spam:FAIL"],
    ],
}


def candidates(setting: Setting) -> list[Any]:
    """Values drawn from the declaration: both ends of a range and one beyond, every choice in two
    spellings, true and false, the docs' example, and the cases of the setting's rule."""
    values: list[Any] = []
    if setting.choices:
        values += [*setting.choices, *(str(c).upper() for c in setting.choices), "nonsense", 1]
    elif setting.type == "integer":
        assert setting.low is not None and setting.high is not None, setting.key
        values += [
            setting.low - 1,
            setting.low,
            setting.high,
            setting.high + 1,
            f" {setting.low} ",
            "1.5",
            "ten",
        ]
    elif setting.type == "boolean":
        values += [True, False, "TRUE", "false", "yes", 1]
    values += _BY_RULE.get(setting.rule, []) + _BY_NAME.get(setting.name, [])
    try:
        values.append(json.loads(setting.example))
    except json.JSONDecodeError:
        values.append(setting.example)
    return values


def as_text(value: Any) -> str:
    """``value`` as an environment variable (or ``-c KEY=VALUE``) carries it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def stack_reading(key: str, value: Any) -> tuple[BridgeConfig | None, list[str]]:
    try:
        return BridgeConfig.from_context({**CONTEXT, key: value}), []
    except ConfigError as exc:
        return None, exc.problems


def function_reading(variable: str, text: str) -> tuple[Settings | None, list[str]]:
    try:
        return Settings.from_env({**ENVIRONMENT, variable: text}), []
    except SettingsError as exc:
        return None, exc.problems


def reasons(problems: list[str], name: str) -> list[str]:
    """The problems under ``name`` with the name taken off; any other problem fails the test."""
    assert all(p.startswith(name) for p in problems), (name, problems)
    return [p.removeprefix(name) for p in problems]


def typed(config: BridgeConfig, setting: Setting) -> Any:
    """The stack's value: the function's settings it holds."""
    return getattr(config.function, setting.name)


@pytest.mark.parametrize("setting", SHARED, ids=lambda s: str(s.key))
def test_both_readers_accept_and_refuse_the_same_values_in_their_own_key_names(setting: Setting) -> None:
    values = candidates(setting)
    assert len(values) >= 3, f"{setting.key}: declare an example or a rule to draw values from"
    outcomes = set()
    for value in values:
        text = as_text(value)
        native, native_problems = stack_reading(setting.key, value)
        given, given_problems = stack_reading(setting.key, text)
        settings, function_problems = function_reading(setting.env, text)
        case = f"{setting.key}={text!r}"
        assert (native is None) == (given is None) == (settings is None), (
            case,
            native_problems,
            given_problems,
            function_problems,
        )
        if settings is None:
            assert reasons(given_problems, setting.key) == reasons(function_problems, setting.env), case
            reasons(native_problems, setting.key)
            outcomes.add("refused")
            continue
        assert native is not None and given is not None
        assert typed(native, setting) == typed(given, setting) == getattr(settings, setting.name), case
        # The stack renders what it accepted, and the function reads it back to the same value.
        rendered = Settings.from_env(given.lambda_environment(PLACEHOLDER_RESOURCES))
        assert getattr(rendered, setting.name) == getattr(settings, setting.name), case
        outcomes.add("accepted")
    assert outcomes == {"accepted", "refused"}, f"{setting.key}: the values drawn never reach one side"


def test_both_readers_refuse_overlapping_key_prefixes_in_their_own_names() -> None:
    _, stack = stack_reading("attachmentsPrefix", "inbound/attachments/")
    _, function = function_reading("ATTACHMENTS_PREFIX", "inbound/attachments/")
    why = ": 'inbound/' and 'inbound/attachments/' overlap; the prefixes must be disjoint"
    assert [p.startswith(f"inboundPrefix and attachmentsPrefix{why}") for p in stack] == [True]
    assert [p.startswith(f"INBOUND_PREFIX and ATTACHMENTS_PREFIX{why}") for p in function] == [True]
