"""What the AI is asked, and what the user hears when it cannot answer.

The persona is one configurable system prompt (settings `AI_SYSTEM_PROMPT`). The
context is the user's last turns from the database, newest kept first when the
character cap bites. Every failure maps to a short, true sentence plus the
original's `search` action, so the page can offer a web search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ballsy.commands.base import NeedsAI
from ballsy.providers.llm.base import ChatMessage

LOOKUP_INSTRUCTION = (
    "Answer in one short spoken sentence. If you do not know, say you are not sure."
)


@dataclass(frozen=True, slots=True)
class Fallback:
    text: str
    action: str | None
    data: dict[str, Any] | None


class PromptBuilder:
    def __init__(self, *, system_prompt: str, context_max_chars: int) -> None:
        self.system_prompt = system_prompt
        self.context_max_chars = context_max_chars

    def build(self, need: NeedsAI, history: list[tuple[str, str]]) -> list[ChatMessage]:
        """System persona, then recent turns (within the cap), then the new command."""
        kept: list[tuple[str, str]] = []
        budget = self.context_max_chars
        for user_text, reply in reversed(history):
            cost = len(user_text) + len(reply)
            if cost > budget:
                break
            kept.append((user_text, reply))
            budget -= cost
        messages = [ChatMessage("system", self.system_prompt)]
        for user_text, reply in reversed(kept):
            messages.append(ChatMessage("user", user_text))
            messages.append(ChatMessage("assistant", reply))
        prompt = need.prompt
        if need.kind == "lookup":
            prompt = f"{need.prompt}\n\n({LOOKUP_INSTRUCTION})"
        messages.append(ChatMessage("user", prompt))
        return messages


def _search(subject: str) -> dict[str, Any]:
    return {"query": subject}


_FAILURE_TEXT = {
    "timeout": "The AI is taking too long to answer, so let me search the web for that instead.",
    "rate_limited": "The AI is busy right now, so let me search the web for that instead.",
    "unavailable": "I can't reach the AI right now, so let me search the web for that.",
    "bad_response": "The AI sent me something garbled, so let me search the web for that.",
    "config": "The AI isn't set up correctly, so let me search the web for that instead.",
    "empty": "The AI had nothing to say about that, so let me search the web for it.",
    "uncertain": "I'm not sure about that one. Let me search the web for it.",
}


def fallback_for(kind: str, need: NeedsAI, *, partial: str) -> Fallback:
    """The reply when the AI fails (or hedges on a lookup)."""
    if kind == "blocked":
        return Fallback("I can't answer that one, sorry.", None, None)
    if kind == "not_configured":
        return not_configured_reply(need)
    sentence = _FAILURE_TEXT.get(kind, _FAILURE_TEXT["unavailable"])
    if partial:
        sentence = f"{partial} … Sorry, I lost the AI mid-answer. Here's a web search instead."
    return Fallback(sentence, "search", _search(need.subject))


def not_configured_reply(need: NeedsAI) -> Fallback:
    """Honest answer on a fresh laptop with no AI provider set up."""
    return Fallback(
        "I answer that kind of question with an AI model, and none is set up yet: set "
        "GEMINI_API_KEY, or OPENAI_BASE_URL and OPENAI_MODEL for a local model. "
        "Here's a web search instead.",
        "search",
        _search(need.subject),
    )
