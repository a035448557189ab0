"""Memory phrasings understood locally: "remember that …", "what do you remember about
me", "forget that", "forget …", "forget everything".

Pure parsing: which memory action the user asked for, and its text. Carrying it out
(the database, the embedding model) is the assistant's long-term memory
(assistant/recall.py). "Remember to …" is left alone: that is a reminder, not a fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["remember", "list", "forget_last", "forget_match", "forget_all"]


@dataclass(frozen=True, slots=True)
class MemoryIntent:
    kind: Kind
    # The fact to store (remember) or what to look for (forget_match); else "".
    text: str = ""


_POLITE = r"(?:(?:hey |ok |okay )?(?:ballsy )?(?:please |can you |could you |would you )?)"
_REMEMBER = re.compile(
    rf"^{_POLITE}(?:remember|note|keep in mind|don't forget|do not forget)"
    r"(?: that|:)? (?P<fact>(?!to\b)(?!me$).+)$"
)
_LIST = re.compile(
    rf"^{_POLITE}(?:"
    r"what (?:do|did) you (?:remember|know|recall) about me"
    r"|what (?:do|did) you remember"
    r"|what have you (?:remembered|memorised|memorized)"
    r"|what things do you remember"
    r"|(?:list|show|tell me|read) (?:me )?(?:all )?(?:of )?(?:my|your) memor(?:y|ies)"
    r"|what(?:'s| is) in your memory"
    r")(?: about me)?(?: so far)?$"
)
_FORGET_ALL = re.compile(
    rf"^{_POLITE}(?:"
    r"forget (?:everything|all)(?: (?:about me|you know(?: about me)?|i (?:told|said to) you"
    r"|you remember(?: about me)?|my memories|of it))?"
    r"|(?:delete|erase|clear|wipe) (?:all )?(?:of )?"
    r"(?:my memories|your memory|everything you remember(?: about me)?)"
    r")$"
)
_FORGET_LAST = re.compile(
    rf"^(?:(?:no|actually|never mind),? )?{_POLITE}forget (?:that|it|this|the last (?:thing|one)"
    r"|what i (?:just )?(?:said|told you))$"
)
_FORGET_MATCH = re.compile(rf"^{_POLITE}forget (?:about |that )?(?P<query>(?!to\b).+)$")
_EDGE = re.compile(r"^[\s,.!?]+|[\s,.!?]+$")
_SPACES = re.compile(r"\s+")


def _canonical(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return _SPACES.sub(" ", _EDGE.sub("", text)).lower()


def memory_intent(text: str) -> MemoryIntent | None:
    """The memory action `text` asks for, or None when it asks for none."""
    canonical = _canonical(text)
    if not canonical.startswith(
        (
            "remember",
            "note",
            "keep",
            "don't",
            "do not",
            "what",
            "list",
            "show",
            "tell",
            "read",
            "forget",
            "delete",
            "erase",
            "clear",
            "wipe",
            "please",
            "can",
            "could",
            "would",
            "hey",
            "ok",
            "no",
            "actually",
            "never",
            "ballsy",
        )
    ):
        return None
    if _LIST.match(canonical):
        return MemoryIntent("list")
    if _FORGET_ALL.match(canonical):
        return MemoryIntent("forget_all")
    if _FORGET_LAST.match(canonical):
        return MemoryIntent("forget_last")
    found = _FORGET_MATCH.match(canonical)
    if found:
        return MemoryIntent("forget_match", _original_tail(text, found.group("query")))
    found = _REMEMBER.match(canonical)
    if found:
        return MemoryIntent("remember", _original_tail(text, found.group("fact")))
    return None


def _original_tail(text: str, tail: str) -> str:
    """The last `len(tail)` characters of the user's own text (their capitals kept:
    "Alice", not "alice"), edges trimmed."""
    cleaned = _SPACES.sub(" ", _EDGE.sub("", text.replace("\u2019", "'")))
    return cleaned[len(cleaned) - len(tail) :] if len(cleaned) >= len(tail) else tail


_SWAPS = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "i'm": "you're",
    "am": "are",
    "i've": "you've",
    "i'll": "you'll",
    "i'd": "you'd",
    "we": "you",
    "our": "your",
}
_WORD = re.compile(r"[A-Za-z']+")


def second_person(fact: str) -> str:
    """'My sister is called Alice' -> 'your sister is called Alice', for the spoken
    confirmation, where the fact follows "that" (the stored fact keeps the user's own
    words)."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        return _SWAPS.get(word.lower(), word)

    return _WORD.sub(swap, fact)
