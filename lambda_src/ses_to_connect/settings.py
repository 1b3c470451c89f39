"""One frozen settings object, validated once with messages that name the variable.

The Lambda reads it from its environment (:meth:`Settings.from_env`); the offline
``convert`` command and the tests build it directly. Every problem found is collected and
reported together in one :class:`SettingsError`, so a deploy with three mistakes needs one
fix-and-retry, not three.

Environment variables (the CDK stack sets all of them; names are the contract):

=============================  ==========================================================
CONNECT_INSTANCE_ID            Connect instance id or ARN (required)
CONNECT_REGION                 region of the Connect instance when it differs from the function's
                               (empty: the function's own region)
CONNECT_ADDRESSES              JSON list: ``[{"address": "support@example.com",
                               "contactFlowId": "optional-flow-id"}, ...]`` (required)
MAIL_BUCKET                    bucket the SES S3 action writes to (required)
INBOUND_PREFIX                 S3 action's object key prefix (default ``inbound/``)
QUARANTINE_PREFIX              where quarantined raw mail is copied (default ``quarantine/``)
ATTACHMENTS_PREFIX             where attachments are written (default ``attachments/``)
BODY_PREFERENCE                ``html`` or ``text`` (default ``html``)
PREFER_REPLY_TO                ``true``/``false``: customer address from Reply-To (default false)
CONTACT_EXPIRY_MINUTES         contact expiry in minutes, 1..20160; empty: Connect's default
STATIC_ATTRIBUTES              JSON object of extra contact attributes (default ``{}``)
VERDICT_POLICY                 JSON object of policy overrides, e.g. ``{"spf:FAIL": "quarantine"}``
CONNECT_RETRY_MODE             botocore retry mode, ``standard`` or ``adaptive`` (default standard)
CONNECT_MAX_ATTEMPTS           botocore total attempts per call, 1..10 (default 5)
CONNECT_TIMEOUT_SECONDS        connect and read timeout per attempt, 1..60 (default 10)
AWS_TIMEOUT_SECONDS            connect and read timeout of S3 and DynamoDB calls, 1..60 (default 10)
ATTACHMENT_URL_EXPIRY_SECONDS  lifetime of attachment pre-signed URLs, 60..604800 (default 3600)
ATTACHMENT_UPLOADS             attachments stored to S3 at once, 1..10 (default 4); files in flight
                               stay within 20 MB together whatever the number
IDEMPOTENCY_TABLE              DynamoDB table of completed contacts (Powertools idempotency);
                               empty: Connect's ClientToken is the only guard
IDEMPOTENCY_TTL_SECONDS        how long a completed contact is remembered (default 604800, 7 days)
THREADS_TABLE                  DynamoDB table Message-ID -> ContactId; empty: no reply threading
THREAD_TTL_DAYS                how long a message can be replied to and still thread (default 365)
FAILURE_QUEUE_URL              the on-failure destination queue: permanent failures are sent there
                               at once instead of being retried; empty: raise and let Lambda retry
TRACING                        ``true``/``false``: Powertools Tracer (X-Ray) around the handler and
                               every AWS call (default false; the stack sets it with active tracing)
=============================  ==========================================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from ses_to_connect.errors import SettingsError
from ses_to_connect.limits import (
    ATTRIBUTE_KEY_PATTERN,
    EMAIL_PATTERN,
    MAX_ATTACHMENTS,
    MAX_CONTACT_FLOW_ID,
    attributes_size,
)


class Action(StrEnum):
    """What the verdict policy does with a message that matches a rule."""

    DELIVER = "deliver"  # create the contact, with the rule recorded in its attributes
    QUARANTINE = "quarantine"  # no contact; the raw message is copied to the quarantine prefix


class BodyPreference(StrEnum):
    HTML = "html"
    TEXT = "text"


# Every rule the policy knows, with its default action. Verdict rules are "<verdict>:<STATUS>";
# "dmarc:FAIL_REJECT" is a DMARC failure whose domain publishes p=reject. Guard rules protect
# against mail loops and machine-generated mail.
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
    "guard:bounce": Action.QUARANTINE,
    "guard:auto_reply": Action.QUARANTINE,
    "guard:from_connect_address": Action.QUARANTINE,
    "guard:bulk": Action.DELIVER,  # Precedence bulk/list/junk: human mail passes forwarders with it
}

_E = TypeVar("_E", bound=StrEnum)
MAX_EXPIRY_MINUTES = 20160  # 14 days; Connect's documented ceiling for email contact expiry
MAX_PREFIX = 256
# Half of Connect's 32 KiB attribute budget; the bridge's own attributes use the rest.
MAX_STATIC_ATTRIBUTES_BYTES = 16_384
_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9!_.*'()/-]*$")
_BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION_PATTERN = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")


class ConnectAddress(NamedTuple):
    """A Connect email address this bridge delivers to, with an optional flow override."""

    address: str
    contact_flow_id: str | None = None

    @property
    def key(self) -> str:
        return self.address.lower()


@dataclass(frozen=True)
class Settings:
    """Everything the bridge is configured with; fields mirror the variables listed above."""

    instance_id: str
    connect_addresses: tuple[ConnectAddress, ...]
    mail_bucket: str
    connect_region: str | None = None
    inbound_prefix: str = "inbound/"
    quarantine_prefix: str = "quarantine/"
    attachments_prefix: str = "attachments/"
    body_preference: BodyPreference = BodyPreference.HTML
    prefer_reply_to: bool = False
    contact_expiry_minutes: int | None = None
    static_attributes: Mapping[str, str] = field(default_factory=dict)
    policy: Mapping[str, Action] = field(default_factory=lambda: dict(DEFAULT_POLICY))
    connect_retry_mode: str = "standard"
    connect_max_attempts: int = 5
    connect_timeout_seconds: int = 10
    aws_timeout_seconds: int = 10
    attachment_url_expiry_seconds: int = 3600
    attachment_uploads: int = 4
    idempotency_table: str | None = None
    idempotency_ttl_seconds: int = 604_800
    threads_table: str | None = None
    thread_ttl_days: int = 365
    failure_queue_url: str | None = None
    tracing: bool = False

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
        reader = _EnvReader(env, problems)
        kwargs: dict[str, Any] = {
            "instance_id": reader.required("CONNECT_INSTANCE_ID"),
            "connect_addresses": reader.connect_addresses("CONNECT_ADDRESSES"),
            "mail_bucket": reader.required("MAIL_BUCKET"),
            "connect_region": env.get("CONNECT_REGION", "").strip() or None,
            "inbound_prefix": env.get("INBOUND_PREFIX", "inbound/"),
            "quarantine_prefix": env.get("QUARANTINE_PREFIX", "quarantine/"),
            "attachments_prefix": env.get("ATTACHMENTS_PREFIX", "attachments/"),
            "body_preference": reader.choice("BODY_PREFERENCE", BodyPreference, BodyPreference.HTML),
            "prefer_reply_to": reader.boolean("PREFER_REPLY_TO", default=False),
            "contact_expiry_minutes": reader.optional_int("CONTACT_EXPIRY_MINUTES"),
            "static_attributes": reader.json_object("STATIC_ATTRIBUTES"),
            "policy": policy_with_overrides(reader.json_object("VERDICT_POLICY"), problems),
            "connect_retry_mode": env.get("CONNECT_RETRY_MODE", "standard"),
            "connect_max_attempts": reader.integer("CONNECT_MAX_ATTEMPTS", default=5),
            "connect_timeout_seconds": reader.integer("CONNECT_TIMEOUT_SECONDS", default=10),
            "aws_timeout_seconds": reader.integer("AWS_TIMEOUT_SECONDS", default=10),
            "attachment_url_expiry_seconds": reader.integer("ATTACHMENT_URL_EXPIRY_SECONDS", default=3600),
            "attachment_uploads": reader.integer("ATTACHMENT_UPLOADS", default=4),
            "idempotency_table": env.get("IDEMPOTENCY_TABLE", "").strip() or None,
            "idempotency_ttl_seconds": reader.integer("IDEMPOTENCY_TTL_SECONDS", default=604_800),
            "threads_table": env.get("THREADS_TABLE", "").strip() or None,
            "thread_ttl_days": reader.integer("THREAD_TTL_DAYS", default=365),
            "failure_queue_url": env.get("FAILURE_QUEUE_URL", "").strip() or None,
            "tracing": reader.boolean("TRACING", default=False),
        }
        if problems:
            raise SettingsError(problems)
        return cls(**kwargs)


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


class _EnvReader:
    """Reads typed values from the environment, appending problems instead of raising."""

    def __init__(self, env: Mapping[str, str], problems: list[str]) -> None:
        self.env = env
        self.problems = problems

    def required(self, name: str) -> str:
        value = self.env.get(name, "").strip()
        if not value:
            self.problems.append(f"{name} is required")
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        raw = self.env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in {"true", "1", "yes"}:
            return True
        if raw in {"false", "0", "no"}:
            return False
        self.problems.append(f"{name} must be true or false, not {raw!r}")
        return default

    def integer(self, name: str, *, default: int) -> int:
        value = self.optional_int(name)
        return default if value is None else value

    def optional_int(self, name: str) -> int | None:
        raw = self.env.get(name, "").strip()
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            self.problems.append(f"{name} must be a whole number, not {raw!r}")
            return None

    def choice(self, name: str, enum: type[_E], default: _E) -> _E:
        raw = self.env.get(name, "").strip().lower()
        if not raw:
            return default
        try:
            return enum(raw)
        except ValueError:
            self.problems.append(f"{name} must be one of {', '.join(e.value for e in enum)}, not {raw!r}")
            return default

    def json_object(self, name: str) -> dict[str, Any]:
        raw = self.env.get(name, "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            self.problems.append(f"{name} is not valid JSON: {exc.msg} at position {exc.pos}")
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{name} must be a JSON object")
            return {}
        return value

    def connect_addresses(self, name: str) -> tuple[ConnectAddress, ...]:
        raw = self.required(name)
        if not raw:
            return ()
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            self.problems.append(f"{name} is not valid JSON: {exc.msg} at position {exc.pos}")
            return ()
        if not isinstance(value, list) or not all(
            isinstance(item, dict) and isinstance(item.get("address"), str) for item in value
        ):
            self.problems.append(f'{name} must be a JSON list of {{"address": ..., "contactFlowId": ...}}')
            return ()
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
    expiry = settings.contact_expiry_minutes
    if expiry is not None and not 1 <= expiry <= MAX_EXPIRY_MINUTES:
        problems.append(f"CONTACT_EXPIRY_MINUTES must be between 1 and {MAX_EXPIRY_MINUTES}, not {expiry}")
    for key, value in settings.static_attributes.items():
        if not ATTRIBUTE_KEY_PATTERN.fullmatch(key):
            problems.append(f"STATIC_ATTRIBUTES: key {key!r} may hold only letters, digits, '-' and '_'")
        if not isinstance(value, str):
            problems.append(f"STATIC_ATTRIBUTES: value of {key!r} must be a string")
    if attributes_size(settings.static_attributes) > MAX_STATIC_ATTRIBUTES_BYTES:
        problems.append(f"STATIC_ATTRIBUTES: over {MAX_STATIC_ATTRIBUTES_BYTES} UTF-8 bytes in all")
    if set(settings.policy) != set(DEFAULT_POLICY):
        problems.append("VERDICT_POLICY must give an action for every rule")
    if settings.connect_retry_mode not in {"standard", "adaptive"}:
        problems.append(
            f"CONNECT_RETRY_MODE must be standard or adaptive, not {settings.connect_retry_mode!r}"
        )
    if not 1 <= settings.connect_max_attempts <= 10:
        problems.append("CONNECT_MAX_ATTEMPTS must be between 1 and 10")
    if not 1 <= settings.connect_timeout_seconds <= 60:
        problems.append("CONNECT_TIMEOUT_SECONDS must be between 1 and 60")
    if not 1 <= settings.aws_timeout_seconds <= 60:
        problems.append("AWS_TIMEOUT_SECONDS must be between 1 and 60")
    if not 60 <= settings.attachment_url_expiry_seconds <= 604_800:
        problems.append("ATTACHMENT_URL_EXPIRY_SECONDS must be between 60 and 604800 (SigV4's limit)")
    if not 1 <= settings.attachment_uploads <= MAX_ATTACHMENTS:
        problems.append(f"ATTACHMENT_UPLOADS must be between 1 and {MAX_ATTACHMENTS}")
    if not 3600 <= settings.idempotency_ttl_seconds <= 31_536_000:
        problems.append("IDEMPOTENCY_TTL_SECONDS must be between 3600 and 31536000")
    if not 1 <= settings.thread_ttl_days <= 3650:
        problems.append("THREAD_TTL_DAYS must be between 1 and 3650")
    return problems
