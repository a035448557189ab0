"""Cutting streamed text into sentences, so each is spoken as soon as it is complete.

A sentence ends at `.`, `!`, `?` or `…` (or a line break) followed by white space; the
end of the reply ends the last one. A full stop after a single capital or a common
abbreviation ("Dr.", "e.g.") or between digits ("3.14") does not end a sentence.
"""

from __future__ import annotations

import re

_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n+")
_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "prof",
        "sr",
        "jr",
        "no",
        "approx",
        "a.m",
        "p.m",
    }
)


class SentenceSplitter:
    """Feed text as it streams in; complete sentences come out in order."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> list[str]:
        self._pending += text
        sentences: list[str] = []
        start = 0
        for match in _END.finditer(self._pending):
            candidate = self._pending[start : match.start()].strip()
            if not candidate or _looks_unfinished(candidate):
                continue
            sentences.append(candidate)
            start = match.end()
        self._pending = self._pending[start:]
        return sentences

    def flush(self) -> list[str]:
        """The rest, once the reply is over."""
        rest, self._pending = self._pending.strip(), ""
        return [rest] if rest else []


def _looks_unfinished(candidate: str) -> bool:
    """A full stop that ends an abbreviation or an initial rather than a sentence."""
    if not candidate.endswith("."):
        return False
    last = candidate.rsplit(None, 1)[-1].rstrip(".").lower()
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())
