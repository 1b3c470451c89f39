"""Typed values passed between the pure core's steps."""

from __future__ import annotations

import unicodedata
from email.errors import MessageDefect
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # type stubs only: the function's asset needs nothing of them at run time
    from mypy_boto3_connect.type_defs import EmailAddressInfoTypeDef, StartEmailContactRequestTypeDef

    from ses_to_connect.policy_rules import PolicyRule, QuarantineReason


# Format characters that names need: the zero-width non-joiner and joiner shape Persian and Indic
# words and emoji sequences; they cannot reorder or hide text.
_JOINERS = frozenset("\u200c\u200d")


def without_format_characters(text: str) -> str:
    """``text`` without Unicode format characters (category Cf) but the joiners: bidirectional
    overrides and isolates (U+202E shows the letters after it reversed), zero-width spaces, soft
    hyphens, tags. Display names keep them as sent (the sender checks look for them) until a
    request is built."""
    return "".join(c for c in text if c in _JOINERS or unicodedata.category(c) != "Cf")


class Address(NamedTuple):
    """An email address with its optional display name, as Connect takes them."""

    email: str
    display_name: str | None = None

    def as_request(self) -> EmailAddressInfoTypeDef:
        """The ``{EmailAddress, DisplayName?}`` object of the Connect API; the display name without
        format characters."""
        item: EmailAddressInfoTypeDef = {"EmailAddress": self.email}
        shown = without_format_characters(self.display_name or "").strip()
        if shown:
            item["DisplayName"] = shown
        return item


class DefectKind(StrEnum):
    """Every kind of defect the conversion records: a closed set, as CPython's ``email.errors``.

    The values are stable identifiers: they appear in the ``sesDefects`` contact attribute,
    the logs and the metrics, alone or as ``kind:detail``.
    """

    # The stdlib parser's own (``email.errors``), by class name.
    MESSAGE_DEFECT = "MessageDefect"
    NO_BOUNDARY_IN_MULTIPART = "NoBoundaryInMultipartDefect"
    START_BOUNDARY_NOT_FOUND = "StartBoundaryNotFoundDefect"
    CLOSE_BOUNDARY_NOT_FOUND = "CloseBoundaryNotFoundDefect"
    FIRST_HEADER_LINE_IS_CONTINUATION = "FirstHeaderLineIsContinuationDefect"
    MISPLACED_ENVELOPE_HEADER = "MisplacedEnvelopeHeaderDefect"
    MISSING_HEADER_BODY_SEPARATOR = "MissingHeaderBodySeparatorDefect"
    MULTIPART_INVARIANT_VIOLATION = "MultipartInvariantViolationDefect"
    INVALID_MULTIPART_CONTENT_TRANSFER_ENCODING = "InvalidMultipartContentTransferEncodingDefect"
    UNDECODABLE_BYTES = "UndecodableBytesDefect"
    INVALID_BASE64_PADDING = "InvalidBase64PaddingDefect"
    INVALID_BASE64_CHARACTERS = "InvalidBase64CharactersDefect"
    INVALID_BASE64_LENGTH = "InvalidBase64LengthDefect"
    HEADER = "HeaderDefect"
    INVALID_HEADER = "InvalidHeaderDefect"
    HEADER_MISSING_REQUIRED_VALUE = "HeaderMissingRequiredValue"
    NON_PRINTABLE = "NonPrintableDefect"
    OBSOLETE_HEADER = "ObsoleteHeaderDefect"
    NON_ASCII_LOCAL_PART = "NonASCIILocalPartDefect"
    INVALID_DATE = "InvalidDateDefect"
    # The structure and the parts.
    TOO_DEEPLY_NESTED = "too_deeply_nested"
    UNDECODABLE_PART = "undecodable_part"
    ENCODED_FORWARDED_MESSAGE = "encoded_forwarded_message"  # :base64
    TNEF_UNSUPPORTED = "tnef_unsupported"
    TNEF_UNREADABLE = "tnef_unreadable"
    # The RTF body of a winmail.dat, not shown: :rtf_too_large, rtf_damaged, rtf_not_encapsulated
    # (Outlook's own rich text, which encapsulates no HTML or text) or rtf_unreadable.
    TNEF_BODY_UNREADABLE = "tnef_body_unreadable"
    SMIME_UNREADABLE = "smime_unreadable"  # :invalid, no_content, too_many_layers or a CMS type
    CALENDAR_UNREADABLE = "calendar_unreadable"  # :too_large, too_many, invalid or no_event
    # The per-message budget (budget.py): what a bound left unread, the detail naming the bound.
    PARSE_STOPPED = "parse_stopped"  # :parts, header_lines, header_bytes or lines; the rest is unread
    ENCODED_WORDS_CAPPED = "encoded_words_capped"  # :encoded_words; later words stay as written
    CHARSET_DETECTIONS_CAPPED = "charset_detections_capped"  # :charset_detections; windows-1252 after
    TEXT_CUT = "text_cut"  # :forwarded_text; forwarded messages' .txt cut where the budget ends
    TNEF_OVER_BUDGET = "tnef_over_budget"  # :objects, count, depth or copy; the files before it are kept
    # Charsets.
    CHARSET_MISMATCH = "charset_mismatch"  # :declared charset
    UNDECLARED_8BIT_BODY = "undeclared_8bit_body"
    CHARSET_GUESSED = "charset_guessed"  # :encoding used
    UNKNOWN_CHARSET = "unknown_charset"  # :name
    # Headers (the detail is the field).
    EIGHT_BIT_HEADER = "8bit_header"
    UNDECODABLE_HEADER = "undecodable_header"
    HEADER_TRUNCATED = "header_truncated"
    INVALID_ADDRESS = "invalid_address"
    VERDICT_HEADER_MISMATCH = "verdict_header_mismatch"  # :verdict name
    # The request.
    NO_USABLE_FROM = "no_usable_from"
    SUBJECT_TRUNCATED = "subject_truncated"
    NO_TEXT_BODY = "no_text_body"
    BODY_TRUNCATED = "body_truncated"
    RECIPIENTS_CAPPED = "recipients_capped"
    ATTRIBUTE_CUT = "attribute_cut"  # :attribute key; cut so that all fit Connect's 32,768 bytes
    REQUEST_LIMIT_VIOLATION = "request_limit_violation"  # :the problem
    RELATED_CONTACT_UNKNOWN = "related_contact_unknown"  # Connect refused the thread root
    THREAD_INDEX_NOT_WRITTEN = "thread_index_not_written"  # :error code; the contact exists regardless
    SUSPICIOUS_SENDER = "suspicious_sender"  # :the SenderFlag (sender_flags.py)

    @classmethod
    def of(cls, defect: MessageDefect) -> DefectKind:
        """A stdlib defect's kind: its class, or the nearest listed base of one a newer Python adds."""
        names = (klass.__name__ for klass in type(defect).__mro__)
        return next(cls(name) for name in names if name in cls)


