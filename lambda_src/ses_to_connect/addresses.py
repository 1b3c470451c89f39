"""Address headers (From, Reply-To, To, Cc) read address by address, the same on every Python.

The stdlib's ``getaddresses`` changed in Python 3.13: it became strict, and a header holding one
malformed address yields nothing at all, so a whole To list, or the From, disappeared. This
reader splits the header itself, in one linear pass (a header of 100,000 separators stays cheap
and nothing recurses), and recovers each address on its own:

- the address in angle brackets is the address; the text before it is only a display name
  (``alice@example.com <bob@example.com>`` is bob, never alice);
- a bare address is the address, and a comment after it (``a@b.example (Name)``) its display name;
- a group (``team: a@b.example, c@d.example;``) yields its members; the group's name is dropped;
- a quote or parenthesis that is never closed is ordinary text, instead of swallowing the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from ses_to_connect.headers import clean_text, decode_8bit, decode_words
from ses_to_connect.limits import EMAIL_PATTERN, MAX_DISPLAY_NAME, MAX_EMAIL_ADDRESS
from ses_to_connect.model import Address, DefectKind, Defects

_ORDINARY_RUN = re.compile(r'[^"(),;:<>]+')
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


class Mailbox(NamedTuple):
    """One address of a header as written: its display name (still encoded) and its address."""

    display_name: str
    address: str


def parse_addresses(
    values: list[str], defects: Defects, field: str, hints: Sequence[str] = ()
) -> list[Address]:
    """Valid addresses from address headers, display names decoded; invalid ones are recorded."""
    addresses: list[Address] = []
    for value in values:
        for mailbox in split_addresses(decode_8bit(str(value), defects, field, hints)):
            email = clean_text(mailbox.address)
            if not is_valid_address(email):
                defects.add(DefectKind.INVALID_ADDRESS, field)
                continue
            display = clean_text(decode_words(mailbox.display_name, defects, field, hints))[:MAX_DISPLAY_NAME]
            addresses.append(Address(email=email, display_name=display or None))
    return addresses


def is_valid_address(email: str) -> bool:
    return 0 < len(email) <= MAX_EMAIL_ADDRESS and EMAIL_PATTERN.fullmatch(email) is not None


def split_addresses(value: str) -> list[Mailbox]:
    """The mailboxes of one address header, in order; empty ones (``a@b.example,,``) are skipped."""
    mailboxes: list[Mailbox] = []
    builder = _MailboxBuilder()
    for kind, text in _tokens(value):
        if kind in {",", ";"}:
            builder.finish(mailboxes)
            builder = _MailboxBuilder()
        else:
            builder.add(kind, text)
    builder.finish(mailboxes)
    return mailboxes


class _MailboxBuilder:
    """Collects the tokens of one mailbox: what stands before, inside and around ``<...>``."""

    def __init__(self) -> None:
        self.display: list[str] = []  # text before the angle brackets, quotes removed
        self.bare: list[str] = []  # everything outside comments and angle brackets, as written
        self.open_angle: list[str] | None = None  # inside a '<' not yet closed
        self.angle: str | None = None  # the last closed <...>
        self.comment = ""
        self.seen_address = False  # an '@' or '<': a later ':' no longer ends a group's name

    def add(self, kind: str, text: str) -> None:
        if kind == "<":
            self.open_angle, self.seen_address = [], True  # the innermost '<' wins: <<a@b>>
        elif kind == ">":
            if self.open_angle is not None:
                self.angle, self.open_angle = "".join(self.open_angle), None
        elif self.open_angle is not None:
            self.open_angle.append(text)
        elif kind == ":" and not self.seen_address:
            self.display, self.bare = [], []  # a group's name: dropped, its members follow
        elif kind == "comment":
            self.comment = _ESCAPE.sub(r"\1", text[1:-1])
        else:
            self.display.append(_ESCAPE.sub(r"\1", text[1:-1]) if kind == "quoted" else text)
            self.bare.append(text)
            self.seen_address = self.seen_address or "@" in text

    def finish(self, into: list[Mailbox]) -> None:
        # A '<' never closed still holds the address, unless nothing followed it.
        unclosed = "".join(self.open_angle or []).strip()
        angle = unclosed or self.angle
        if angle is not None:
            address = angle.rsplit(":", 1)[-1].strip()  # an obsolete source route: <@relay:a@b>
            display = "".join(self.display).strip()
        else:  # a comment alone ("unlisted-recipients:; (none)") is no mailbox
            address = "".join(self.bare).strip()
            display = self.comment.strip() if address else ""
        if address or display:
            into.append(Mailbox(display, address))


def _tokens(value: str) -> Iterator[tuple[str, str]]:
    """``(kind, text)``: "quoted" and "comment" (delimiters kept), one special character, or "text".

    A quote or parenthesis that is never closed is text. Each search for a closing one ends
    where the token ends, except for one never closed: after that, quotes (or parentheses) are
    plain text, so even a header of 100,000 unclosed '(' is read in linear time.
    """
    index, length = 0, len(value)
    quotes = comments = True
    while index < length:
        char = value[index]
        end = None
        if char == '"' and quotes:
            end = _closing_quote(value, index)
            quotes = end is not None
            kind = "quoted"
        elif char == "(" and comments:
            end = _closing_parenthesis(value, index)
            comments = end is not None
            kind = "comment"
        elif char in ",;:<>":
            yield char, char
            index += 1
            continue
        if end is not None:
            yield kind, value[index : end + 1]
            index = end + 1
            continue
        match = _ORDINARY_RUN.match(value, index + 1)
        stop = match.end() if match else index + 1
        yield "text", value[index:stop]
        index = stop


def _closing_quote(value: str, start: int) -> int | None:
    index = start + 1
    while index < len(value):
        if value[index] == "\\":
            index += 2
            continue
        if value[index] == '"':
            return index
        index += 1
    return None


def _closing_parenthesis(value: str, start: int) -> int | None:
    depth = 0
    index = start
    while index < len(value):
        char = value[index]
        if char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if not depth:
                return index
        index += 1
    return None
