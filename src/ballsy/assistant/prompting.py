"""What the AI is asked, and what the user hears when it cannot answer.

The persona is one configurable system prompt (settings `AI_SYSTEM_PROMPT`). The
context is the user's last turns from the database, newest kept first when the
character cap bites. Every failure maps to a short, true sentence plus the
original's `search` action, so the page can offer a web search.
"""

from __future__ import annotations

from ballsy.assistant.recall import prompt_section
from ballsy.commands.base import LocalReply, NeedsAI
from ballsy.commands.hedging import REASON_UNAVAILABLE, REASON_UNSURE, search_fallback
from ballsy.providers.llm.base import ChatMessage

LOOKUP_INSTRUCTION = (
    "Answer in one short spoken sentence. If you do not know, say you are not sure."
)


class PromptBuilder:
    def __init__(self, *, system_prompt: str, context_max_chars: int) -> None:
        self.system_prompt = system_prompt
        self.context_max_chars = context_max_chars

    def build(
        self, need: NeedsAI, history: list[tuple[str, str]], memories: list[str] | None = None
    ) -> list[ChatMessage]:
        """System persona (with the remembered facts chosen for this command, see
        assistant/recall.py), then recent turns (within the cap), then the new command."""
        kept: list[tuple[str, str]] = []
        budget = self.context_max_chars
        for user_text, reply in reversed(history):
            cost = len(user_text) + len(reply)
            if cost > budget:
                break
            kept.append((user_text, reply))
            budget -= cost
        system = self.system_prompt
        if memories:
            system = f"{system}\n\n{prompt_section(memories)}"
        messages = [ChatMessage("system", system)]
        for user_text, reply in reversed(kept):
            messages.append(ChatMessage("user", user_text))
            messages.append(ChatMessage("assistant", reply))
        prompt = need.prompt
        if need.kind == "lookup":
            prompt = f"{need.prompt}\n\n({LOOKUP_INSTRUCTION})"
        messages.append(ChatMessage("user", prompt))
        return messages


def cut_off(heard: str) -> str:
    """A reply the user interrupted, as the next AI turn sees it: what they heard, and
    that the rest was never heard (so the AI neither repeats it nor assumes it)."""
    if not heard:
        return "[The user interrupted before hearing any of this reply.]"
    return f"{heard} [The user interrupted here; they did not hear the rest of this reply.]"


# What the user hears before the web search is offered, by failure kind.
_REASONS = {
    "timeout": "The AI is taking too long to answer.",
    "rate_limited": "The AI is busy right now.",
    "unavailable": REASON_UNAVAILABLE,
    "bad_response": "The AI sent me something garbled.",
    "config": "The AI isn't set up correctly.",
    "empty": "The AI had nothing to say about that.",
    "uncertain": REASON_UNSURE,
}


def fallback_for(kind: str, need: NeedsAI, *, partial: str) -> LocalReply:
    """The reply when the AI fails (or hedges on a lookup): a true sentence and a search."""
    if kind == "blocked":
        return LocalReply("I can't answer that one, sorry.", family=need.family)
    if kind == "not_configured":
        return not_configured_reply(need)
    reason = _REASONS.get(kind, REASON_UNAVAILABLE)
    if partial:
        reason = f"{partial} … Sorry, I lost the AI mid-answer."
    return search_fallback(need.subject, reason)


def not_configured_reply(need: NeedsAI) -> LocalReply:
    """Honest answer on a fresh laptop with no AI provider set up."""
    return search_fallback(
        need.subject,
        "I answer that kind of question with an AI model, and none is set up yet: set "
        "GEMINI_API_KEY, or OPENAI_BASE_URL and OPENAI_MODEL for a local model.",
    )
