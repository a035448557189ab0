"""Memory phrasings, table-driven: which action, and the text kept in the user's words."""

from __future__ import annotations

import pytest

from ballsy.commands.memory import MemoryIntent, memory_intent, second_person


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            "Remember that my sister is called Alice",
            MemoryIntent("remember", "my sister is called Alice"),
        ),
        (
            "remember my sister is called Alice.",
            MemoryIntent("remember", "my sister is called Alice"),
        ),
        (
            "Please remember that I'm allergic to peanuts!",
            MemoryIntent("remember", "I'm allergic to peanuts"),
        ),
        ("Can you remember that my car is blue?", MemoryIntent("remember", "my car is blue")),
        (
            "Don't forget that Tom's birthday is in May",
            MemoryIntent("remember", "Tom's birthday is in May"),
        ),
        ("Keep in mind that I'm vegetarian", MemoryIntent("remember", "I'm vegetarian")),
        ("What do you remember about me?", MemoryIntent("list")),
        ("what do you know about me", MemoryIntent("list")),
        ("What do you remember", MemoryIntent("list")),
        ("list my memories", MemoryIntent("list")),
        ("Forget that.", MemoryIntent("forget_last")),
        ("forget it", MemoryIntent("forget_last")),
        ("No, forget that", MemoryIntent("forget_last")),
        (
            "Forget that my sister is called Alice",
            MemoryIntent("forget_match", "my sister is called Alice"),
        ),
        (
            "forget about my dentist appointment",
            MemoryIntent("forget_match", "my dentist appointment"),
        ),
        ("Forget everything", MemoryIntent("forget_all")),
        ("forget everything you know about me", MemoryIntent("forget_all")),
        ("Delete all my memories", MemoryIntent("forget_all")),
        ("erase your memory", MemoryIntent("forget_all")),
    ],
)
def test_memory_phrasings(said: str, expected: MemoryIntent) -> None:
    assert memory_intent(said) == expected


@pytest.mark.parametrize(
    "said",
    [
        "remember to buy milk",  # a reminder, not a fact
        "remind me to call Mum at 6 pm",
        "do you remember the 1990s?",
        "what do you remember about the moon landing",
        "forget to",
        "what time is it",
        "2+2",
        "remember me",
        "notes on the war of 1812",
    ],
)
def test_other_commands_are_not_memory_commands(said: str) -> None:
    assert memory_intent(said) is None


def test_confirmations_speak_to_the_user() -> None:
    assert second_person("my sister is called Alice") == "your sister is called Alice"
    assert second_person("I'm allergic to peanuts") == "you're allergic to peanuts"
    assert second_person("I am learning Japanese") == "you are learning Japanese"
