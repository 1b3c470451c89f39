"""A setting's declaration and its rule, which both readers run: the function's (environment
variables) and the stack's (cdk.json context, ``ses_to_connect_cdk``).

A rule takes a value as either source gives it, native JSON (cdk.json) or its text (an environment
variable, or ``-c KEY=VALUE``), and returns the typed value with every reason it is refused. The
reasons name no key: each reader puts its own key name in front (:func:`named`), so a problem speaks
of the key the user wrote. The readers decide only what counts as "unset"; what is valid is decided
here, once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field, fields
from types import MappingProxyType
from typing import Any, NamedTuple

from ses_to_connect.flows import read_contact_flow_id
from ses_to_connect.limits import ATTRIBUTE_KEY_PATTERN, EMAIL_PATTERN, MAX_CONTACT_FLOW_ID, attributes_size

MAX_PREFIX = 256
# Half of Connect's 32 KiB attribute budget; the bridge's own attributes use the rest.
MAX_STATIC_ATTRIBUTES_BYTES = 16_384
_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9!_.*'()-]+(?:/[A-Za-z0-9!_.*'()-]+)*/$")
# Connect's FileExtension (DescribeAttachedFilesConfiguration): 1-10 of [a-zA-Z0-9-_], or with its dot.
_EXTENSION_PATTERN = re.compile(r"^\.?[A-Za-z0-9_-]{1,10}$")
_WHOLE_NUMBER = re.compile(r"\s*-?\d+\s*")
ADDRESS_FIELDS = ("address", "contactFlowId")
_ITEM = re.compile(r"\[\d+\]")  # a reason about one item of a list: "[0]: ..."
_DECLARATION = "setting"  # the key of a field's metadata that holds its declaration


class ConnectAddress(NamedTuple):
    """A Connect email address this bridge delivers to, with an optional flow override."""

    address: str
    contact_flow_id: str | None = None

    @property
    def key(self) -> str:
        return self.address.lower()

    @classmethod
    def parse(cls, text: str) -> ConnectAddress:
        """``ADDR`` or ``ADDR=FLOW_ID``, as every command line takes it (validated where settings are
        built)."""
        address, _, flow = text.partition("=")
        return cls(address.strip(), flow.strip() or None)


class Reading(NamedTuple):
    """What a rule made of a value: the typed value (the default when refused) and why it was refused."""

    value: Any
    problems: tuple[str, ...] = ()


Rule = Callable[["Setting", Any], Reading]


class Setting(NamedTuple):
    """One setting, declared once: the function's variable, the stack's cdk.json key, its type,
    default, range, rule and description. The readers and the docs generator interpret it."""

    name: str  # the field of Settings (or of the stack's BridgeConfig)
    type: str  # JSON type of the value: "string", "integer", "boolean", "list" or "object"
    default: Any  # taken when the value is unset; None: unset means "not configured"
    doc: str
    env: str = ""  # the function's environment variable; "": the function does not read one
    key: str = ""  # the cdk.json context key; "": the stack fills the variable in itself
    low: int | None = None  # an integer's range, both ends included
    high: int | None = None
    low_reason: str = ""  # why ``low`` is the least, when it is not the service's own limit
    choices: tuple[Any, ...] = ()  # the values allowed, as the reader returns them
    required: bool = False
    default_text: str = ""  # the docs' words for the default, when a value cannot say it
    example: str = ""  # a cdk.json value, for the docs
    rule: Rule | None = None  # what a value must be beyond its type, range and choices

    def within(self, value: int) -> bool:
        """Whether ``value`` is in the declared range (every value is when there is none)."""
        return (self.low is None or self.low <= value) and (self.high is None or value <= self.high)

    def read(self, value: Any) -> Reading:
        """``value`` (native JSON or its text) by this setting's rule: its own, else its type's."""
        if self.rule is not None:
            return self.rule(self, value)
        if self.choices:
            return choice(self, value)
        if self.type == "boolean":
            return boolean(self, value)
        if self.type == "integer":
            return integer(self, value)
        return text(self, value)


def setting[T](
    type: str, default: T, /, *, field_default: Callable[[], T] | None = None, **declaration: Any
) -> T:
    """A dataclass field that is its setting's declaration (:class:`Setting`'s fields but the name, which is
    the field's). ``default`` is what a reader takes when the value is unset, and the field's default
    unless ``field_default`` makes it."""
    metadata = {_DECLARATION: Setting("", type, default, **declaration)}
    if field_default is not None:
        return field(default_factory=field_default, metadata=metadata)
    return field(default=default, metadata=metadata)


def required_setting(type: str, default: Any = None, /, **declaration: Any) -> Any:
    """A dataclass field without a default that is its setting's declaration: the readers refuse the
    value unset (and then hold ``default``)."""
    return field(metadata={_DECLARATION: Setting("", type, default, required=True, **declaration)})


def declared_settings(cls: type) -> tuple[Setting, ...]:
    """The declarations of a dataclass's fields (:func:`setting`), in order, each named by its field."""
    return tuple(f.metadata[_DECLARATION]._replace(name=f.name) for f in fields(cls))