class Defects:
    """What was wrong with a message, recorded rather than raised (as CPython's ``email`` does).

    A collector, used within one step of the core; what a step hands on is an immutable copy.
    Each defect is ``kind`` or ``kind:detail``; ``kind`` is a stable identifier used in metrics.
    Order of first appearance is kept and duplicates are dropped, so output is deterministic.
    """

    def __init__(self, recorded: tuple[str, ...] = ()) -> None:
        self._items: dict[str, None] = dict.fromkeys(recorded)

    def add(self, kind: DefectKind, detail: str | None = None) -> None:
        self._items[f"{kind.value}:{detail}" if detail else kind.value] = None

    def as_list(self) -> list[str]:
        return list(self._items)


class Smime(StrEnum):
    """What the ``sesSmime`` attribute says about a message (S/MIME, RFC 8551)."""

    SIGNED_NOT_VERIFIED = "signed-not-verified"  # signed; the bridge did not check the signature
    ENCRYPTED = "encrypted"  # encrypted: not readable without the recipient's private key


class Outcome(StrEnum):
    """How a record ended."""

    CONTACT = "contact"
    QUARANTINE = "quarantine"
    SKIPPED = "skipped"  # nothing to deliver: SES's setup notification


class Conversion(NamedTuple):
    """The result of converting one stored message: contacts to create, or a quarantine.

    ``requests`` is empty for a quarantine; ``flags`` are the policy rules the message matched.
    """

    outcome: Outcome
    reason: QuarantineReason | None
    defects: list[str]
    requests: list[StartEmailContactRequestTypeDef]
    flags: list[PolicyRule]

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "defects": self.defects,
            "requests": self.requests,
        }
