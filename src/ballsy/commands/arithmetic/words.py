"""Numbers spoken as words: "twenty one", "one hundred and five", "three point five".

Speech recognisers write small numbers as words and large ones as digits, and mix
them ("2 million"), so a number may start with digits and continue with scale
words. Readings follow English grammar loosely but never guess: "one two" is not
a number. Scales must decrease ("two million three thousand"), which bounds the
value below 10**15 before any decimal part.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ballsy.commands.arithmetic.limits import MAX_OPERAND_DIGITS, TOO_MANY_DIGITS
from ballsy.commands.arithmetic.tokens import Refused
from ballsy.number_words import DIGIT_WORDS, SCALES, TEENS, TENS, UNITS

NUMBER_WORDS = frozenset(
    {*DIGIT_WORDS, *TEENS, *TENS, *SCALES, "hundred", "a", "and", "point", "oh"}
)

# A lexeme is ("number", Fraction) for digits or ("word", str) / ("symbol", str).
Lexeme = tuple[str, object]

_AFTER_SMALL = frozenset({None, "hundred", "scale", "and"})
_BEFORE_MULTIPLIER = frozenset({"unit", "teen", "tens", "a", "digits"})


@dataclass(slots=True)
class _Reading:
    """The state of one number being read word by word."""

    total: Fraction = Fraction(0)
    current: Fraction = Fraction(0)
    last: str | None = None
    hundred_in_group: bool = False
    last_scale: int = 10**15


def _word_at(lexemes: list[Lexeme], index: int) -> str | None:
    if index < len(lexemes) and lexemes[index][0] == "word":
        word = lexemes[index][1]
        assert isinstance(word, str)
        return word
    return None


def _read_decimals(lexemes: list[Lexeme], index: int) -> tuple[Fraction, int]:
    """Digit words after "point": "three point one four" -> 0.14."""
    digits = ""
    while (word := _word_at(lexemes, index)) is not None and (word in DIGIT_WORDS or word == "oh"):
        digits += str(DIGIT_WORDS.get(word, 0))
        if len(digits) > MAX_OPERAND_DIGITS:
            raise Refused(TOO_MANY_DIGITS)
        index += 1
    return Fraction(int(digits), 10 ** len(digits)), index


def _step(reading: _Reading, word: str, following: str | None) -> bool:
    """Apply one word to the reading; False if the word cannot continue this number."""
    last = reading.last
    if word in UNITS and (last in _AFTER_SMALL or last == "tens"):
        reading.current += UNITS[word]
        reading.last = "unit"
    elif word == "zero" and last is None:
        reading.last = "zero"
    elif word in TEENS and last in _AFTER_SMALL:
        reading.current += TEENS[word]
        reading.last = "teen"
    elif word in TENS and last in _AFTER_SMALL:
        reading.current += TENS[word]
        reading.last = "tens"
    elif word == "hundred" and last in _BEFORE_MULTIPLIER and not reading.hundred_in_group:
        reading.current *= 100
        reading.hundred_in_group = True
        reading.last = "hundred"
    elif (
        word in SCALES
        and last in (_BEFORE_MULTIPLIER | {"hundred"})
        and SCALES[word] < reading.last_scale
    ):
        reading.total += reading.current * SCALES[word]
        reading.current = Fraction(0)
        reading.last_scale = SCALES[word]
        reading.hundred_in_group = False
        reading.last = "scale"
    elif word == "a" and last is None and (following == "hundred" or following in SCALES):
        reading.current = Fraction(1)
        reading.last = "a"
    elif (
        word == "and"
        and last in ("hundred", "scale")
        and (following in UNITS or following in TEENS or following in TENS)
    ):
        reading.last = "and"
    else:
        return False
    return True


def read_number(lexemes: list[Lexeme], index: int) -> tuple[Fraction, int] | None:
    """Read the number starting at `index`: its value and the index after it, or None."""
    reading = _Reading()
    if lexemes[index][0] == "number":
        value = lexemes[index][1]
        assert isinstance(value, Fraction)
        reading.current = value
        reading.last = "digits"
        index += 1
    while (word := _word_at(lexemes, index)) is not None:
        if word == "point" and reading.last not in ("a", "and", "digits"):
            following = _word_at(lexemes, index + 1)
            if following not in DIGIT_WORDS and following != "oh":
                break
            decimals, index = _read_decimals(lexemes, index + 1)
            reading.current += decimals
            reading.last = "decimal"
            scale = _word_at(lexemes, index)
            if scale in SCALES and SCALES[scale] < reading.last_scale:
                reading.total += reading.current * SCALES[scale]
                reading.current = Fraction(0)
                index += 1
            break
        if not _step(reading, word, _word_at(lexemes, index + 1)):
            break
        index += 1
    if reading.last in (None, "a", "and"):
        return None
    return reading.total + reading.current, index