def named(name: str, reason: str) -> str:
    """A rule's reason as a reader reports it, under the key the user wrote (``[0]: ...`` follows the
    name directly: ``connectAddresses[0]: ...``)."""
    return f"{name}{reason}" if _ITEM.match(reason) else f"{name}: {reason}"


def render(value: Any) -> str:
    """A typed value as the function's variable spells it: true or false, compact JSON, or its text.
    Every rule reads this form back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return json.dumps(dict(value), separators=(",", ":"), sort_keys=True)
    if isinstance(value, tuple):
        return json.dumps([_plain(item) for item in value], separators=(",", ":"))
    return str(value)


def _plain(item: Any) -> Any:
    """An item of a tuple setting as JSON: a ConnectAddress as the object the readers take."""
    if isinstance(item, ConnectAddress):
        flow = {"contactFlowId": item.contact_flow_id} if item.contact_flow_id else {}
        return {"address": item.address, **flow}
    return item


def _shown(value: Any) -> str:
    """A refused value in a problem: a string quoted as Python does, anything else as JSON."""
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _refused(setting: Setting, *problems: str) -> Reading:
    return Reading(setting.default, problems)


def text(setting: Setting, value: Any) -> Reading:
    if not isinstance(value, str):
        return _refused(setting, f"must be a string, not {json.dumps(value)}")
    return Reading(value)


def boolean(setting: Setting, value: Any) -> Reading:
    if isinstance(value, bool):
        return Reading(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return Reading(value.strip().lower() == "true")
    return _refused(setting, f"must be true or false, not {json.dumps(value)}")


def whole_number(value: Any) -> int | None:
    """``value`` as a whole number (native, or its digits as text), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        return int(value)
    return None


def integer(setting: Setting, value: Any) -> Reading:
    """A whole number in the declared range (and among the choices, when there are some)."""
    number = whole_number(value)
    if number is None:
        return _refused(setting, f"must be a whole number, not {json.dumps(value)}")
    if not setting.within(number):
        if setting.low_reason and setting.low is not None and number < setting.low:
            return _refused(setting, f"must be at least {setting.low}: {setting.low_reason}; not {number}")
        return _refused(setting, f"must be between {setting.low} and {setting.high}, not {number}")
    return Reading(number)


def choice(setting: Setting, value: Any) -> Reading:
    """One of the declared choices, matched case-insensitively, returned as declared."""
    if isinstance(value, str):
        for option in setting.choices:
            if str(option).lower() == value.strip().lower():
                return Reading(option)
    allowed = ", ".join(repr(str(c)) for c in setting.choices)
    return _refused(setting, f"must be one of {allowed}, not {json.dumps(value)}")


def json_value(setting: Setting, value: Any, kind: type) -> Reading:
    """A list or object, given natively or as JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            return _refused(setting, f"is not valid JSON: {exc.msg} at position {exc.pos}")
    if not isinstance(value, kind):
        article = "a list" if kind is list else "an object"
        return _refused(setting, f"must be {article} (JSON), not {json.dumps(value)}")
    return Reading(value)


def key_prefix(setting: Setting, value: Any) -> Reading:
    """A relative S3 key prefix ending in '/', taken exactly as given (no padding, no empty segments)."""
    if not isinstance(value, str) or not _PREFIX_PATTERN.fullmatch(value) or len(value) > MAX_PREFIX:
        return _refused(
            setting,
            f"{_shown(value)} must be a relative S3 key prefix ending in '/' (SES concatenates prefix and "
            f"message id), without empty segments, at most {MAX_PREFIX} characters",
        )
    return Reading(value)


def overlapping_prefixes(prefixes: Mapping[str, str]) -> list[str]:
    """Key prefixes (by the names a reader knows them) where one begins another: each IAM grant must
    cover one kind of object, and a shared start would let a grant for one reach another's."""
    problems: list[str] = []
    names = list(prefixes)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = prefixes[first], prefixes[second]
            if a and b and (a.startswith(b) or b.startswith(a)):
                problems.append(
                    f"{first} and {second}: {a!r} and {b!r} overlap; the prefixes must be disjoint so that "
                    "each IAM grant covers one kind of object"
                )
    return problems


def static_attributes(setting: Setting, value: Any) -> Reading:
    """Contact attributes: keys Connect takes, string values, within the share of the budget left to them."""
    reading = json_value(setting, value, dict)
    if reading.problems:
        return reading
    problems: list[str] = []
    result: dict[str, str] = {}
    for key, item in reading.value.items():
        if not ATTRIBUTE_KEY_PATTERN.fullmatch(key):
            problems.append(f"key {key!r} may hold only letters, digits, '-' and '_'")
        elif not isinstance(item, str):
            problems.append(f"value of {key!r} must be a string, not {json.dumps(item)}")
        else:
            result[key] = item
    size = attributes_size(result)
    if size > MAX_STATIC_ATTRIBUTES_BYTES:
        problems.append(
            f"{size} UTF-8 bytes; at most {MAX_STATIC_ATTRIBUTES_BYTES} (half of Connect's attribute budget: "
            "the bridge's own attributes use the rest)"
        )
    return _refused(setting, *problems) if problems else Reading(MappingProxyType(result))


