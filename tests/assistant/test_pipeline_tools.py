"""Function calling inside the pipeline: a tool that reads a user's data answers a
signed-in user and is refused to a tokenless caller, and the turn's stored reply is
the model's spoken answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from ballsy.assistant.events import TextDelta, TurnEnded
from ballsy.assistant.identity import Identity
from ballsy.assistant.tools import Tool, ToolBox, ToolContext, ToolResult
from ballsy.config import Settings
from ballsy.providers.llm.base import (
    ChatMessage,
    GenerationParams,
    LLMProvider,
    ReplyStats,
    ToolCall,
    ToolSpec,
)
from tests.assistant.test_pipeline import Rig, _events, _rig


class CallsThenSpeaks(LLMProvider):
    """Calls `notes` once, then says what the tool returned."""

    name = "scripted-tools"
    model = "scripted-tools-1"

    def __init__(self) -> None:
        self.offered: list[list[str]] = []

    async def stream(  # type: ignore[override]
        self, messages: Sequence[ChatMessage], params: GenerationParams, stats: ReplyStats
    ) -> AsyncIterator[str]:
        yield "unused"

    async def stream_with_tools(  # type: ignore[override]
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stats: ReplyStats,
        tools: Sequence[ToolSpec],
    ) -> AsyncIterator[str | ToolCall]:
        self.offered.append([t.name for t in tools])
        results = [m for m in messages if m.role == "tool"]
        if not results:
            yield ToolCall("c1", "notes", {})
            return
        yield "Your notes: "
        yield results[-1].content


async def _notes(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    return ToolResult(f"notes of user {ctx.user_id}")


@pytest.fixture
async def rig(make_settings: Callable[..., Settings], database_url: str) -> AsyncIterator[Rig]:
    """Once on SQLite, once on PostgreSQL (marked `postgres`)."""
    async for value in _rig(make_settings(), database_url):
        yield value


async def test_a_user_tool_answers_a_user_and_is_refused_to_a_tokenless_caller(rig: Rig) -> None:
    box = ToolBox()
    box.add(Tool("notes", "the user's notes", {"type": "object"}, _notes, needs_user=True))
    llm = CallsThenSpeaks()
    assistant = rig.build(llm=llm, tools=box)
    user_id = await rig.new_user()

    events = await _events(assistant, Identity.user(user_id), "read me my notes")
    ended = events[-1]
    assert isinstance(ended, TurnEnded)
    assert ended.response == f"Your notes: notes of user {user_id}"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == ended.response
    assert [(row.result, row.source) for row in await rig.history(user_id)] == [
        (ended.response, "ai")
    ]
    assert llm.offered == [["notes"], ["notes"]]

    tokenless = Identity.tokenless("c", "203.0.113.9", connection="x")
    *_, refused = await _events(assistant, tokenless, "read me my notes")
    assert isinstance(refused, TurnEnded)
    assert refused.response == (
        "Your notes: Not available: this needs a signed-in user, and this client has no account."
    )
