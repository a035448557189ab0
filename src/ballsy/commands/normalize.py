"""Text normalisation for commands that arrive typed or from a speech recogniser.

Speech recognisers capitalise, punctuate and keep hesitations ("Um, what time is
it?"); people type contractions with or without apostrophes ("whats 2+2"). Matchers
work on one canonical form: lower case, sentence punctuation removed, contractions
expanded, filler words at the edges removed. Every pattern here is linear (no
nested quantifiers), so normalising stays fast on any input.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_CHARACTER_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
        "`": "'",
        "\u201c": " ",
        "\u201d": " ",
        '"': " ",
        "\u2212": "-",  # the minus sign
        "\u2013": " ",  # dashes used as punctuation
        "\u2014": " ",
        "\u2026": " ",
    }
)

# "1,000,000" is one number; "1, 2" is a list.
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# Sentence punctuation; "+", "-", "*", "/", "^", "%", "(", ")", "&", "." inside words stay.
_PUNCTUATION = re.compile(r"[?!;:,\[\]{}<>|~#@\"]")
# A full stop that ends a word or sentence ("Hello." / "a. b"), not "3.5" or "youtube.com".
_SENTENCE_STOP = re.compile(r"\.{2,}|\.(?=\s|$)|(?<=\s)\.(?!\d)|^\.(?!\d)")
_EDGE_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")
_SPACES = re.compile(r"\s+")

_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bwhat'?s\b", "what is"),
        (r"\bwho'?s\b", "who is"),
        (r"\bhow'?s\b", "how is"),
        (r"\bwhere'?s\b", "where is"),
        (r"\bthat's\b", "that is"),
        (r"\bit's\b", "it is"),
        (r"\bwhat're\b", "what are"),
        (r"\bwho're\b", "who are"),
        (r"\bi'?m\b", "i am"),
        (r"\byou're\b", "you are"),
        (r"\bwe're\b", "we are"),
        (r"\bthat'll\b", "that will"),
        (r"\bi'd\b", "i would"),
    )
)

# Hesitations a recogniser transcribes; removed wherever they stand.
_HESITATION = re.compile(r"\b(?:um+|uh+m?|er+m?|hmm+|mm+|ah+)\b")

# Words that wrap a request without changing it, removed from the start
# (repeatedly: "hey ballsy, um, can you please tell me what time it is").
_LEADING_FILLER = re.compile(
    r"^(?:"
    r"(?:hey|hi|ok|okay|yo) ballsy|ballsy|hey|ok|okay|so|well|alright|all right|oh|"
    r"please|can you please|could you please|can you|could you|would you|will you|"
    r"i want to know|i would like to know|i wonder|i was wondering|do you know|"
    r"can you tell me|could you tell me|tell me|just"
    r")\s+"
)
# "tell me" is only filler before a question ("tell me what time it is"), not
# in "tell me about X" or "tell me a joke".
_QUESTION_START = re.compile(r"^(?:what|who|how|when|where|which|why|the time|the date)\b")
_TRAILING_FILLER = re.compile(
    r"\s+(?:please|ballsy|thanks|thank you|for me|now please|right now please)$"
)
_MAX_FILLER_PASSES = 8


@dataclass(frozen=True, slots=True)
class Utterance:
    """One command in the forms the matchers need.

    `raw` is what arrived, trimmed (used for AI prompts, keeping the user's case);
    `plain` is canonical without hesitations; `text` is `plain` without the filler
    at its edges (never empty unless `plain` is).
    """

    raw: str
    plain: str
    text: str


def canonical(text: str) -> str:
    """Lower case, canonical punctuation and spacing, contractions expanded."""
    text = unicodedata.normalize("NFKC", text).translate(_CHARACTER_MAP).casefold()
    text = _THOUSANDS_COMMA.sub("", text)
    text = _PUNCTUATION.sub(" ", text)
    text = _SENTENCE_STOP.sub(" ", text)
    text = _EDGE_APOSTROPHE.sub(" ", text)
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text).strip()


def strip_filler(plain: str) -> str:
    """Remove filler at the edges of a canonical command; keep it if nothing else is left."""
    text = plain
    for _ in range(_MAX_FILLER_PASSES):
        before = text
        match = _LEADING_FILLER.match(text)
        if match is not None:
            rest = text[match.end() :]
            if not match.group(0).startswith("tell me") or _QUESTION_START.match(rest):
                text = rest
        text = _TRAILING_FILLER.sub("", text)
        if text == before:
            break
    return text or plain


def understand(raw: str) -> Utterance:
    """Build the `Utterance` for a command as it arrived."""
    raw = raw.strip()
    plain = _SPACES.sub(" ", _HESITATION.sub(" ", canonical(raw))).strip()
    return Utterance(raw=raw, plain=plain, text=strip_filler(plain))


def recover_case(raw: str, fragment: str) -> str:
    """`fragment` (found in the canonical text) as the user wrote it, when it can be found.

    The AI and a web search read "Marie Curie" better than "marie curie".
    """
    if not fragment:
        return fragment
    folded = raw.casefold()
    if len(folded) != len(raw):  # case folding changed lengths ("ß" -> "ss")
        return fragment
    start = folded.find(fragment)
    if start < 0:
        return fragment
    return raw[start : start + len(fragment)]
