"""The long-term memory's tools for the AI: remember, recall, forget.

Facts the user states in passing ("I'm allergic to peanuts, what should I cook?") reach
the memory through these: the model proposes `remember` with the fact in the user's
words. Every handler acts for `ToolContext.user_id` only, so the model can never read or
delete another user's memory, whatever arguments it sends.
"""

from __future__ import annotations

from typing import Any

from ballsy.assistant.recall import LongTermMemory
from ballsy.assistant.tools import Tool, ToolContext, ToolError, ToolResult
from ballsy.commands.memory import second_person
from ballsy.db.models import MEMORY_MAX_CHARS
from ballsy.errors import BallsyError


def _text_argument(arguments: dict[str, Any], name: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"`{name}` must be a non-empty string.")
    if len(value) > MEMORY_MAX_CHARS:
        raise ToolError(f"`{name}` is longer than {MEMORY_MAX_CHARS} characters.")
    return value


def _user(context: ToolContext) -> int:
    if context.user_id is None:
        raise ToolError("Only a signed-in user has a memory.")
    return context.user_id


def memory_tools(memory: LongTermMemory) -> list[Tool]:
    """The memory's tools; none when the memory cannot run (the extra missing)."""
    if not memory.available:
        return []

    async def remember(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        fact = _text_argument(arguments, "fact")
        try:
            stored, text = await memory.remember(_user(context), fact)
        except BallsyError as exc:
            raise ToolError(exc.message) from exc
        if not stored:
            return ToolResult(f"Already remembered: {text}")
        return ToolResult(
            f"Remembered: {text} (tell the user you will remember that {second_person(text)})"
        )

    async def recall(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        query = _text_argument(arguments, "query")
        found = await memory.recall(_user(context), query, limit=5)
        relevant = [f for f in found if f.score >= memory.options.min_score]
        if not relevant:
            return ToolResult("Nothing remembered about that.")
        return ToolResult("\n".join(f"- {f.text}" for f in relevant))

    async def forget(context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        query = _text_argument(arguments, "query")
        gone = await memory.forget_matching(_user(context), query)
        if gone is None:
            return ToolResult("Nothing close enough to that is remembered; nothing deleted.")
        return ToolResult(f"Forgotten: {gone}")

    return [
        Tool(
            name="remember",
            description=(
                "Store a lasting fact the user has stated about themselves, the people in "
                "their life or their preferences (names, birthdays, allergies, likes), so "
                "it can be used in later conversations. Use the user's own words, one fact "
                "per call; never store questions, passing moods, or secrets such as "
                "passwords."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "fact": {
                        "type": "string",
                        "description": "The fact, e.g. 'My sister is called Alice'.",
                    }
                },
                "required": ["fact"],
            },
            handler=remember,
            needs_user=True,
        ),
        Tool(
            name="recall",
            description=(
                "Look up what the user asked you to remember, by meaning. The most "
                "relevant facts are already in the system prompt; use this for anything "
                "else."
            ),
            parameters={
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What to look for."}},
                "required": ["query"],
            },
            handler=recall,
            needs_user=True,
        ),
        Tool(
            name="forget",
            description=(
                "Delete the remembered fact closest in meaning to `query`, when the user "
                "asks you to forget something."
            ),
            parameters={
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What to forget."}},
                "required": ["query"],
            },
            handler=forget,
            needs_user=True,
        ),
    ]
