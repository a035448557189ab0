"""Safe arithmetic: a tokenizer and parser over an allow-list, exact with Fraction.

Never `eval`. `calculate("7 times 8")` returns an `Answer`; anything it will not
do comes back as a `Refusal` with a stable code and a sentence to say. A text that
starts with an operator ("plus six", "* 3", "squared") continues from
`last_result`. Every bound in `limits` is checked before the work it guards, so
each call is fast by construction, whatever the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ballsy.commands.arithmetic.lexer import tokenize
from ballsy.commands.arithmetic.limits import (
    MAX_EXPRESSION_CHARS,
    MAX_RESULT_DIGITS,
    NO_PREVIOUS_RESULT,
    NOT_ARITHMETIC,
    RESULT_TOO_LONG,
    TOO_BIG,
    TOO_LONG,
    UNSUPPORTED_SYMBOL,
    Refusal,
)
from ballsy.commands.arithmetic.parser import checked, evaluate
from ballsy.commands.arithmetic.speech import speak_number
from ballsy.commands.arithmetic.tokens import (
    CONTINUING,
    OPERATORS,
    Kind,
    NotArithmetic,
    Refused,
    Token,
)

__all__ = ["Answer", "Refusal", "calculate", "speak_number", "try_calculate"]

_LARGEST_RESULT = 10**MAX_RESULT_DIGITS
_LETTER = re.compile(r"[^\W\d_]")
_MATH_CHARACTER = re.compile(r"[\d+\-*/^()×÷%]")


@dataclass(frozen=True, slots=True)
class Answer:
    """An exact result; `continued` when it built on the previous result."""

    value: Fraction
    continued: bool = False

    @property
    def spoken(self) -> str:
        return speak_number(self.value)


def _looks_like_symbols(text: str) -> bool:
    """Digits and symbols only: clearly meant as a calculation, even a bad one."""
    return _LETTER.search(text) is None and _MATH_CHARACTER.search(text) is not None


def _is_calculation(tokens: list[Token]) -> bool:
    """A number with an operator, or a bare continuation such as "squared"."""
    has_operator = any(token.kind in OPERATORS for token in tokens)
    has_number = any(token.kind is Kind.NUMBER for token in tokens)
    return has_operator and (has_number or tokens[0].kind in CONTINUING)


def _continues(tokens: list[Token], last_result: Fraction | None) -> bool:
    first = tokens[0].kind
    # "-6" or "minus 6" after a result means "take six off" (as the original did);
    # with no result it is just a negative number.
    return first in CONTINUING or (first is Kind.MINUS and last_result is not None)


def _evaluate(tokens: list[Token], last_result: Fraction | None) -> Answer | Refusal:
    continued = _continues(tokens, last_result)
    if continued:
        if last_result is None:
            return NO_PREVIOUS_RESULT
        tokens = [Token(Kind.NUMBER, checked(last_result)), *tokens]
    value = evaluate(tokens)
    if abs(value) >= _LARGEST_RESULT:
        return RESULT_TOO_LONG
    return Answer(value=value, continued=continued)


def _outcome(
    text: str, last_result: Fraction | None, *, operator_required: bool
) -> Answer | Refusal | None:
    if len(text) > MAX_EXPRESSION_CHARS:
        return TOO_LONG if _looks_like_symbols(text) else None
    try:
        tokens = tokenize(text.casefold())
    except NotArithmetic:
        return None
    except Refused as refused:
        if refused.refusal is UNSUPPORTED_SYMBOL and not _looks_like_symbols(text):
            return None  # "..." or "@home": punctuation, not a calculation
        return refused.refusal
    if not tokens or (operator_required and not _is_calculation(tokens)):
        return None
    try:
        return _evaluate(tokens, last_result)
    except Refused as refused:
        return refused.refusal
    except (OverflowError, MemoryError):  # unreachable by the bounds; answered in words anyway
        return TOO_BIG


def try_calculate(text: str, *, last_result: Fraction | None = None) -> Answer | Refusal | None:
    """Calculate `text` if it is a calculation; None if it is some other kind of command.

    A calculation has a number and an operator ("7 times 8"), or continues the last
    result ("squared"). Digits and symbols alone always count, so "2 +" or "9**9**9"
    get a refusal in words rather than going elsewhere.
    """
    return _outcome(text, last_result, operator_required=True)


def calculate(text: str, *, last_result: Fraction | None = None) -> Answer | Refusal:
    """Calculate `text`, refusing in words anything that is not safe arithmetic."""
    outcome = _outcome(text, last_result, operator_required=False)
    return NOT_ARITHMETIC if outcome is None else outcome
