"""When an AI answer to a lookup is not good enough, search the web instead.

The original fell back to a web search when the answer hedged ("I'm not sure"),
asked a question back, or was under four words for a person. It matched phrases
anywhere, so "Othello is a tragedy" hedged (it contains "hello"); here phrases
match whole words, and greetings count only at the start of the answer.
"""

from __future__ import annotations

import re

from ballsy.commands.base import LocalReply

REASON_UNSURE = "I'm not sure about that one."
REASON_UNAVAILABLE = "I can't reach my AI brain right now."
MIN_PERSON_ANSWER_WORDS = 4

_HEDGES = (
    r"i am not sure|i'm not sure|not sure|i do not know|i don't know|don't know|"
    r"i couldn't find|couldn't find|could not find|can't find|cannot find|unable to find|"
    r"not familiar|don't have (?:any |enough |specific |reliable )?information|"
    r"no (?:reliable )?information|unable to provide|beyond my knowledge|not available|"
    r"i don't have (?:specific|enough|access)|i do not have (?:specific|enough|access)|"
    r"i'm not aware|i am not aware|not aware of|knowledge cutoff|real-time|"
    r"can't browse|cannot browse|can't access|cannot access|as an ai|"
    r"i'm unable|i am unable|i can't help|i cannot help|could you clarify|can you clarify|"
    r"could you be more specific|did you mean|would you like|no idea"
)
_HEDGE = re.compile(rf"\b(?:{_HEDGES})\b")
_GREETING_START = re.compile(r"^(?:hello|hi there|hi|hey)\b")
_QUESTION_BACK = re.compile(r"\?\s*$")
_WORD = re.compile(r"\w+")
_SUBJECT_PREFIX = re.compile(r"^(?:who is|who was|what is)\s+")


def _plain(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold().replace("\u2019", "'")))


def is_uncertain(answer: str, *, subject: str, is_person: bool = False) -> bool:
    """True when a lookup answer should give way to a web search for `subject`.

    Uncertain: empty; hedging ("I'm not sure", "I don't know", "I couldn't find");
    opening with a greeting instead of facts; a question back; only repeating the
    subject; or, for people, fewer than four words.
    """
    text = answer.strip().casefold().replace("\u2019", "'")
    if not text:
        return True
    if _HEDGE.search(text) or _GREETING_START.match(text) or _QUESTION_BACK.search(text):
        return True
    if _plain(text) == _plain(_SUBJECT_PREFIX.sub("", subject.casefold())):
        return True
    return is_person and len(_WORD.findall(text)) < MIN_PERSON_ANSWER_WORDS


def search_fallback(subject: str, reason_text: str = "") -> LocalReply:
    """The reply that hands a question to a web search (the client opens it).

    `reason_text` is said first, e.g. `REASON_UNSURE` or `REASON_UNAVAILABLE`.
    """
    query = " ".join(subject.split())
    spoken = "Let me search the web for that." if query else "Let me open a web search."
    return LocalReply(
        text=f"{reason_text.strip()} {spoken}".strip(),
        family="search",
        action="search",
        data={"query": query},
    )


_SENTENCE_END = re.compile(r"[.!?…](?:[\"')\]]*)(?=\s)")


def first_sentence(text: str) -> str | None:
    """The first complete sentence of a reply still streaming, or None until one ends.

    A sentence ends at . ! ? or … followed by a space, once it has at least four words
    (so "Dr." or "St." does not end it); a shorter opening is judged with what follows.
    """
    for match in _SENTENCE_END.finditer(text):
        opening = text[: match.end()].strip()
        if len(_WORD.findall(opening)) >= MIN_PERSON_ANSWER_WORDS:
            return opening
    return None
