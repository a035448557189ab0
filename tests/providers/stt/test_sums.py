"""When a transcript asks for a calculation, and when it can be read as one."""

from __future__ import annotations

import pytest

from ballsy.providers.stt.sums import (
    asked_as_question,
    asks_for_sum,
    first_question,
    reads_as_sum,
    rereads,
)


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
        "What is three point one four times two?",
        "What is one hundred and twenty one plus two?",
        "What is two thousand and twenty minus one?",
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
        ("What is eighteen one divided by nine?", "two numbers run together"),
        ("What is seven two times three?", "two units run together"),
        ("What is eighty twenty plus one?", "two tens run together"),
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


def test_a_reading_that_drops_a_number_at_the_front_is_not_taken() -> None:
    # The beam ranked a wrong number (1/9) above the sum that was said.
    first = "What in eighteen one divided by nine?"
    assert not rereads(first, "What is one divided by nine?")
    assert rereads(first, "What is eighty one divided by nine?")
    assert rereads(first, "What is 81 divided by 9?")  # digits said in as many words
    assert not rereads("What is ninety nine minus nine?", "What is 9 minus nine?")
    assert rereads("What is i minus three?", "What is nine minus three?")


def test_only_the_first_question_of_a_reading_is_taken() -> None:
    # After a prompt of questions the beam goes on to ask another one.
    assert first_question("What is nine minus three? What is i minus three?") == (
        "What is nine minus three?"
    )
    assert first_question("What is 3.5 times 2? What") == "What is 3.5 times 2?"
    assert first_question("what is 3.5 times 2") == "what is 3.5 times 2"
    assert first_question("  What is six times seven.") == "What is six times seven."


def test_only_a_sum_asked_as_a_question_is_heard_a_third_time() -> None:
    assert asked_as_question("What in eighteen one divided by nine?")
    assert asked_as_question("How much you need plus eight?")
    assert asked_as_question("  what's nine times i")
    assert not asked_as_question("Read the New York Times.")
    assert not asked_as_question("How many times did I ask?")
    assert not asked_as_question("Is it minus five outside?")
    assert not asked_as_question("Whatever times")
