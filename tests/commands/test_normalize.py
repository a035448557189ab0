"""Normalising typed and recognised speech into one canonical form."""

from __future__ import annotations

import pytest

from ballsy.commands.normalize import canonical, recover_case, understand


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Um, what time is it?", "what time is it"),
        ("WHAT'S 2+2?!", "what is 2+2"),
        ("What’s your name…", "what is your name"),
        ("whats 1,000,000 + 1", "what is 1000000 + 1"),
        ("Open YouTube.com.", "open youtube.com"),
        ("what is 3.5 times .5?", "what is 3.5 times .5"),
        ("“Rock & Roll” on YouTube", "rock & roll on youtube"),
        ("Hey Ballsy, um, can you please tell me what time it is?", "what time it is"),
        ("please open netflix please", "open netflix"),
        ("so, uh, who's Ada Lovelace", "who is ada lovelace"),
        ("tell me about Rome", "tell me about rome"),  # "tell me" kept: it is the command
        ("tell me a joke", "tell me a joke"),
        ("hey ballsy", "ballsy"),  # the wake word stays: it is a greeting
        ("thanks", "thanks"),  # trailing filler, but nothing else: kept
        ("I'm done.", "i am done"),
        ("1 − 2", "1 - 2"),  # the minus sign
    ],
)
def test_understand(raw: str, expected: str) -> None:
    assert understand(raw).text == expected


def test_raw_keeps_the_users_case() -> None:
    utterance = understand("  Who is Ada Lovelace?  ")
    assert utterance.raw == "Who is Ada Lovelace?"
    assert recover_case(utterance.raw, "ada lovelace") == "Ada Lovelace"
    assert recover_case(utterance.raw, "nowhere") == "nowhere"
    assert recover_case("Straße", "strasse") == "strasse"  # case folding changed lengths


def test_hesitations_only_leave_nothing() -> None:
    assert understand("Um... uh, hmm?").text == ""
    assert canonical("") == ""
