"""When a transcript asks for a calculation, and when it can be read as one."""

from __future__ import annotations

import pytest

from ballsy.providers.stt.sums import asks_for_sum, reads_as_sum, rereads


@pytest.mark.parametrize(
    "text",
    [
        "What is eighty one divided by nine?",
        "What is eighty-one ÷ 9?",
        "What's 81 / 9",
        "how much is 6 x 7",
        "What is 9-3?",
        "What is nine over three?",
        "What is thirty percent of 70?",
        "What is 30% of 70?",
        "What is a hundred divided by five?",
        "what is one thousand divided by eight",
        "What is 1,000 divided by 8?",
        "What is 3.5 times 2?",
        "What is nine squared?",
    ],
)
def test_calculations_read_as_sums(text: str) -> None:
    assert reads_as_sum(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("What is maybe one divided by nine?", "a word that is no number"),
        ("What in eighty one divided by nine?", "not a question Ballsy knows"),
        ("What is i minus three?", "a letter for a number"),
        ("What is seven, two divided by six?", "two numbers where one belongs"),
        ("What is plus one?", "a continuation: it needs a previous result"),
        ("What is a plus one?", "'a' alone is no number"),
        ("Read the New York Times.", "no calculation at all"),
    ],
)
def test_mishearings_do_not_read_as_sums_though_they_ask_for_one(text: str, why: str) -> None:
    assert asks_for_sum(text), why
    assert not reads_as_sum(text), why


@pytest.mark.parametrize(
    "text", ["What time is it?", "Open YouTube.", "Set a timer for five minutes.", "Saint-Tropez"]
)
def test_commands_without_an_operator_do_not_ask_for_a_sum(text: str) -> None:
    assert not asks_for_sum(text)


def test_a_reading_cut_short_is_not_taken_for_what_was_said() -> None:
    assert rereads("What is maybe one divided by nine?", "What is eighty one divided by nine?")
    assert rereads("What is for the eight divided by twelve?", "What is 48 divided by 12?")
    assert rereads("What is I squared?", "What is nine squared?")
    assert not rereads("What is thirty percent on salmon tea?", "What is thirty percent")
    assert not rereads("What is it multiplied by nine?", "What is 8 multiplied by")
