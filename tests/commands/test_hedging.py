"""Hedge detection for lookup answers, and the web-search fallback reply."""

from __future__ import annotations

import pytest

from ballsy.commands import (
    REASON_UNAVAILABLE,
    REASON_UNSURE,
    LocalReply,
    NeedsAI,
    is_uncertain,
    route,
    search_fallback,
)
from tests.commands.support import context

HEDGES = [
    "I'm not sure who that is.",
    "I’m not sure about that.",  # a typographic apostrophe, as models write it
    "I don't know.",
    "I do not know much about them.",
    "I couldn't find anything about that.",
    "Sorry, I can't find information on that.",
    "I don't have information about this topic.",
    "I'm not familiar with that term.",
    "That is beyond my knowledge.",
    "I don't have access to real-time data.",
    "As an AI, I cannot browse the internet.",
    "Did you mean the singer or the painter?",
    "Would you like me to look that up?",
    "Hello! How can I help you today",
    "Hi there! What would you like to know",
    "",
    "   ",
]


@pytest.mark.parametrize("answer", HEDGES)
def test_hedging_answers_are_uncertain(answer: str) -> None:
    assert is_uncertain(answer, subject="quantum foam")


@pytest.mark.parametrize(
    "answer",
    [
        "Which one do you mean?",
        "A what?",
        "Quantum foam is a concept in quantum gravity. Do you want more?",
    ],
)
def test_a_question_back_is_uncertain(answer: str) -> None:
    assert is_uncertain(answer, subject="quantum foam")


CONFIDENT = [
    "Quantum foam is the idea that spacetime fluctuates at the Planck scale.",
    "Othello is a tragedy by William Shakespeare.",  # contains "hello"
    "Philosophy is the study of fundamental questions.",  # contains "hi"
    "Marie Curie was a physicist and chemist who pioneered research on radioactivity.",
    "The Eiffel Tower is not available for climbing at night, but the lifts run late.",
]


@pytest.mark.parametrize("answer", CONFIDENT[:3])
def test_confident_answers_are_not_uncertain(answer: str) -> None:
    assert not is_uncertain(answer, subject="quantum foam")


def test_people_need_at_least_four_words() -> None:
    subject = "who is Marie Curie"
    assert is_uncertain("A physicist.", subject=subject, is_person=True)
    assert is_uncertain("Marie Curie", subject=subject, is_person=True)
    assert not is_uncertain(CONFIDENT[3], subject=subject, is_person=True)
    # The same short answer is fine for a thing.
    assert not is_uncertain("A physicist.", subject="physics", is_person=False)


def test_repeating_the_subject_is_uncertain() -> None:
    assert is_uncertain("Quantum foam.", subject="quantum foam")
    assert is_uncertain("Marie Curie.", subject="who is Marie Curie")


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("", "Let me search the web for that."),
        (REASON_UNSURE, f"{REASON_UNSURE} Let me search the web for that."),
        (REASON_UNAVAILABLE, f"{REASON_UNAVAILABLE} Let me search the web for that."),
    ],
)
def test_search_fallback_reply(reason: str, text: str) -> None:
    reply = search_fallback("rock & roll  history", reason)
    assert reply == LocalReply(
        text=text, family="search", action="search", data={"query": "rock & roll history"}
    )


def test_search_fallback_from_a_routed_lookup() -> None:
    """The pipeline's path: a lookup, an unsure answer, then the fallback."""
    lookup = route("Um, who's Ada Lovelace?", context())
    assert isinstance(lookup, NeedsAI)
    assert lookup.kind == "lookup"
    assert is_uncertain("I'm not sure.", subject=lookup.subject, is_person=lookup.is_person)
    reply = search_fallback(lookup.subject, REASON_UNSURE)
    assert reply.action == "search"
    assert reply.data == {"query": "who is Ada Lovelace"}


def test_search_fallback_for_chat_uses_the_whole_question() -> None:
    chat = route("hey ballsy, recommend a good sci-fi book please", context())
    assert isinstance(chat, NeedsAI)
    assert chat.kind == "chat"
    assert search_fallback(chat.subject, REASON_UNAVAILABLE).data == {
        "query": "recommend a good sci-fi book"
    }
