"""One frozen settings object, validated once with messages that name the variable.

The Lambda reads it from its environment (:meth:`Settings.from_env`); the offline
``convert`` command and the tests build it directly. Every problem found is collected and
reported together in one :class:`SettingsError`, so a deploy with three mistakes needs one
fix-and-retry, not three.

Each setting is declared once, as its field of :class:`Settings`: its environment variable (the
names are the contract), the stack's cdk.json key, type, default, range, rule
(:mod:`ses_to_connect.setting_rules`) and description. :data:`FUNCTION_SETTINGS` lists these
declarations; this reader, the stack's cdk.json reader (``ses_to_connect_cdk.context``), the stack's
configuration (which holds a ``Settings``) and the tables in ``docs/infrastructure.md`` (``make docs``)
all take them from there, so both readers accept the same values.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_POLICY",
    "FUNCTION_SETTINGS",
    "MAX_ATTACHMENT_URL_EXPIRY_SECONDS",
    "MAX_INSTANCE_ATTACHMENT_BYTES",
    "MAX_STATIC_ATTRIBUTES_BYTES",
    "Action",
    "BodyPreference",
    "ConnectAddress",
    "Setting",
    "Settings",
    "normalized_extensions",
    "policy_with_overrides",
]

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ses_to_connect.errors import SettingsError
from ses_to_connect.limits import ALLOWED_ATTACHMENT_EXTENSIONS, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS
from ses_to_connect.setting_rules import (
    MAX_STATIC_ATTRIBUTES_BYTES,
    ConnectAddress,
    Setting,
    address_entries,
    declared_settings,
    file_extensions,
    flows_of_instance,
    key_prefix,
    matching,
    named,
    normalized_extensions,
    overlapping_prefixes,
    overrides_of,
    render,
    required_setting,
    setting,
    static_attributes,
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

_BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION_PATTERN = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
_INSTANCE_PATTERN = re.compile(r"^.{1,100}$", re.DOTALL)
# The largest MaximumSizeLimitInBytes an instance can set (AttachedFilesConfiguration: 100 MB).
MAX_INSTANCE_ATTACHMENT_BYTES = 104_857_600
# A URL pre-signed with the function's role session stops working when the session's credentials
# expire, whatever X-Amz-Expires says (S3 user guide). How long Lambda's sessions last is not
# documented, so the lifetime is capped at an hour rather than promising days the session may not keep.
MAX_ATTACHMENT_URL_EXPIRY_SECONDS = 3600


@dataclass(frozen=True)
class Settings:
    """Everything the bridge is configured with. Each field is its setting's one declaration
    (:func:`~ses_to_connect.setting_rules.setting`: variable, cdk.json key, type, default, range, rule and
    description), in the order the settings are read and their problems reported."""

    # One setting per paragraph, laid out by hand (fmt: off) so that the declarations read as one table.
    # fmt: off
    instance_id: str = required_setting(
        "string", env="CONNECT_INSTANCE_ID",
        rule=matching(_INSTANCE_PATTERN, "a Connect instance id or ARN of 1-100 characters"),
        doc="the Connect instance's id (or ARN)")
    connect_addresses: tuple[ConnectAddress, ...] = required_setting(
        "list", (), env="CONNECT_ADDRESSES", key="connectAddresses",
        rule=address_entries,
        example='[{"address": "support@example.com"}]',
        doc='The instance\'s email addresses this bridge delivers to, `[{"address": ..., '
            '"contactFlowId": ...}]`; `contactFlowId` (optional) overrides the address\'s own flow: a '
            "flow id, or a pasted flow ARN of this instance (its id is taken, with a note); a flow's "
            "name or another instance's flow is refused. No duplicates (case-insensitive).")
    mail_bucket: str = required_setting(
        "string", env="MAIL_BUCKET",
        rule=matching(_BUCKET_PATTERN, "a valid S3 bucket name"),
        doc="the bucket the SES S3 action writes to")
    connect_region: str | None = setting(
        "string", None, env="CONNECT_REGION",
        rule=matching(_REGION_PATTERN, "an AWS region name"),
        default_text="unset: the function's own region",
        doc="the region of the Connect instance (from `connectInstanceArn`)")
    inbound_prefix: str = setting(
        "string", "inbound/", env="INBOUND_PREFIX", key="inboundPrefix",
        rule=key_prefix, example="mail/in/",
        doc="Key prefix of the raw mail; also the S3 action's `ObjectKeyPrefix`.")
    quarantine_prefix: str = setting(
        "string", "quarantine/", env="QUARANTINE_PREFIX", key="quarantinePrefix",
        rule=key_prefix, example="mail/quarantine/", doc="Where quarantined raw mail is copied.")
    attachments_prefix: str = setting(
        "string", "attachments/", env="ATTACHMENTS_PREFIX", key="attachmentsPrefix",
        rule=key_prefix, example="mail/attachments/",
        doc="Where attachments are stored. The three prefixes end in `/`, are relative, and must not "
            "overlap (each IAM grant covers one kind of object).")
    body_preference: BodyPreference = setting(
        "string", BodyPreference.HTML, env="BODY_PREFERENCE", key="bodyPreference",
        choices=tuple(BodyPreference), example="text",
        doc="The body Connect gets when a message has both.")
    prefer_reply_to: bool = setting(
        "boolean", False, env="PREFER_REPLY_TO", key="preferReplyTo",
        example="true", doc="Take the customer's address from Reply-To instead of From.")
    contact_expiry_minutes: int | None = setting(
        "integer", None, env="CONTACT_EXPIRY_MINUTES",
        key="contactExpiryMinutes", low=1, high=20160,  # 14 days: Connect's ceiling for email contacts
        default_text="unset: Connect's default", example="1440",
        doc="How long the contact waits; left out of the environment when unset.")
    static_attributes: Mapping[str, str] = setting(
        "object", MappingProxyType({}), env="STATIC_ATTRIBUTES",
        key="staticAttributes", rule=static_attributes, example='{"channel": "email"}',
        doc="Extra contact attributes: keys of letters, digits, `-` and `_`, string values, "
            f"at most {MAX_STATIC_ATTRIBUTES_BYTES} UTF-8 bytes in all.")
    policy: Mapping[str, Action] = setting(
        "object", MappingProxyType({}), env="VERDICT_POLICY", key="verdictPolicy",
        rule=overrides_of(DEFAULT_POLICY, (a.value for a in Action)),
        field_default=lambda: dict(DEFAULT_POLICY),  # the variable gives overrides; the field every rule
        example='{"spf:FAIL": "quarantine"}',
        doc="Overrides of the verdict policy (`DEFAULT_POLICY` in `ses_to_connect/settings.py`): "
            "rule -> `deliver` or `quarantine`.")
    connect_retry_mode: str = setting(
        "string", "standard", env="CONNECT_RETRY_MODE", key="connectRetryMode",
        choices=("standard", "adaptive"), example="adaptive",
        doc="botocore's retry mode for Connect calls.")
    connect_max_attempts: int = setting(
        "integer", 5, env="CONNECT_MAX_ATTEMPTS", key="connectMaxAttempts",
        low=1, high=10, example="3", doc="botocore's total attempts per Connect call.")
    connect_timeout_seconds: int = setting(
        "integer", 10, env="CONNECT_TIMEOUT_SECONDS",
        key="connectTimeoutSeconds", low=1, high=60, example="5",
        doc="Connect and read timeout of each attempt; part of the "
            "[timeout budget](#timeout-and-retry-budget).")
    aws_timeout_seconds: int = setting(
        "integer", 10, env="AWS_TIMEOUT_SECONDS", key="awsTimeoutSeconds",
        low=1, high=60, example="5", doc="Connect and read timeout of each S3 and DynamoDB call.")
    attachment_url_expiry_seconds: int = setting(
        "integer", 3600, env="ATTACHMENT_URL_EXPIRY_SECONDS",
        key="attachmentUrlExpirySeconds", low=MIN_ATTACHMENT_URL_EXPIRY_SECONDS,
        high=MAX_ATTACHMENT_URL_EXPIRY_SECONDS, example="900",
        low_reason=f"the {URL_SAFETY_MARGIN_SECONDS} s replay margin + Lambda's retry waits "
                   f"({' + '.join(map(str, LAMBDA_RETRY_DELAYS_SECONDS))} s), or a retry signs the URLs "
                   "again and a lost answer's contact id is lost",
        doc="Lifetime of the pre-signed attachment URLs given to Connect. At most an hour (see below).")
    attachment_uploads: int = setting(
        "integer", 4, env="ATTACHMENT_UPLOADS", key="attachmentUploads",
        low=1, high=MAX_ATTACHMENTS, example="1",
        doc="Attachments stored to S3 at once. Files in flight stay within 20 MB together whatever "
            "the number, so memory holds at most one maximum-size file beyond the parsed message.")
    attachment_extensions: tuple[str, ...] = setting(
        "list", tuple(sorted(ALLOWED_ATTACHMENT_EXTENSIONS)),
        env="ATTACHMENT_EXTENSIONS", key="attachmentExtensions", rule=file_extensions,
        default_text="Connect's default 18",
        example='[".pdf", ".png", ".zip"]',
        doc="The file extensions the Connect instance takes in email (its `EMAIL` attached-files "
            "configuration); files of other types are skipped (`type_not_allowed`). Must equal the "
            "instance's: `ses-to-connect preflight` compares them.")
    attachment_max_bytes: int = setting(
        "integer", MAX_ATTACHMENT_BYTES, env="ATTACHMENT_MAX_BYTES",
        key="attachmentMaxBytes", low=1, high=MAX_INSTANCE_ATTACHMENT_BYTES, example="104857600",
        doc="The largest file the instance takes in email (its `MaximumSizeLimitInBytes`); larger files "
            "are skipped (`too_large`). The default is Connect's \"20 MB\", read as 10^6 bytes "
            "each. Compared by the preflight too.")
    inline_image_min_bytes: int = setting(
        "integer", 2048, env="INLINE_IMAGE_MIN_BYTES",
        key="inlineImageMinBytes", low=0, high=MAX_ATTACHMENT_BYTES, example="0",
        doc="Images the HTML body shows by `cid:` that are smaller than this are signature decoration "
            "(spacers, social icons, small logos): not sent as attachments (skipped, "
            "`small_inline_image`), shown by their alt text. 0 sends them all.")
    idempotency_table: str | None = setting(
        "string", None, env="IDEMPOTENCY_TABLE",
        default_text="unset: Connect's ClientToken is the only guard",
        doc="the DynamoDB table of completed contacts (Powertools idempotency)")
    idempotency_ttl_seconds: int = setting(
        "integer", 604_800, env="IDEMPOTENCY_TTL_SECONDS",
        key="idempotencyTtlSeconds", low=3600, high=31_536_000, example="1209600",
        doc="How long a created contact is remembered by its ClientToken (covers Lambda's 6-hour "
            "event age and later redrives and replays).")
    threads_table: str | None = setting(
        "string", None, env="THREADS_TABLE", default_text="unset: no reply threading",
        doc="the DynamoDB table Message-ID -> ContactId")
    thread_ttl_days: int = setting(
        "integer", 365, env="THREAD_TTL_DAYS", key="threadTtlDays",
        low=1, high=3650, example="90",
        doc="How long a message can be replied to and still join its thread.")
    failure_queue_url: str | None = setting(
        "string", None, env="FAILURE_QUEUE_URL",
        default_text="unset: raise and let Lambda retry",
        doc="the on-failure destination queue: permanent failures go there at once instead of "
            "being retried")
    tracing: bool = setting(
        "boolean", False, env="TRACING", key="tracing", example="true",
        doc="X-Ray active tracing, and Powertools Tracer around the handler and every AWS call "
            "(`TRACING` is set only when on). Off by default: it adds 6-11 % to the cold start "
            "([performance.md](performance.md)) and X-Ray charges per trace.")
    # fmt: on

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

    def variables(self) -> dict[str, str]:
        """These settings as the function's environment variables, which :meth:`from_env` reads back to
        them: an unset value is left out, and the policy gives only the rules it overrides."""
        overrides = {rule: a for rule, a in self.policy.items() if a != DEFAULT_POLICY[rule]}
        variables: dict[str, str] = {}
        for spec in FUNCTION_SETTINGS:
            value = overrides if spec is _POLICY else getattr(self, spec.name)
            if value is not None:
                variables[spec.env] = render(value)
        return variables

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from environment variables, collecting every problem at once."""
        problems: list[str] = []
        values = {spec.name: _read_variable(spec, env, problems) for spec in FUNCTION_SETTINGS}
        values["policy"] = {**DEFAULT_POLICY, **{rule: Action(a) for rule, a in values["policy"].items()}}
        if problems:
            raise SettingsError(problems)
        flows = flows_of_instance(values["connect_addresses"], values["instance_id"])
        if flows.problems:
            raise SettingsError([named(_ADDRESSES.env, p) for p in flows.problems])
        values["connect_addresses"] = flows.addresses
        return cls(**values)


