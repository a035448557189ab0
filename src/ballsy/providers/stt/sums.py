"""Spoken sums: when a command asks for a calculation the transcript cannot be read as.

tiny.en hears the operator words of a spoken sum well ("divided by", "minus", "times")
but mishears short number words next to them in synthetic voices: "what is eighty one
divided by nine" became "What is maybe one divided by nine?", "how much is three times
nine" became "How much is three times high?". A transcript with an operator that is not
a calculation is decoded a second time in the context of calculations (`SUM_PROMPT`),
and the best of the beam's readings that *is* a calculation replaces it (`engine.py`);
when none is, the first transcript stands. bench/bench_recognition.py (`--part sums`)
measures it on 32 sums written apart from the prompt and the benchmark's commands.

These checks only decide whether to decode again and which reading to take; the command
router (`ballsy.commands.arithmetic`) still parses and answers what comes out.
"""

from __future__ import annotations

import re

# Whisper reads a prompt as what was said just before: arithmetic questions make number
# words next to an operator likely. These are the command prompt's own examples, as
# questions; other wordings measured the same (docs/benchmarks.md, "Recognition").
SUM_PROMPT = (
    "What is twelve times four? What is nine plus six? What is eighty minus two? "
    "What is a hundred divided by five? What is ten percent of fifty? What is three squared?"
)

# An operator word or symbol: the command asks for a calculation.
_OPERATOR = re.compile(
    r"\b(?:plus|minus|times|multiplied(?: by)?|divided(?: by)?|percent(?: of)?|squared|cubed)\b"
    r"|[+×÷*/%^=]|\d\s*-\s*\d"
)
_QUESTION = re.compile(r"^(?:what is|what's|whats|how much is|calculate)\s+")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+|[-+×÷*/%^()=]")
_FIRST_NUMBER_WORDS = frozenset(
    [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "seventy",
        "eighty",
        "ninety",
    ]
)
_NUMBER_WORDS = _FIRST_NUMBER_WORDS | {"hundred", "thousand", "million", "a", "and", "point"}
_OPERATOR_WORDS = frozenset(
    [
        "plus",
        "minus",
        "times",
        "x",
        "multiplied",
        "divided",
        "by",
        "over",
        "percent",
        "of",
        "squared",
        "cubed",
        "to",
        "the",
        "power",
        "raised",
        "equals",
    ]
)


def asks_for_sum(text: str) -> bool:
    """Whether a transcript holds an operator word or symbol ("divided by", "×", "9-3")."""
    return _OPERATOR.search(text.lower()) is not None


def reads_as_sum(text: str) -> bool:
    """Whether a transcript is a question about a calculation that starts with a number.

    "What is eighty-one ÷ 9?" and "how much is 6 x 7" are; "What is maybe one divided by
    nine?", "What in eighty one divided by nine?", "What is seven, two divided by six?" and
    "What is plus one?" (a continuation, which needs a previous result) are not.
    """
    plain = re.sub(r"[?!.;:]+(?=\s|$)", " ", text.lower().replace("’", "'"))
    plain = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", plain)  # "eighty-one"
    rest = _QUESTION.sub("", plain.strip(), count=1)
    tokens = _TOKEN.findall(rest)
    if ", " in rest or not tokens:  # "seven, two divided by six": two numbers, not one
        return False
    starts_with_number = tokens[0][0].isdigit() or tokens[0] in _FIRST_NUMBER_WORDS
    if not (starts_with_number or tokens[:2] in (["a", "hundred"], ["a", "thousand"])):
        return False
    known = _NUMBER_WORDS | _OPERATOR_WORDS
    if any(token.isalpha() and token not in known for token in tokens):
        return False
    return asks_for_sum(rest) or "x" in tokens or "over" in tokens


def rereads(first: str, reading: str) -> bool:
    """Whether `reading` can be `first` heard again, rather than a sentence cut short.

    A beam also holds readings that stop early: "What is thirty percent on salmon tea?" had
    "What is thirty percent" among them, a calculation but not what was said. Where words
    followed the first transcript's last operator, some must follow the reading's.
    """
    return _words_after_last_operator(reading) or not _words_after_last_operator(first)


def _words_after_last_operator(text: str) -> bool:
    operators = list(_OPERATOR.finditer(text.lower()))
    return bool(operators) and re.search(r"\w", text[operators[-1].end() :]) is not None
