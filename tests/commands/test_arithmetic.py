"""Safe arithmetic: tables of answers, refusals, spoken numbers and hostile input."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ballsy.commands.arithmetic import Answer, Refusal, calculate, speak_number, try_calculate
from ballsy.commands.arithmetic.limits import MAX_OPERAND_DIGITS, MAX_RESULT_DIGITS
from tests.commands.support import timed


def value_of(text: str, last_result: Fraction | int | None = None) -> Fraction:
    last = Fraction(last_result) if last_result is not None else None
    outcome = calculate(text, last_result=last)
    assert isinstance(outcome, Answer), f"{text!r}: {outcome}"
    return outcome.value


def refusal_of(text: str, last_result: Fraction | int | None = None) -> Refusal:
    last = Fraction(last_result) if last_result is not None else None
    outcome = calculate(text, last_result=last)
    assert isinstance(outcome, Refusal), f"{text!r} was answered: {outcome}"
    assert outcome.message.endswith((".", "?"))  # a sentence to say
    return outcome


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 4 - 3", 3),
        ("100 / 10 / 5", 2),
        ("2 ^ 3 ^ 2", 512),  # right-associative
        ("2 ** 10", 1024),
        ("-2 ^ 2", -4),  # the power binds tighter than the sign
        ("(-2) ^ 2", 4),
        ("2 ^ -2", Fraction(1, 4)),
        ("2 * 3 ^ 2", 18),
        ("- - 5", 5),
        ("7x8", 56),
        ("0.1 + 0.2", Fraction(3, 10)),  # exact, not 0.30000000000000004
        (".5 * 4", 2),
        ("1/3 + 1/3 + 1/3", 1),
        ("10 % ", Fraction(1, 10)),
        ("20% of 50", 10),
        ("twenty percent of fifty", 10),
        ("50 percent of 50 plus 1", 26),
        ("3 squared squared", 81),
        ("2 cubed", 8),
        ("7 x 8", 56),
        ("7×8", 56),
        ("9 ÷ 3", 3),
        ("9 over 3", 3),
        ("6 multiplied by 7", 42),
        ("6 divided by 4", Fraction(3, 2)),
        ("2 raised to the power of 8", 256),
        ("2 to the power 8", 256),
        ("negative five plus three", -2),
        ("0 ^ 0", 1),
        ("1 ^ 123456789", 1),
        ("(-1) ^ 123456789", -1),
        ("1,000,000 + 1", 1_000_001),
        ("2 + 2 =", 4),
        ("2 + 2 equals", 4),
        ("((((1))))", 1),
        # Compound numbers as English spells them and Whisper writes them: one number each,
        # not a subtraction ("twenty-five percent of eighty" was answered 16, "sixty-four
        # divided by eight" 59.5).
        ("twenty-five percent of eighty", 20),
        ("sixty-four divided by eight", 8),
        ("ninety-nine minus nine", 90),
        ("three hundred forty-two plus eight", 350),
        ("thirty - five", 25),
        ("30-5", 25),
        ("thirty-five-five", 30),
    ],
)
def test_calculations(text: str, expected: Fraction | int) -> None:
    assert value_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zero", 0),
        ("seven", 7),
        ("twelve", 12),
        ("twenty one", 21),
        ("ninety nine", 99),
        ("one hundred", 100),
        ("a hundred", 100),
        ("one hundred and five", 105),
        ("three hundred forty two", 342),
        ("nineteen hundred", 1900),
        ("a thousand", 1000),
        ("two thousand and twenty six", 2026),
        ("one million two hundred thousand", 1_200_000),
        ("three point five", Fraction(7, 2)),
        ("point two five", Fraction(1, 4)),
        ("three point one four", Fraction(314, 100)),
        ("zero point oh five", Fraction(5, 100)),
        ("one point five million", 1_500_000),
        ("2 million", 2_000_000),
        ("1.5 thousand", 1500),
        ("3 point 5", Fraction(7, 2)),
    ],
)
def test_number_words(text: str, expected: Fraction | int) -> None:
    assert value_of(f"{text} plus zero") == expected


@pytest.mark.parametrize(
    "text", ["one two", "twenty twenty one", "a", "and", "hundred and", "thousand million"]
)
def test_number_words_are_never_guessed(text: str) -> None:
    assert try_calculate(f"{text} plus 1") is None or isinstance(
        calculate(f"{text} plus 1"), Refusal
    )


@pytest.mark.parametrize(
    ("text", "last", "expected"),
    [
        ("+ 6", 10, 16),
        ("plus six", 10, 16),
        ("-6", 10, 4),  # after a result, a leading minus takes away (as the original did)
        ("minus 6", 10, 4),
        ("* 3 + 1", 2, 7),
        ("/ 4", 10, Fraction(5, 2)),
        ("squared", -3, 9),  # the last result is one operand, sign included
        ("^ 2", -3, 9),
        ("x 5", 2, 10),
        ("times two", Fraction(1, 3), Fraction(2, 3)),
    ],
)
def test_continuations(text: str, last: Fraction | int, expected: Fraction | int) -> None:
    outcome = calculate(text, last_result=Fraction(last))
    assert isinstance(outcome, Answer)
    assert outcome.continued is True
    assert outcome.value == expected


def test_a_leading_minus_without_a_result_is_a_negative_number() -> None:
    assert value_of("-6") == -6
    assert value_of("minus 6 plus 1") == -5


@pytest.mark.parametrize("text", ["+ 6", "plus six", "times two", "squared", "/ 2"])
def test_continuation_without_a_result_says_so(text: str) -> None:
    assert refusal_of(text).code == "no_previous_result"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1 / 0", "divide_by_zero"),
        ("5 divided by zero", "divide_by_zero"),
        ("1 / (2 - 2)", "divide_by_zero"),
        ("0 ^ -1", "divide_by_zero"),
        ("2 ^ 0.5", "fractional_power"),
        ("9**9**9**9", "too_big"),
        ("9 ^ 9 ^ 9", "too_big"),
        ("2^99999", "too_big"),
        ("2 ^ 3000", "too_big"),
        ("10 ^ 61", "too_big"),  # computable, but too long to say
        ("(10^30)^30", "too_big"),
        ("2 +", "incomplete"),
        ("(1 + 2", "incomplete"),
        ("plus", "incomplete"),
        ("1 + 2)", "malformed"),
        ("2 2", "malformed"),
        ("* * 2", "malformed"),
        ("2 & 3", "unsupported"),
        ("2 << 3", "unsupported"),
        ("1" * (MAX_OPERAND_DIGITS + 1), "too_many_digits"),
        ("1" * 10_000, "too_long"),
        ("(" * 31 + "1" + ")" * 31, "too_deep"),
        ("(" * 10_000 + "1" + ")" * 10_000, "too_long"),
        ("-" * 100 + "1", "too_deep"),
        ("2" + "^2" * 40, "too_deep"),
        (" + ".join(["1"] * 300), "too_long"),
    ],
)
def test_refusals_in_words(text: str, code: str) -> None:
    assert refusal_of(text, last_result=1).code == code


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('id')",
        "__import__('os')",
        "lambda: 1",
        "(lambda x: x)(1)",
        "(1).__class__.__bases__",
        "().__class__",
        "open('/etc/passwd').read()",
        "exec('1')",
        "eval('2+2')",
        "[x for x in range(10**9)]",
        "1 if True else 2",
        "2 + 2; import os",
        "globals()",
        "${7*7}",
        "{{7*7}}",
        "1e308 * 10",
        "2 + 3j",
        "1_000 + 1",
        "'a' * 10**9",
    ],
)
def test_python_syntax_is_refused_in_words(text: str) -> None:
    outcome = timed(lambda: calculate(text, last_result=Fraction(7)))
    assert isinstance(outcome, Refusal)
    assert outcome.message


def test_the_result_digit_bound_is_exact() -> None:
    assert value_of(f"10 ^ {MAX_RESULT_DIGITS - 1}") == 10 ** (MAX_RESULT_DIGITS - 1)
    assert refusal_of(f"10 ^ {MAX_RESULT_DIGITS}").code == "too_big"


@pytest.mark.parametrize(
    ("value", "spoken"),
    [
        (Fraction(56), "56"),
        (Fraction(-5), "-5"),
        (Fraction(0), "0"),
        (Fraction(7, 2), "3.5"),
        (Fraction(-1, 8), "-0.125"),
        (Fraction(1, 64), "0.015625"),
        (Fraction(1, 3), "about 0.333333"),
        (Fraction(2, 3), "about 0.666667"),
        (Fraction(-2, 3), "about -0.666667"),
        (Fraction(22, 7), "about 3.142857"),
        (Fraction(1, 2**30), "about 9.313 times 10 to the power of -10"),
        (Fraction(12345678901, 7), "about 1763668414.428571"),
    ],
)
def test_spoken_numbers(value: Fraction, spoken: str) -> None:
    assert speak_number(value) == spoken


def test_answer_speaks_its_value() -> None:
    outcome = calculate("1 / 4")
    assert isinstance(outcome, Answer)
    assert outcome.spoken == "0.25"