# The declarations of Settings' fields, in order: what both readers and the docs tables take.
FUNCTION_SETTINGS: tuple[Setting, ...] = declared_settings(Settings)
_ADDRESSES = next(s for s in FUNCTION_SETTINGS if s.name == "connect_addresses")
_POLICY = next(s for s in FUNCTION_SETTINGS if s.name == "policy")
_PREFIXES = tuple(s for s in FUNCTION_SETTINGS if s.rule is key_prefix)


def policy_with_overrides(overrides: Mapping[str, Any], problems: list[str]) -> dict[str, Action]:
    """DEFAULT_POLICY with ``overrides`` applied; unknown rules or actions become problems."""
    reading = _POLICY.read(overrides)
    problems.extend(named(_POLICY.env, p) for p in reading.problems)
    return {**DEFAULT_POLICY, **{rule: Action(action) for rule, action in reading.value.items()}}


def _read_variable(spec: Setting, env: Mapping[str, str], problems: list[str]) -> Any:
    """One variable by its setting's rule. Unset or blank takes the default, except for a plain string
    setting (a key prefix, the retry mode): "" or " x/ " is refused, never replaced by the default (SES
    would write where the function does not read)."""
    raw = env.get(spec.env)
    given_as_is = isinstance(spec.default, str) and not isinstance(spec.default, StrEnum)
    if raw is None or (not raw.strip() and not given_as_is):
        if spec.required:
            problems.append(f"{spec.env} is required")
        return spec.default
    reading = spec.read(raw)
    problems.extend(named(spec.env, p) for p in reading.problems)
    return reading.value


def _validate(settings: Settings) -> list[str]:
    """The same rules on a built object (the offline command and tests build it directly): each field in
    the form its variable spells it, read back."""
    problems: list[str] = []
    for spec in FUNCTION_SETTINGS:
        value = getattr(settings, spec.name)
        if value is not None:
            problems.extend(named(spec.env, p) for p in spec.read(render(value)).problems)
    if set(settings.policy) != set(DEFAULT_POLICY):
        problems.append(f"{_POLICY.env}: must give an action for every rule")
    problems.extend(overlapping_prefixes({s.env: getattr(settings, s.name) for s in _PREFIXES}))
    flows = flows_of_instance(settings.connect_addresses, settings.instance_id)
    problems.extend(named(_ADDRESSES.env, p) for p in flows.problems)
    if not flows.problems and flows.addresses != settings.connect_addresses:
        problems.append(f"{_ADDRESSES.env}: give each contactFlowId as a flow id, not a flow ARN")
    return problems
