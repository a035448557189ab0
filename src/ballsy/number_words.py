"""English number words and their values: the one list every reader of spoken numbers uses.

Arithmetic ("twenty one times three"), times and durations ("twenty five minutes"),
speech recognition's check of a spoken sum (`providers/stt/sums.py`) and the recognition
benchmark's scoring all read the same words; each reader decides which combinations it
accepts, but the words and their values live here, beside the layers, so the commands
and the providers both import them.
"""

from __future__ import annotations

DIGIT_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
UNITS = {word: value for word, value in DIGIT_WORDS.items() if value}
TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
# Zero to nineteen: the numbers said as one word.
ONE_WORD_NUMBERS = {**DIGIT_WORDS, **TEENS}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
