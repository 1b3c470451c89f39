"""What a configured ``contactFlowId`` may be: one rule for the stack's reader and the function's.

Connect names a flow by an id, the last part of its ARN
(``arn:aws:connect:REGION:ACCOUNT:instance/INSTANCE_ID/contact-flow/FLOW_ID``; StartEmailContact's
API reference shows where to find it), and the ids it hands out are lowercase UUIDs. A pasted ARN of
the configured instance is accepted for its id. Anything else (a flow's name, an ARN of another
instance, a version or ``$SAVED`` alias) would pass every length check and make each email to that
address fail at run time, so it is refused with the reason.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["FlowReading", "instance_id_of", "read_contact_flow_id"]

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
FLOW_ID_PATTERN = re.compile(_UUID)
_INSTANCE_ARN = re.compile(rf"arn:aws[a-z-]*:connect:[a-z0-9-]+:\d{{12}}:instance/(?P<instance>{_UUID})")
_FLOW_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):connect:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"instance/(?P<instance>[^/]+)/contact-flow/(?P<flow>[^/:]+)(?P<alias>:.*)?"
)


class FlowReading(NamedTuple):
    """A configured flow read: its id (None when refused), why it was refused, or a note to print."""

    flow_id: str | None
    problem: str = ""
    note: str = ""


def instance_id_of(instance: str) -> str:
    """The instance id of ``instance``, given as an id or as an instance ARN."""
    match = _INSTANCE_ARN.fullmatch(instance)
    return match["instance"] if match else instance


def read_contact_flow_id(
    value: str, instance: str, *, account: str | None = None, region: str | None = None
) -> FlowReading:
    """``value`` as a flow id of ``instance`` (an id or an instance ARN), or the reason it is not one.

    ``account`` and ``region``, when known (the stack knows them, the function only its instance),
    must match a pasted flow ARN's too.
    """
    text = value.strip()
    if FLOW_ID_PATTERN.fullmatch(text):
        return FlowReading(text)
    arn = _FLOW_ARN.fullmatch(text)
    if arn is None:
        return FlowReading(
            None,
            f"{text!r} is not a flow id (a lowercase UUID such as 846ec553-a005-41c0-8341-0123456789ab, the "
            "last part of the flow's ARN: Routing > Flows > the flow > Show additional flow information); "
            "a flow's name is not accepted",
        )
    own = instance_id_of(instance)
    elsewhere = [
        f"{what} {arn[group]!r}, not {expected!r}"
        for what, group, expected in (
            ("instance", "instance", own),
            ("account", "account", account),
            ("region", "region", region),
        )
        if expected is not None and arn[group] != expected
    ]
    if elsewhere:
        return FlowReading(
            None,
            f"{text!r} is a flow of another instance ({'; '.join(elsewhere)}): use a flow of this instance",
        )
    if arn["alias"] or not FLOW_ID_PATTERN.fullmatch(arn["flow"]):
        return FlowReading(
            None, f"{text!r} names a flow version or alias, or no flow id: give the flow's id or plain ARN"
        )
    return FlowReading(
        arn["flow"], note=f"contactFlowId {text!r} is a flow ARN; its id {arn['flow']} is used"
    )
