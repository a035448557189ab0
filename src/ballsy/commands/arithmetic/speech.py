"""Say an exact result well: integers as digits, other values as short decimals.

A value whose decimal expansion ends within `EXACT_DECIMALS` places is said exactly
("3.5"); any other is rounded to `ROUNDED_DECIMALS` places and prefixed "about"
("about 0.333333"). Values too small for that rounding are said in powers of ten.
"""

from __future__ import annotations

from fractions import Fraction

EXACT_DECIMALS = 6
ROUNDED_DECIMALS = 6
SIGNIFICANT_DIGITS = 4


def _round_half_up(value: Fraction) -> int:
    """The nearest integer, halves away from zero (as people round)."""
    magnitude = (abs(value.numerator) * 2 + value.denominator) // (2 * value.denominator)
    return magnitude if value >= 0 else -magnitude


def _decimal_text(scaled: int, places: int) -> str:
    """`scaled / 10**places` written out, without trailing zeros."""
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    whole, decimals = digits[:-places], digits[-places:].rstrip("0")
    return f"{sign}{whole}.{decimals}" if decimals else f"{sign}{whole}"


def _terminates_within(value: Fraction, places: int) -> bool:
    scaled: Fraction = value * 10**places
    return scaled.denominator == 1


def _tiny(value: Fraction) -> str:
    """A value below the rounding precision, in scientific words."""
    magnitude = abs(value)
    # Digit counts give the power of ten to within one; one correction fixes it.
    exponent = len(str(magnitude.numerator)) - len(str(magnitude.denominator))
    magnitude /= Fraction(10) ** exponent
    if magnitude < 1:
        magnitude *= 10
        exponent -= 1
    scaled = _round_half_up(magnitude * 10 ** (SIGNIFICANT_DIGITS - 1))
    mantissa = _decimal_text(scaled if value > 0 else -scaled, SIGNIFICANT_DIGITS - 1)
    return f"about {mantissa} times 10 to the power of {exponent}"


def speak_number(value: Fraction) -> str:
    """The words (and digits) Ballsy says for `value`."""
    if value.denominator == 1:
        return str(value.numerator)
    if _terminates_within(value, EXACT_DECIMALS):
        return _decimal_text(int(value * 10**EXACT_DECIMALS), EXACT_DECIMALS)
    scaled = _round_half_up(value * 10**ROUNDED_DECIMALS)
    if scaled == 0:
        return _tiny(value)
    return f"about {_decimal_text(scaled, ROUNDED_DECIMALS)}"
