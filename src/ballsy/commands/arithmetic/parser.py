"""A recursive-descent parser that evaluates tokens exactly with `Fraction`.

Grammar, loosest binding first::

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/" | "of") unary)*
    unary      := ("-" | "+" | "negative") unary | power
    power      := postfix ("^" unary)?           right-associative; -2^2 = -(2^2)
    postfix    := primary ("squared" | "cubed" | "percent")*
    primary    := NUMBER | "(" expression ")"

Every rule that recurses counts nesting against `MAX_NESTING`, and every value is
checked against `MAX_BITS` as it is made; a power's size is estimated before it
is computed. So the work per token is bounded, and the token count is bounded.
"""

from __future__ import annotations

from fractions import Fraction

from ballsy.commands.arithmetic.limits import (
    DIVIDE_BY_ZERO,
    FRACTIONAL_POWER,
    INCOMPLETE,
    MALFORMED,
    MAX_BITS,
    MAX_EXPONENT,
    MAX_NESTING,
    TOO_BIG,
    TOO_DEEP,
)
from ballsy.commands.arithmetic.tokens import Kind, Refused, Token


def checked(value: Fraction) -> Fraction:
    """`value`, if its numerator and denominator fit in `MAX_BITS`."""
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise Refused(TOO_BIG)
    return value


def power(base: Fraction, exponent: Fraction) -> Fraction:
    """`base ** exponent` for whole exponents, refused before computing if too big."""
    if exponent.denominator != 1:
        raise Refused(FRACTIONAL_POWER)
    whole = exponent.numerator
    if base == 0:
        if whole < 0:
            raise Refused(DIVIDE_BY_ZERO)
        return Fraction(1 if whole == 0 else 0)
    if base in (1, -1):
        return Fraction(1) if base == 1 or whole % 2 == 0 else Fraction(-1)
    size = max(base.numerator.bit_length(), base.denominator.bit_length())
    # |n ** e| has at most e * bits(n) bits: refuse on the estimate, never by trying.
    if abs(whole) > MAX_EXPONENT or size * abs(whole) > MAX_BITS:
        raise Refused(TOO_BIG)
    return checked(base**whole)


def _divide(left: Fraction, right: Fraction) -> Fraction:
    if right == 0:
        raise Refused(DIVIDE_BY_ZERO)
    return checked(left / right)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._position = 0

    def _peek(self) -> Kind | None:
        if self._position < len(self._tokens):
            return self._tokens[self._position].kind
        return None

    def _take(self) -> Token:
        if self._position >= len(self._tokens):
            raise Refused(INCOMPLETE)
        token = self._tokens[self._position]
        self._position += 1
        return token

    def parse(self) -> Fraction:
        value = self._expression(0)
        if self._position != len(self._tokens):
            raise Refused(MALFORMED)
        return value

    def _expression(self, depth: int) -> Fraction:
        value = self._term(depth)
        while (kind := self._peek()) in (Kind.PLUS, Kind.MINUS):
            self._take()
            right = self._term(depth)
            value = checked(value + right if kind is Kind.PLUS else value - right)
        return value

    def _term(self, depth: int) -> Fraction:
        value = self._unary(depth)
        while (kind := self._peek()) in (Kind.TIMES, Kind.DIVIDE, Kind.OF):
            self._take()
            right = self._unary(depth)
            value = _divide(value, right) if kind is Kind.DIVIDE else checked(value * right)
        return value

    def _unary(self, depth: int) -> Fraction:
        if depth > MAX_NESTING:
            raise Refused(TOO_DEEP)
        kind = self._peek()
        if kind in (Kind.MINUS, Kind.NEGATIVE, Kind.PLUS):
            self._take()
            operand = self._unary(depth + 1)
            return operand if kind is Kind.PLUS else -operand
        return self._power(depth)

    def _power(self, depth: int) -> Fraction:
        base = self._postfix(depth)
        if self._peek() is Kind.POWER:
            self._take()
            return power(base, self._unary(depth + 1))
        return base

    def _postfix(self, depth: int) -> Fraction:
        value = self._primary(depth)
        while (kind := self._peek()) in (Kind.SQUARED, Kind.CUBED, Kind.PERCENT):
            self._take()
            if kind is Kind.PERCENT:
                value = checked(value / 100)
            else:
                value = power(value, Fraction(2 if kind is Kind.SQUARED else 3))
        return value

    def _primary(self, depth: int) -> Fraction:
        token = self._take()
        if token.kind is Kind.NUMBER:
            assert token.value is not None
            return token.value
        if token.kind is Kind.OPEN:
            if depth + 1 > MAX_NESTING:
                raise Refused(TOO_DEEP)
            value = self._expression(depth + 1)
            if self._take().kind is not Kind.CLOSE:
                raise Refused(MALFORMED)
            return value
        raise Refused(MALFORMED)


def evaluate(tokens: list[Token]) -> Fraction:
    """The exact value of `tokens`; raises `Refused` with the reason in words."""
    if not tokens:
        raise Refused(INCOMPLETE)
    return _Parser(tokens).parse()
