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

from ballsy.number_words import DIGIT_WORDS, SCALES, TEENS, TENS

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
_ASKED = re.compile(r"\W*(?:what|how much)\b")
_QUESTION = re.compile(r"^(?:what is|what's|whats|how much is|calculate)\s+")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+|[-+×÷*/%^()=]")
_NUMBER_KINDS = {
    **dict.fromkeys(DIGIT_WORDS, "unit"),
    **dict.fromkeys(TEENS, "teen"),
    **dict.fromkeys(TENS, "tens"),
    **dict.fromkeys((*SCALES, "hundred", "a", "and"), "scale"),
    "point": "point",
}
# Which kinds of number word no number puts straight after a word of another kind.
_CANNOT_FOLLOW: dict[str | None, tuple[str, ...]] = {
    "unit": ("unit", "teen", "tens"),
    "teen": ("unit", "teen", "tens"),
    "tens": ("teen", "tens"),
}
_FIRST_NUMBER_WORDS = frozenset([*DIGIT_WORDS, *TEENS, *TENS])
_NUMBER_WORDS = frozenset(_NUMBER_KINDS)
# The words that say part of a number ("a" and "and" join them but say none).
_COUNTED_NUMBER_WORDS = _FIRST_NUMBER_WORDS | {"hundred", *SCALES}
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
    if _runs_numbers_together(tokens):
        return False
    return asks_for_sum(rest) or "x" in tokens or "over" in tokens


def _runs_numbers_together(tokens: list[str]) -> bool:
    """Whether two number words follow each other that no number is said with: "eighteen
    one", "seven two", "eighty twenty". Only a unit follows a tens word ("eighty one"),
    and after "point" digits are read one by one ("three point one four")."""
    previous: str | None = None
    after_point = False
    for token in tokens:
        kind = _NUMBER_KINDS.get(token)
        if kind == "point":
            after_point = True
        elif kind is None:
            after_point = False
        elif not after_point and kind in _CANNOT_FOLLOW.get(previous, ()):
            return True
        previous = kind
    return False


def asked_as_question(text: str) -> bool:
    """Whether a transcript starts the way spoken sums are asked ("What…", "How much…"),
    so that hearing it once more, slower, is worth its cost; "Read the New York Times"
    and "How many times did I ask" are not."""
    return _ASKED.match(text.lower()) is not None


def first_question(reading: str) -> str:
    """A reading's first sentence: after a prompt of questions, the beam often goes on to
    ask another ("What is nine minus three? What is i minus three?"), which is the prompt's
    pattern continued, not more of what was said in one spoken piece."""
    match = re.match(r"\s*(.+?[.?!]+)(?=\s|$)", reading)
    return match.group(1).strip() if match else reading.strip()


def rereads(first: str, reading: str) -> bool:
    """Whether `reading` can be `first` heard again, rather than a sentence cut short.

    A beam also holds readings that drop words. Some stop early: "What is thirty percent
    on salmon tea?" had "What is thirty percent" among them, a calculation but not what
    was said; so where words followed the first transcript's last operator, some must
    follow the reading's. Some skip a number at the front: "What in eighteen one divided
    by nine?" had "What is one divided by nine?" (a wrong number) ranked above "What is
    eighty one divided by nine?"; so the reading must say at least as many number words
    before its first operator as the first transcript heard there.
    """
    if _words_after_last_operator(first) and not _words_after_last_operator(reading):
        return False
    return _number_words_before_operator(reading) >= _number_words_before_operator(first)


def _words_after_last_operator(text: str) -> bool:
    operators = list(_OPERATOR.finditer(text.lower()))
    return bool(operators) and re.search(r"\w", text[operators[-1].end() :]) is not None


def _number_words_before_operator(text: str) -> int:
    """How many number words come before the first operator, a numeral counted as the
    words it is said in ("81" as "eighty one"), so digits do not read as fewer words."""
    lowered = text.lower()
    operator = _OPERATOR.search(lowered)
    before = lowered[: operator.start()] if operator else lowered
    count = 0
    for token in re.findall(r"\d+(?:\.\d+)?|[a-z]+", before.replace(",", "")):
        if token[0].isdigit():
            count += _spoken_length(token)
        elif token in _COUNTED_NUMBER_WORDS:
            count += 1
    return count


def _spoken_length(numeral: str) -> int:
    """Roughly how many words a numeral is said in: "9" one, "81" two, "125" four."""
    whole, _, fraction = numeral.partition(".")
    digits = whole.lstrip("0") or "0"
    length = 0
    while digits:
        group, digits = digits[-3:], digits[:-3]
        hundreds, tens = (group[:-2].lstrip("0"), group[-2:].lstrip("0"))
        length += 2 if hundreds else 0  # "one hundred"
        if tens:
            length += 1 if len(tens) == 1 or tens[0] == "1" or tens[1] == "0" else 2
        if digits:
            length += 1  # "thousand", "million"
    return max(1, length) + (1 + len(fraction) if fraction else 0)  # "point five"
