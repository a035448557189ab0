"""Turn calculation text, typed or spoken, into tokens over a fixed allow-list.

Symbols: digits, ``+ - * / ^ ** x × ÷ ( ) % =``. Words: number words and the
operator phrases below. Any other word means the text is not arithmetic (another
command should answer it); any other symbol is refused. Nothing is ever executed.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ballsy.commands.arithmetic.limits import (
    MAX_NESTING,
    MAX_OPERAND_DIGITS,
    MAX_TOKENS,
    TOO_DEEP,
    TOO_LONG,
    TOO_MANY_DIGITS,
    UNSUPPORTED_SYMBOL,
)
from ballsy.commands.arithmetic.tokens import (
    OPERAND_END,
    Kind,
    NotArithmetic,
    Refused,
    Token,
)
from ballsy.commands.arithmetic.words import NUMBER_WORDS, Lexeme, read_number
from ballsy.number_words import TENS, UNITS

_LEXEME = re.compile(
    r"(?P<number>\d+(?:\.\d+)?|\.\d+)"
    r"|(?P<symbol>\*\*|[-+*/^×÷()%=])"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.DOTALL,
)

# "1,000,000" is one number, as typed or as a recogniser writes it.
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# "2 to the 10th power", as recognisers write a spoken exponent.
_ORDINAL_POWER = re.compile(r"\bto the (\d+)(?:st|nd|rd|th) power\b")
# "3 point 5", as recognisers write a spoken decimal.
_SPOKEN_POINT = re.compile(r"(?<![\d.])(\d+) point (\d+)(?![\d.])")
# "twenty-five" is one number, as English spells it and recognisers write it, not 20 - 5.
_HYPHENATED_NUMBER = re.compile(rf"\b({'|'.join(TENS)})-({'|'.join(UNITS)})\b")

_SYMBOLS = {
    "+": Kind.PLUS,
    "-": Kind.MINUS,
    "*": Kind.TIMES,
    "×": Kind.TIMES,
    "/": Kind.DIVIDE,
    "÷": Kind.DIVIDE,
    "^": Kind.POWER,
    "**": Kind.POWER,
    "%": Kind.PERCENT,
    "(": Kind.OPEN,
    ")": Kind.CLOSE,
}

# Operator phrases, longest first so "to the power of" wins over "to the power".
_PHRASES: tuple[tuple[tuple[str, ...], Kind], ...] = (
    (("raised", "to", "the", "power", "of"), Kind.POWER),
    (("raised", "to", "the", "power"), Kind.POWER),
    (("to", "the", "power", "of"), Kind.POWER),
    (("to", "the", "power"), Kind.POWER),
    (("multiplied", "by"), Kind.TIMES),
    (("divided", "by"), Kind.DIVIDE),
    (("raised", "to"), Kind.POWER),
    (("plus",), Kind.PLUS),
    (("minus",), Kind.MINUS),
    (("negative",), Kind.NEGATIVE),
    (("times",), Kind.TIMES),
    (("x",), Kind.TIMES),
    (("over",), Kind.DIVIDE),
    (("squared",), Kind.SQUARED),
    (("cubed",), Kind.CUBED),
    (("percent",), Kind.PERCENT),
    (("of",), Kind.OF),
)
_PHRASE_WORDS = frozenset(word for phrase, _ in _PHRASES for word in phrase)
_EQUALS_WORDS = frozenset({"equals", "equal"})
ARITHMETIC_WORDS = NUMBER_WORDS | _PHRASE_WORDS | _EQUALS_WORDS


def _lexemes(text: str) -> list[Lexeme]:
    """Split into lexemes, rejecting foreign words first and odd symbols second."""
    lexemes: list[Lexeme] = []
    odd_symbol = False
    text = _SPOKEN_POINT.sub(r"\1.\2", _THOUSANDS_COMMA.sub("", text))
    text = _HYPHENATED_NUMBER.sub(r"\1 \2", text)
    text = _ORDINAL_POWER.sub(r"^ \1", text)
    for match in _LEXEME.finditer(text):
        group = match.lastgroup
        piece = match.group()
        if group == "word":
            if piece not in ARITHMETIC_WORDS:
                raise NotArithmetic(piece)
            lexemes.append(("word", piece))
        elif group == "number":
            lexemes.append(("digits", piece))
        elif group == "symbol":
            lexemes.append(("symbol", piece))
        elif group == "other":
            odd_symbol = True
    if odd_symbol:
        raise Refused(UNSUPPORTED_SYMBOL)
    if len(lexemes) > MAX_TOKENS * 2:
        raise Refused(TOO_LONG)
    return [_with_number_value(lexeme) for lexeme in lexemes]


def _with_number_value(lexeme: Lexeme) -> Lexeme:
    """Digits become an exact Fraction, after their length is checked."""
    kind, piece = lexeme
    if kind != "digits":
        return lexeme
    assert isinstance(piece, str)
    whole, _, decimals = piece.partition(".")
    if len(whole) + len(decimals) > MAX_OPERAND_DIGITS:
        raise Refused(TOO_MANY_DIGITS)
    return ("number", Fraction(int(whole + decimals or "0"), 10 ** len(decimals)))


def _phrase_at(lexemes: list[Lexeme], index: int) -> tuple[Kind, int] | None:
    for words, kind in _PHRASES:
        end = index + len(words)
        if end <= len(lexemes) and all(
            lexemes[index + offset] == ("word", word) for offset, word in enumerate(words)
        ):
            return kind, end
    return None


def _starts_operand(lexemes: list[Lexeme], index: int) -> bool:
    if index >= len(lexemes):
        return False
    kind, piece = lexemes[index]
    return kind == "number" or piece in ("(", "-") or (kind == "word" and piece in NUMBER_WORDS)


def _check_placement(kind: Kind, tokens: list[Token], lexemes: list[Lexeme], after: int) -> None:
    """'x' is "times" only between operands; "of" only in "percent of"."""
    previous = tokens[-1].kind if tokens else None
    if kind is Kind.OF and previous is not Kind.PERCENT:
        raise NotArithmetic("of")
    if (
        kind is Kind.TIMES
        and lexemes[after - 1] == ("word", "x")
        and not ((previous is None or previous in OPERAND_END) and _starts_operand(lexemes, after))
    ):
        raise NotArithmetic("x")


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`; raises `NotArithmetic` or `Refused`."""
    lexemes = _lexemes(text)
    tokens: list[Token] = []
    depth = 0
    index = 0
    while index < len(lexemes):
        kind, piece = lexemes[index]
        if kind == "number" or (kind == "word" and piece in NUMBER_WORDS):
            number = read_number(lexemes, index)
            if number is not None:
                tokens.append(Token(Kind.NUMBER, number[0]))
                index = number[1]
                continue
        if (kind == "symbol" and piece == "=") or (kind == "word" and piece in _EQUALS_WORDS):
            if index != len(lexemes) - 1:  # "=" only closes a calculation
                raise NotArithmetic(str(piece))
            break
        if kind == "symbol":
            assert isinstance(piece, str)
            tokens.append(Token(_SYMBOLS[piece]))
            index += 1
        else:
            phrase = _phrase_at(lexemes, index)
            if phrase is None:
                raise NotArithmetic(str(piece))
            _check_placement(phrase[0], tokens, lexemes, phrase[1])
            tokens.append(Token(phrase[0]))
            index = phrase[1]
        if tokens[-1].kind is Kind.OPEN:
            depth += 1
            if depth > MAX_NESTING:
                raise Refused(TOO_DEEP)
        elif tokens[-1].kind is Kind.CLOSE:
            depth -= 1
        if len(tokens) > MAX_TOKENS:
            raise Refused(TOO_LONG)
    return tokens
