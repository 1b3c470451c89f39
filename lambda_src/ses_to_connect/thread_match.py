"""Which earlier contact a reply joins, and how that was decided: pure, from ids and lookups.

A reply names the messages it answers in ``In-Reply-To`` and ``References``. The bridge knows
two kinds of Message-ID (docs/threading.md):

* ``references``: a customer message the bridge turned into a contact (its own thread index);
* ``agent-reply``: an agent's reply sent by Connect, whose Message-ID was read from Connect's
  stored copy of that reply (``ListContactReferences`` ``EMAIL_MESSAGE``, ``GetAttachedFile``).

Only an exact id match links; a wrong link is worse than none, so an id that two threads claim
links nothing. The most direct id wins (In-Reply-To, then References newest first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class ThreadMatch(StrEnum):
    """How a link was made: the value of the ``sesThreadMatch`` contact attribute (a closed set)."""

    REFERENCES = "references"  # the reply names a message the bridge made a contact of
    AGENT_REPLY = "agent-reply"  # the reply names an agent reply read from Connect's stored copy


@dataclass(frozen=True)
class ThreadEntry:
    """What the index knows of one Message-ID: the root contact of its thread, and its kind."""

    root_contact_id: str
    match: ThreadMatch


@dataclass(frozen=True)
class ThreadLink:
    """The thread a reply joins: the root contact it links to, how, and the id that matched."""

    root_contact_id: str
    match: ThreadMatch
    message_id: str


@dataclass(frozen=True)
class AgentReply:
    """An agent's reply found in Connect: its contact, the thread root it was found under, the
    Message-ID of the message Connect stored for it."""

    message_id: str
    contact_id: str
    root_contact_id: str


def link_thread(thread_ids: Iterable[str], known: Mapping[str, ThreadEntry]) -> ThreadLink | None:
    """The link of the most direct known id in ``thread_ids`` (most direct first), if any."""
    for message_id in thread_ids:
        entry = known.get(message_id)
        if entry is not None:
            return ThreadLink(entry.root_contact_id, entry.match, message_id)
    return None


def agent_reply_entries(replies: Iterable[AgentReply]) -> dict[str, ThreadEntry]:
    """The index entries the agent replies found give, by Message-ID.

    An id found under two different thread roots (Connect reusing an id, or a copy of a reply
    stored twice in different threads) is ambiguous: it is left out, so it links nothing.
    """
    roots: dict[str, set[str]] = {}
    for reply in replies:
        roots.setdefault(reply.message_id, set()).add(reply.root_contact_id)
    return {
        message_id: ThreadEntry(next(iter(found)), ThreadMatch.AGENT_REPLY)
        for message_id, found in roots.items()
        if len(found) == 1
    }
