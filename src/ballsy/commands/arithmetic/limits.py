"""The bounds that keep every calculation small and fast by construction.

Each bound is checked before the work it guards, so no input can make an
evaluation slow: the text, the token count and each number's digits are checked
before parsing, nesting while parsing, and a power's result size before it is
computed.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_EXPRESSION_CHARS = 1000
MAX_TOKENS = 200
MAX_OPERAND_DIGITS = 30
MAX_NESTING = 30
MAX_EXPONENT = 10_000
# Numerator and denominator of every intermediate value stay within this many bits
# (about 616 decimal digits); products of two such numbers are microseconds of work.
MAX_BITS = 2048
MAX_RESULT_DIGITS = 60


@dataclass(frozen=True, slots=True)
class Refusal:
    """A calculation Ballsy declines, with a stable `code` and a sentence to say."""

    code: str
    message: str


NOT_ARITHMETIC = Refusal(
    "not_arithmetic",
    "I can only do arithmetic: numbers with plus, minus, times, divided by, powers and brackets.",
)
UNSUPPORTED_SYMBOL = Refusal(
    "unsupported",
    "I can only do arithmetic: numbers with plus, minus, times, divided by, powers and brackets.",
)
TOO_LONG = Refusal("too_long", "That calculation is too long for me.")
TOO_MANY_DIGITS = Refusal(
    "too_many_digits", f"I can only work with numbers up to {MAX_OPERAND_DIGITS} digits long."
)
TOO_DEEP = Refusal("too_deep", "That calculation has too many brackets inside each other for me.")
INCOMPLETE = Refusal(
    "incomplete", "That calculation doesn't look complete. Could you say it again?"
)
MALFORMED = Refusal("malformed", "I couldn't make sense of that calculation.")
DIVIDE_BY_ZERO = Refusal("divide_by_zero", "I can't divide by zero.")
TOO_BIG = Refusal("too_big", "That number would be far too big for me to work out.")
RESULT_TOO_LONG = Refusal(
    "too_big", f"The answer has more than {MAX_RESULT_DIGITS} digits, too many for me to read out."
)
FRACTIONAL_POWER = Refusal("fractional_power", "I can only raise numbers to whole-number powers.")
NO_PREVIOUS_RESULT = Refusal(
    "no_previous_result",
    "I don't have an earlier result to continue from. Try a whole sum, like 7 times 8.",
)
