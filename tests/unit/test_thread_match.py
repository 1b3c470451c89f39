"""The thread decision: which known id links a reply, how, and which agent-reply ids are trusted."""

from __future__ import annotations

from ses_to_connect.thread_match import (
    AgentReply,
    ThreadEntry,
    ThreadLink,
    ThreadMatch,
    agent_reply_entries,
    link_thread,
)

OURS = ThreadEntry("root-a", ThreadMatch.REFERENCES)
AGENTS = ThreadEntry("root-b", ThreadMatch.AGENT_REPLY)


def test_no_ids_or_no_known_id_links_nothing() -> None:
    assert link_thread([], {"<a@x>": OURS}) is None
    assert link_thread(["<unknown@x>"], {"<a@x>": OURS}) is None


def test_the_most_direct_known_id_wins_and_says_how_it_was_known() -> None:
    known = {"<a@x>": OURS, "<b@x>": AGENTS}
    assert link_thread(["<b@x>", "<a@x>"], known) == ThreadLink("root-b", ThreadMatch.AGENT_REPLY, "<b@x>")
    assert link_thread(["<zz@x>", "<a@x>", "<b@x>"], known) == ThreadLink(
        "root-a", ThreadMatch.REFERENCES, "<a@x>"
    )


def test_ids_match_exactly_only() -> None:
    assert link_thread(["<A@x>", "a@x"], {"<a@x>": OURS}) is None


def test_agent_replies_give_entries_by_message_id() -> None:
    replies = [AgentReply("<r1@ses>", "reply-1", "root-a"), AgentReply("<r2@ses>", "reply-2", "root-b")]
    assert agent_reply_entries(replies) == {
        "<r1@ses>": ThreadEntry("root-a", ThreadMatch.AGENT_REPLY),
        "<r2@ses>": ThreadEntry("root-b", ThreadMatch.AGENT_REPLY),
    }


def test_the_same_reply_found_twice_in_one_thread_is_still_trusted() -> None:
    replies = [AgentReply("<r@ses>", "reply-1", "root-a"), AgentReply("<r@ses>", "reply-2", "root-a")]
    assert agent_reply_entries(replies) == {"<r@ses>": ThreadEntry("root-a", ThreadMatch.AGENT_REPLY)}


def test_an_id_two_threads_claim_links_nothing() -> None:
    replies = [AgentReply("<r@ses>", "reply-1", "root-a"), AgentReply("<r@ses>", "reply-2", "root-b")]
    assert agent_reply_entries(replies) == {}
    assert link_thread(["<r@ses>"], agent_reply_entries(replies)) is None


def test_the_attribute_values_are_a_closed_set() -> None:
    assert [m.value for m in ThreadMatch] == ["references", "agent-reply"]