def overrides_of(known: Mapping[str, Any], actions: Iterable[str]) -> Rule:
    """The rule of an object of overrides: each key one of ``known``, each value one of ``actions``."""
    allowed = tuple(actions)

    def overrides(setting: Setting, value: Any) -> Reading:
        reading = json_value(setting, value, dict)
        if reading.problems:
            return reading
        problems: list[str] = []
        for key, action in reading.value.items():
            if key not in known:
                problems.append(f"unknown rule {key!r}; known rules: {', '.join(known)}")
            elif action not in allowed:
                problems.append(
                    f"rule {key!r} has action {_shown(action)}; use {' or '.join(map(repr, allowed))}"
                )
        return _refused(setting, *problems) if problems else Reading(MappingProxyType(dict(reading.value)))

    return overrides


def normalized_extensions(extensions: Iterable[str]) -> tuple[str, ...]:
    """Extensions as the function compares them: lowercase, with their dot (Connect lists them without)."""
    return tuple(sorted({"." + e.strip().lower().lstrip(".") for e in extensions}))


def file_extensions(setting: Setting, value: Any) -> Reading:
    """File extensions as Connect's attached-files configuration lists them (no dot), or with the dot."""
    reading = json_value(setting, value, list)
    if reading.problems:
        return reading
    bad = [
        item for item in reading.value if not isinstance(item, str) or not _EXTENSION_PATTERN.fullmatch(item)
    ]
    if bad:
        return _refused(
            setting, f"{json.dumps(bad)} are not file extensions (1-10 letters, digits, '-' or '_')"
        )
    return Reading(normalized_extensions(reading.value))


def address_entries(setting: Setting, value: Any) -> Reading:
    """A non-empty list of ``{"address": ..., "contactFlowId": ...}``: distinct email addresses, each
    flow a string Connect takes (whether it is a flow of the instance, :func:`flows_of_instance` asks
    with the instance at hand)."""
    reading = json_value(setting, value, list)
    if reading.problems:
        return reading
    if not reading.value:
        return _refused(setting, "must name at least one Connect email address")
    problems: list[str] = []
    entries: list[ConnectAddress] = []
    seen: set[str] = set()
    for index, item in enumerate(reading.value):
        where = f"[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("address"), str):
            problems.append(f'{where}: must be an object {{"address": ..., "contactFlowId": ...}}')
            continue
        unknown = sorted(set(item) - set(ADDRESS_FIELDS))
        if unknown:
            problems.append(
                f"{where}: unknown field(s) {', '.join(unknown)}; use {', '.join(ADDRESS_FIELDS)}"
            )
        address = item["address"].strip()
        if not EMAIL_PATTERN.fullmatch(address) or len(address) > 255:
            problems.append(f"{where}: {address!r} is not an email address")
        if address.lower() in seen:
            problems.append(f"{where}: {address!r} is listed twice")
        seen.add(address.lower())
        flow = item.get("contactFlowId")
        if flow is not None and (not isinstance(flow, str) or not 1 <= len(flow) <= MAX_CONTACT_FLOW_ID):
            problems.append(f"{where}: contactFlowId must be a string of 1-{MAX_CONTACT_FLOW_ID} characters")
            flow = None
        entries.append(ConnectAddress(address, flow or None))
    return _refused(setting, *problems) if problems else Reading(tuple(entries))


class FlowsOfInstance(NamedTuple):
    addresses: tuple[ConnectAddress, ...]  # each flow as an id (a refused one as given)
    problems: list[str]
    notes: list[str]  # what was taken from a value given in another form (a flow ARN for its id)


def flows_of_instance(
    addresses: tuple[ConnectAddress, ...],
    instance: str,
    *,
    account: str | None = None,
    region: str | None = None,
) -> FlowsOfInstance:
    """Each address's flow as a flow id of ``instance``: a pasted flow ARN of it gives its id (with a
    note); a flow's name or another instance's flow is refused. ``account`` and ``region``, when the
    reader knows them, must match a flow ARN's too."""
    result: list[ConnectAddress] = []
    problems: list[str] = []
    notes: list[str] = []
    for index, entry in enumerate(addresses):
        if entry.contact_flow_id is None:
            result.append(entry)
            continue
        reading = read_contact_flow_id(entry.contact_flow_id, instance, account=account, region=region)
        if reading.problem:
            problems.append(f"[{index}].contactFlowId: {reading.problem}")
        if reading.note:
            notes.append(f"[{index}].{reading.note}")
        result.append(entry._replace(contact_flow_id=reading.flow_id or entry.contact_flow_id))
    return FlowsOfInstance(tuple(result), problems, notes)


def matching(pattern: re.Pattern[str], what: str) -> Rule:
    """The rule of a string that must match ``pattern`` (``what`` says what it then is)."""

    def rule(setting: Setting, value: Any) -> Reading:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            return _refused(setting, f"{_shown(value)} is not {what}")
        return Reading(value)

    return rule
