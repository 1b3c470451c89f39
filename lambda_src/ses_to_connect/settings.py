"""One frozen settings object, validated once with messages that name the variable.

The Lambda reads it from its environment (:meth:`Settings.from_env`); the offline
``convert`` command and the tests build it directly. Every problem found is collected and
reported together in one :class:`SettingsError`, so a deploy with three mistakes needs one
fix-and-retry, not three.

Each setting is declared once, in :data:`FUNCTION_SETTINGS`: its environment variable (the names
are the contract), the stack's cdk.json key, type, default, range and description. This reader
and validation, the dataclass defaults, the stack's cdk.json reader (``ses_to_connect_cdk/config.py``) and the
tables in ``docs/infrastructure.md`` (``make docs``) all take them from there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

from ses_to_connect.errors import SettingsError
from ses_to_connect.flows import read_contact_flow_id
from ses_to_connect.limits import (
    ALLOWED_ATTACHMENT_EXTENSIONS,
    ATTRIBUTE_KEY_PATTERN,
    EMAIL_PATTERN,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_CONTACT_FLOW_ID,
    attributes_size,
)
from ses_to_connect.timing import (
    LAMBDA_RETRY_DELAYS_SECONDS,
    MIN_ATTACHMENT_URL_EXPIRY_SECONDS,
    URL_SAFETY_MARGIN_SECONDS,
)


class Action(StrEnum):
    """What the verdict policy does with a message that matches a rule."""

    DELIVER = "deliver"  # create the contact, with the rule recorded in its attributes
    QUARANTINE = "quarantine"  # no contact; the raw message is copied to the quarantine prefix


class BodyPreference(StrEnum):
    HTML = "html"
    TEXT = "text"


# Every rule the policy knows, with its default action. Verdict rules are "<verdict>:<STATUS>";
# "dmarc:FAIL_REJECT" is a DMARC failure whose domain publishes p=reject. "sender:SUSPICIOUS" is a
# sender with any SenderFlag (an address in the display name...). Guard rules protect against mail
# loops and machine-generated mail.
DEFAULT_POLICY: Mapping[str, Action] = {
    "virus:FAIL": Action.QUARANTINE,
    "virus:GRAY": Action.DELIVER,
    "virus:PROCESSING_FAILED": Action.DELIVER,
    "spam:FAIL": Action.QUARANTINE,
    "spam:GRAY": Action.DELIVER,
    "spam:PROCESSING_FAILED": Action.DELIVER,
    "dmarc:FAIL_REJECT": Action.QUARANTINE,
    "dmarc:FAIL": Action.DELIVER,
    "dmarc:GRAY": Action.DELIVER,
    "dmarc:PROCESSING_FAILED": Action.DELIVER,
    "spf:FAIL": Action.DELIVER,
    "spf:GRAY": Action.DELIVER,
    "spf:PROCESSING_FAILED": Action.DELIVER,
    "dkim:FAIL": Action.DELIVER,
    "dkim:GRAY": Action.DELIVER,
    "dkim:PROCESSING_FAILED": Action.DELIVER,
    "sender:SUSPICIOUS": Action.DELIVER,  # flagged in sesSenderWarning (sender_flags.py)
    "guard:bounce": Action.QUARANTINE,
    "guard:auto_reply": Action.QUARANTINE,
    # Only words point at a machine (a bounce Subject, "out of office"): customers write them too.
    "guard:bounce_wording": Action.DELIVER,
    "guard:auto_reply_wording": Action.DELIVER,
    "guard:from_connect_address": Action.QUARANTINE,
    "guard:bulk": Action.DELIVER,  # Precedence bulk/list/junk: human mail passes forwarders with it
}

MAX_PREFIX = 256
# Half of Connect's 32 KiB attribute budget; the bridge's own attributes use the rest.
MAX_STATIC_ATTRIBUTES_BYTES = 16_384
_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9!_.*'()/-]*$")
_BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION_PATTERN = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
# Connect's FileExtension (DescribeAttachedFilesConfiguration): 1-10 of [a-zA-Z0-9-_]; kept with its dot.
_EXTENSION_PATTERN = re.compile(r"^\.[a-z0-9_-]{1,10}$")
# The largest MaximumSizeLimitInBytes an instance can set (AttachedFilesConfiguration: 100 MB).
MAX_INSTANCE_ATTACHMENT_BYTES = 104_857_600


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


class Setting(NamedTuple):
    """One setting, declared once: the function's variable, the stack's cdk.json key, its type,
    default, range and description. Plain data; the readers and the docs generator interpret it."""

    name: str  # the attribute of Settings (or of the stack's BridgeConfig)
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

    def within(self, value: int) -> bool:
        """Whether ``value`` is in the declared range (every value is when there is none)."""
        return (self.low is None or self.low <= value) and (self.high is None or value <= self.high)

    def below_low(self, value: int) -> str | None:
        """Why ``value`` is too low, when the declaration gives a reason (both readers word it so)."""
        if self.low_reason and self.low is not None and value < self.low:
            return f"must be at least {self.low}: {self.low_reason}; not {value}"
        return None


# The function's settings, in the order they are read (and their problems reported). One setting
# per paragraph, laid out by hand (fmt: off) so that the table reads as one.
# fmt: off
FUNCTION_SETTINGS: tuple[Setting, ...] = (
    Setting("instance_id", "string", None, env="CONNECT_INSTANCE_ID", required=True,
            doc="the Connect instance's id (or ARN)"),
    Setting("connect_addresses", "list", (), env="CONNECT_ADDRESSES", key="connectAddresses", required=True,
            example='[{"address": "support@example.com"}]',
            doc='The instance\'s email addresses this bridge delivers to, `[{"address": ..., '
                '"contactFlowId": ...}]`; `contactFlowId` (optional) overrides the address\'s own flow: a '
                "flow id, or a pasted flow ARN of this instance (its id is taken, with a note); a flow's "
                "name or another instance's flow is refused. No duplicates (case-insensitive)."),
    Setting("mail_bucket", "string", None, env="MAIL_BUCKET", required=True,
            doc="the bucket the SES S3 action writes to"),
    Setting("connect_region", "string", None, env="CONNECT_REGION",
            default_text="unset: the function's own region",
            doc="the region of the Connect instance (from `connectInstanceArn`)"),
    Setting("inbound_prefix", "string", "inbound/", env="INBOUND_PREFIX", key="inboundPrefix",
            example="mail/in/", doc="Key prefix of the raw mail; also the S3 action's `ObjectKeyPrefix`."),
    Setting("quarantine_prefix", "string", "quarantine/", env="QUARANTINE_PREFIX", key="quarantinePrefix",
            example="mail/quarantine/", doc="Where quarantined raw mail is copied."),
    Setting("attachments_prefix", "string", "attachments/", env="ATTACHMENTS_PREFIX", key="attachmentsPrefix",
            example="mail/attachments/",
            doc="Where attachments are stored. The three prefixes end in `/`, are relative, and must not "
                "overlap (each IAM grant covers one kind of object)."),
    Setting("body_preference", "string", BodyPreference.HTML, env="BODY_PREFERENCE", key="bodyPreference",
            choices=tuple(BodyPreference), example="text",
            doc="The body Connect gets when a message has both."),
    Setting("prefer_reply_to", "boolean", False, env="PREFER_REPLY_TO", key="preferReplyTo",
            example="true", doc="Take the customer's address from Reply-To instead of From."),
    Setting("contact_expiry_minutes", "integer", None, env="CONTACT_EXPIRY_MINUTES",
            key="contactExpiryMinutes", low=1, high=20160,  # 14 days: Connect's ceiling for email contacts
            default_text="unset: Connect's default", example="1440",
            doc="How long the contact waits; left out of the environment when unset."),
    Setting("static_attributes", "object", MappingProxyType({}), env="STATIC_ATTRIBUTES",
            key="staticAttributes", example='{"channel": "email"}',
            doc="Extra contact attributes: keys of letters, digits, `-` and `_`, string values, "
                f"at most {MAX_STATIC_ATTRIBUTES_BYTES} UTF-8 bytes in all."),
    Setting("policy", "object", MappingProxyType({}), env="VERDICT_POLICY", key="verdictPolicy",
            example='{"spf:FAIL": "quarantine"}',
            doc="Overrides of the verdict policy (`DEFAULT_POLICY` in `ses_to_connect/settings.py`): "
                "rule -> `deliver` or `quarantine`."),
    Setting("connect_retry_mode", "string", "standard", env="CONNECT_RETRY_MODE", key="connectRetryMode",
            choices=("standard", "adaptive"), example="adaptive",
            doc="botocore's retry mode for Connect calls."),
    Setting("connect_max_attempts", "integer", 5, env="CONNECT_MAX_ATTEMPTS", key="connectMaxAttempts",
            low=1, high=10, example="3", doc="botocore's total attempts per Connect call."),
    Setting("connect_timeout_seconds", "integer", 10, env="CONNECT_TIMEOUT_SECONDS",
            key="connectTimeoutSeconds", low=1, high=60, example="5",
            doc="Connect and read timeout of each attempt; part of the "
                "[timeout budget](#timeout-and-retry-budget)."),
    Setting("aws_timeout_seconds", "integer", 10, env="AWS_TIMEOUT_SECONDS", key="awsTimeoutSeconds",
            low=1, high=60, example="5", doc="Connect and read timeout of each S3 and DynamoDB call."),
    Setting("attachment_url_expiry_seconds", "integer", 3600, env="ATTACHMENT_URL_EXPIRY_SECONDS",
            key="attachmentUrlExpirySeconds", low=MIN_ATTACHMENT_URL_EXPIRY_SECONDS,
            high=604_800, example="900",  # SigV4's limit
            low_reason=f"the {URL_SAFETY_MARGIN_SECONDS} s replay margin + Lambda's retry waits "
                       f"({' + '.join(map(str, LAMBDA_RETRY_DELAYS_SECONDS))} s), or a retry signs the URLs "
                       "again and a lost answer's contact id is lost",
            doc="Lifetime of the pre-signed attachment URLs given to Connect."),
    Setting("attachment_uploads", "integer", 4, env="ATTACHMENT_UPLOADS", key="attachmentUploads",
            low=1, high=MAX_ATTACHMENTS, example="1",
            doc="Attachments stored to S3 at once. Files in flight stay within 20 MB together whatever "
                "the number, so memory holds at most one maximum-size file beyond the parsed message."),
    Setting("attachment_extensions", "list", tuple(sorted(ALLOWED_ATTACHMENT_EXTENSIONS)),
            env="ATTACHMENT_EXTENSIONS", key="attachmentExtensions", default_text="Connect's default 18",
            example='[".pdf", ".png", ".zip"]',
            doc="The file extensions the Connect instance takes in email (its `EMAIL` attached-files "
                "configuration); files of other types are skipped (`type_not_allowed`). Must equal the "
                "instance's: `ses-to-connect preflight` compares them."),
    Setting("attachment_max_bytes", "integer", MAX_ATTACHMENT_BYTES, env="ATTACHMENT_MAX_BYTES",
            key="attachmentMaxBytes", low=1, high=MAX_INSTANCE_ATTACHMENT_BYTES, example="104857600",
            doc="The largest file the instance takes in email (its `MaximumSizeLimitInBytes`); larger files "
                "are skipped (`too_large`). The default is Connect's \"20 MB\", read as 10^6 bytes "
                "each. Compared by the preflight too."),
    Setting("inline_image_min_bytes", "integer", 2048, env="INLINE_IMAGE_MIN_BYTES",
            key="inlineImageMinBytes", low=0, high=MAX_ATTACHMENT_BYTES, example="0",
            doc="Images the HTML body shows by `cid:` that are smaller than this are signature decoration "
                "(spacers, social icons, small logos): not sent as attachments (skipped, "
                "`small_inline_image`), shown by their alt text. 0 sends them all."),
    Setting("idempotency_table", "string", None, env="IDEMPOTENCY_TABLE",
            default_text="unset: Connect's ClientToken is the only guard",
            doc="the DynamoDB table of completed contacts (Powertools idempotency)"),
    Setting("idempotency_ttl_seconds", "integer", 604_800, env="IDEMPOTENCY_TTL_SECONDS",
            key="idempotencyTtlSeconds", low=3600, high=31_536_000, example="1209600",
            doc="How long a created contact is remembered by its ClientToken (covers Lambda's 6-hour "
                "event age and later redrives and replays)."),
    Setting("threads_table", "string", None, env="THREADS_TABLE", default_text="unset: no reply threading",
            doc="the DynamoDB table Message-ID -> ContactId"),
    Setting("thread_ttl_days", "integer", 365, env="THREAD_TTL_DAYS", key="threadTtlDays",
            low=1, high=3650, example="90",
            doc="How long a message can be replied to and still join its thread."),
    Setting("failure_queue_url", "string", None, env="FAILURE_QUEUE_URL",
            default_text="unset: raise and let Lambda retry",
            doc="the on-failure destination queue: permanent failures go there at once instead of "
                "being retried"),
    Setting("tracing", "boolean", False, env="TRACING", key="tracing", example="true",
            doc="X-Ray active tracing, and Powertools Tracer around the handler and every AWS call "
                "(`TRACING` is set only when on). Off by default: it adds 6-11 % to the cold start "
                "([performance.md](performance.md)) and X-Ray charges per trace."),
)
# fmt: on


_DEFAULT = {setting.name: setting.default for setting in FUNCTION_SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Everything the bridge is configured with; each field is declared in :data:`FUNCTION_SETTINGS`."""

    instance_id: str
    connect_addresses: tuple[ConnectAddress, ...]
    mail_bucket: str
    connect_region: str | None = _DEFAULT["connect_region"]
    inbound_prefix: str = _DEFAULT["inbound_prefix"]
    quarantine_prefix: str = _DEFAULT["quarantine_prefix"]
    attachments_prefix: str = _DEFAULT["attachments_prefix"]
    body_preference: BodyPreference = _DEFAULT["body_preference"]
    prefer_reply_to: bool = _DEFAULT["prefer_reply_to"]
    contact_expiry_minutes: int | None = _DEFAULT["contact_expiry_minutes"]
    static_attributes: Mapping[str, str] = _DEFAULT["static_attributes"]
    policy: Mapping[str, Action] = field(default_factory=lambda: dict(DEFAULT_POLICY))  # no overrides
    connect_retry_mode: str = _DEFAULT["connect_retry_mode"]
    connect_max_attempts: int = _DEFAULT["connect_max_attempts"]
    connect_timeout_seconds: int = _DEFAULT["connect_timeout_seconds"]
    aws_timeout_seconds: int = _DEFAULT["aws_timeout_seconds"]
    attachment_url_expiry_seconds: int = _DEFAULT["attachment_url_expiry_seconds"]
    attachment_uploads: int = _DEFAULT["attachment_uploads"]
    attachment_extensions: tuple[str, ...] = _DEFAULT["attachment_extensions"]
    attachment_max_bytes: int = _DEFAULT["attachment_max_bytes"]
    inline_image_min_bytes: int = _DEFAULT["inline_image_min_bytes"]
    idempotency_table: str | None = _DEFAULT["idempotency_table"]
    idempotency_ttl_seconds: int = _DEFAULT["idempotency_ttl_seconds"]
    threads_table: str | None = _DEFAULT["threads_table"]
    thread_ttl_days: int = _DEFAULT["thread_ttl_days"]
    failure_queue_url: str | None = _DEFAULT["failure_queue_url"]
    tracing: bool = _DEFAULT["tracing"]

    def __post_init__(self) -> None:
        problems = _validate(self)
        if problems:
            raise SettingsError(problems)

    def address_for(self, recipient: str) -> ConnectAddress | None:
        """The configured Connect address matching ``recipient``, case-insensitively."""
        wanted = recipient.strip().lower()
        return next((a for a in self.connect_addresses if a.key == wanted), None)

    def action(self, rule: str) -> Action:
        return self.policy[rule]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from environment variables, collecting every problem at once."""
        problems: list[str] = []
        read = _EnvReader(env, problems)
        values = {setting.name: read(setting) for setting in FUNCTION_SETTINGS}
        values["policy"] = policy_with_overrides(values["policy"], problems)
        values["connect_addresses"] = _flow_ids(values["connect_addresses"], values["instance_id"] or "")
        if problems:
            raise SettingsError(problems)
        return cls(**values)


def normalized_extensions(extensions: Any) -> tuple[str, ...]:
    """Extensions as the function compares them: lowercase, with their dot (Connect lists them without)."""
    return tuple(sorted({"." + e.strip().lower().lstrip(".") for e in extensions}))


def _flow_ids(addresses: tuple[ConnectAddress, ...], instance: str) -> tuple[ConnectAddress, ...]:
    """Each address with its flow as an id: a pasted flow ARN of the instance gives its id (a flow
    that is neither stays as given, for :func:`_validate` to refuse with the reason)."""
    return tuple(
        a._replace(
            contact_flow_id=read_contact_flow_id(a.contact_flow_id, instance).flow_id or a.contact_flow_id
        )
        if isinstance(a.contact_flow_id, str)
        else a
        for a in addresses
    )


def policy_with_overrides(overrides: Mapping[str, Any], problems: list[str]) -> dict[str, Action]:
    """DEFAULT_POLICY with ``overrides`` applied; unknown rules or actions become problems."""
    policy = dict(DEFAULT_POLICY)
    for rule, action in overrides.items():
        if rule not in DEFAULT_POLICY:
            problems.append(
                f"VERDICT_POLICY: unknown rule {rule!r}; known rules: {', '.join(DEFAULT_POLICY)}"
            )
        elif action not in {a.value for a in Action}:
            problems.append(
                f"VERDICT_POLICY: rule {rule!r} has action {action!r}; use 'deliver' or 'quarantine'"
            )
        else:
            policy[rule] = Action(action)
    return policy


_T = TypeVar("_T")


class _EnvReader:
    """Reads each declared variable by its type, appending problems instead of raising.

    An unset or empty variable takes the declared default, except a plain string one, which is
    taken as given.
    """

    def __init__(self, env: Mapping[str, str], problems: list[str]) -> None:
        self.env = env
        self.problems = problems

    def __call__(self, setting: Setting) -> Any:
        name, default = setting.env, setting.default
        if name in self.env and isinstance(default, str) and not isinstance(default, StrEnum):
            # A key prefix or retry mode is taken as given: "" or " x/ " is refused by _validate,
            # never replaced by the default (SES would write where the function does not read).
            return self.env[name]
        raw = self.env.get(name, "").strip()
        if not raw:
            if setting.required:
                self.problems.append(f"{name} is required")
            return default
        if setting.type == "boolean":
            if raw.lower() in {"true", "1", "yes"}:
                return True
            if raw.lower() in {"false", "0", "no"}:
                return False
            return self._fail(f"{name} must be true or false, not {raw.lower()!r}", default)
        if setting.type == "integer":
            try:
                return int(raw)
            except ValueError:
                return self._fail(f"{name} must be a whole number, not {raw!r}", default)
        if setting.type in {"list", "object"}:
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                return self._fail(f"{name} is not valid JSON: {exc.msg} at position {exc.pos}", default)
            if setting.type == "object":
                return self._object(name, value)
            if setting.name == "attachment_extensions":
                return self._extensions(name, value)
            return self._connect_addresses(name, value)
        if isinstance(default, StrEnum):  # matched case-insensitively; other choices are checked in _validate
            for choice in setting.choices:
                if choice == raw.lower():
                    return choice
            return self._fail(
                f"{name} must be one of {', '.join(setting.choices)}, not {raw.lower()!r}", default
            )
        return raw

    def _fail(self, problem: str, fallback: _T) -> _T:
        self.problems.append(problem)
        return fallback

    def _object(self, name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            return self._fail(f"{name} must be a JSON object", {})
        return value

    def _extensions(self, name: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return self._fail(f'{name} must be a JSON list of extensions such as [".pdf", ".png"]', ())
        return normalized_extensions(value)

    def _connect_addresses(self, name: str, value: Any) -> tuple[ConnectAddress, ...]:
        if not isinstance(value, list) or not all(
            isinstance(item, dict) and isinstance(item.get("address"), str) for item in value
        ):
            return self._fail(f'{name} must be a JSON list of {{"address": ..., "contactFlowId": ...}}', ())
        return tuple(
            ConnectAddress(item["address"].strip(), item.get("contactFlowId") or None) for item in value
        )


def _validate(settings: Settings) -> list[str]:
    problems: list[str] = []
    if not 1 <= len(settings.instance_id) <= 100:
        problems.append("CONNECT_INSTANCE_ID must be a Connect instance id or ARN of 1-100 characters")
    if not settings.connect_addresses:
        problems.append("CONNECT_ADDRESSES must name at least one Connect email address")
    seen: set[str] = set()
    for entry in settings.connect_addresses:
        if not EMAIL_PATTERN.fullmatch(entry.address) or len(entry.address) > 255:
            problems.append(f"CONNECT_ADDRESSES: {entry.address!r} is not an email address")
        if entry.key in seen:
            problems.append(f"CONNECT_ADDRESSES: {entry.address!r} is listed twice")
        seen.add(entry.key)
        flow = entry.contact_flow_id
        if flow is not None and (not isinstance(flow, str) or len(flow) > MAX_CONTACT_FLOW_ID):
            problems.append(
                f"CONNECT_ADDRESSES: contactFlowId of {entry.address!r} must be a string of <= 500"
            )
        elif flow is not None:
            reading = read_contact_flow_id(flow, settings.instance_id)
            if reading.problem or reading.flow_id != flow:
                why = reading.problem or "is a flow ARN: give its id"
                problems.append(f"CONNECT_ADDRESSES: contactFlowId of {entry.address!r}: {why}")
    if settings.connect_region is not None and not _REGION_PATTERN.fullmatch(settings.connect_region):
        problems.append(f"CONNECT_REGION: {settings.connect_region!r} is not an AWS region name")
    if not _BUCKET_PATTERN.fullmatch(settings.mail_bucket):
        problems.append(f"MAIL_BUCKET: {settings.mail_bucket!r} is not a valid S3 bucket name")
    for name, prefix in (
        ("INBOUND_PREFIX", settings.inbound_prefix),
        ("QUARANTINE_PREFIX", settings.quarantine_prefix),
        ("ATTACHMENTS_PREFIX", settings.attachments_prefix),
    ):
        if (
            not (prefix.endswith("/") and _PREFIX_PATTERN.fullmatch(prefix) and not prefix.startswith("/"))
            or len(prefix) > MAX_PREFIX
        ):
            problems.append(
                f"{name}: {prefix!r} must be a relative key prefix ending in '/', at most {MAX_PREFIX}"
            )
    prefixes = [settings.inbound_prefix, settings.quarantine_prefix, settings.attachments_prefix]
    if len(set(prefixes)) != len(prefixes):
        problems.append("INBOUND_PREFIX, QUARANTINE_PREFIX and ATTACHMENTS_PREFIX must differ")
    for key, value in settings.static_attributes.items():
        if not ATTRIBUTE_KEY_PATTERN.fullmatch(key):
            problems.append(f"STATIC_ATTRIBUTES: key {key!r} may hold only letters, digits, '-' and '_'")
        if not isinstance(value, str):
            problems.append(f"STATIC_ATTRIBUTES: value of {key!r} must be a string")
    if attributes_size(settings.static_attributes) > MAX_STATIC_ATTRIBUTES_BYTES:
        problems.append(f"STATIC_ATTRIBUTES: over {MAX_STATIC_ATTRIBUTES_BYTES} UTF-8 bytes in all")
    if set(settings.policy) != set(DEFAULT_POLICY):
        problems.append("VERDICT_POLICY must give an action for every rule")
    bad = [e for e in settings.attachment_extensions if not _EXTENSION_PATTERN.fullmatch(e)]
    if bad:
        problems.append(
            f"ATTACHMENT_EXTENSIONS: {', '.join(map(repr, bad))} must be '.' and 1-10 lowercase letters, "
            "digits, '-' or '_'"
        )
    for setting in FUNCTION_SETTINGS:  # the declared ranges and choices
        value = getattr(settings, setting.name)
        if value is not None and not setting.within(value):
            # Word for word as before (tests match them): only an optional setting's message names the value.
            named = f", not {value}" if setting.default is None else ""
            why = setting.below_low(value) or f"must be between {setting.low} and {setting.high}{named}"
            problems.append(f"{setting.env} {why}")
        if setting.choices and value not in setting.choices:
            problems.append(f"{setting.env} must be {' or '.join(setting.choices)}, not {value!r}")
    return problems
