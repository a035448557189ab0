"""Tokens of a calculation and the exception that carries a refusal out of deep code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from ballsy.commands.arithmetic.limits import Refusal


class Kind(Enum):
    NUMBER = "number"
    PLUS = "+"
    MINUS = "-"
    NEGATIVE = "negative"  # only ever unary ("negative five")
    TIMES = "*"
    DIVIDE = "/"
    POWER = "^"
    SQUARED = "squared"
    CUBED = "cubed"
    PERCENT = "percent"
    OF = "of"  # multiplication, only after "percent" ("20 percent of 50")
    OPEN = "("
    CLOSE = ")"


# Tokens after which an operand has ended, so a binary operator may follow.
OPERAND_END = frozenset({Kind.NUMBER, Kind.CLOSE, Kind.SQUARED, Kind.CUBED, Kind.PERCENT})
# Tokens that, leading a command, continue from the previous result ("plus six").
CONTINUING = frozenset(
    {
        Kind.PLUS,
        Kind.TIMES,
        Kind.DIVIDE,
        Kind.POWER,
        Kind.SQUARED,
        Kind.CUBED,
        Kind.PERCENT,
    }
)
OPERATORS = frozenset(Kind) - {Kind.NUMBER, Kind.OPEN, Kind.CLOSE}


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    value: Fraction | None = None


class Refused(Exception):
    """Raised inside the lexer and parser; `calculate` turns it into the `Refusal`."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal


class NotArithmetic(Exception):
    """The text uses words that are not arithmetic: some other command should answer."""
