"""Rate limits through the real app: HTTP 429, WebSocket warnings then 1008, AI budget."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ballsy.providers.llm.base import (
    ChatMessage,
    GenerationParams,
    LLMProvider,
    ReplyStats,
    ToolCall,
    ToolSpec,
)
from ballsy.wiring import Overrides
from tests.clients import new_user
from tests.scripted_llm import ScriptedLLM

AI_QUESTION = "why is the sky blue in the afternoon"


def test_http_429_has_retry_after_and_the_stable_body(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(rate_limit_enabled=True, rate_limit_requests_per_minute=2)
    answers = [
        client.post(
            "/api/command",
            json={"command": "hello", "user_id": index + 1},
            headers={"X-Forwarded-For": f"10.0.0.{index}"},  # forged; no trusted hops
        )
        for index in range(3)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    refused = answers[2]
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert "Try again" in body["message"]
    assert 25 < body["retry_after"] <= 30  # one request per 30 s
    assert 25 <= int(refused.headers["retry-after"]) <= 30


def test_websocket_flood_gets_warnings_then_close_1008(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(
        rate_limit_enabled=True,
        rate_limit_ws_messages_per_minute=2,
        overrides=Overrides(llm=None, use_llm_override=True),
    )
    received: list[dict[str, object]] = []
    with client.websocket_connect("/ws/voice/1") as ws:
        for _ in range(10):
            ws.send_json({"type": "ping"})
        with pytest.raises(WebSocketDisconnect) as closed:
            for _ in range(10):
                received.append(ws.receive_json())
    assert closed.value.code == 1008
    assert [message["type"] for message in received[:2]] == ["pong", "pong"]
    warnings = received[2:]
    assert warnings and all(message["code"] == "rate_limited" for message in warnings)
    assert all(float(str(message["retry_after"])) > 0 for message in warnings)


def test_the_ai_provider_is_not_called_once_the_users_ai_budget_is_spent(
    make_client: Callable[..., TestClient],
) -> None:
    llm = ScriptedLLM()
    client = make_client(
        rate_limit_enabled=True,
        rate_limit_ai_calls_per_user_per_hour=2,
        overrides=Overrides(llm=llm, use_llm_override=True),
    )
    _, auth = new_user(client)
    statuses = [
        client.post("/api/command", json={"command": AI_QUESTION}, headers=auth).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 429, 429]
    assert len(llm.calls) == 2


class SearchesInEveryRound(LLMProvider):
    """Asks for a web search whenever tools are offered, then answers in words: the most
    provider requests one turn can make (1 + AI_TOOL_MAX_ROUNDS)."""

    name = "scripted-rounds"
    model = "scripted-rounds-1"

    def __init__(self) -> None:
        self.requests = 0

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
        self.requests += 1
        if tools:
            yield ToolCall(f"call-{self.requests}", "search", {"query": "sky colour"})
            return
        yield "Blue light scatters most."


def test_a_turn_costs_one_ai_call_however_many_tool_rounds_it_takes(
    make_client: Callable[..., TestClient],
) -> None:
    """The AI budget counts the user's commands, not the provider requests the model
    chooses to make: users can predict the first, not the second. The provider sees at
    most 1 + AI_TOOL_MAX_ROUNDS requests per charged turn (README, .env.example)."""
    llm = SearchesInEveryRound()
    client = make_client(
        rate_limit_enabled=True,
        rate_limit_ai_calls_per_user_per_hour=2,
        ai_tool_max_rounds=3,
        overrides=Overrides(llm=llm, use_llm_override=True),
    )
    _, auth = new_user(client)
    answers = [
        client.post("/api/command", json={"command": AI_QUESTION}, headers=auth) for _ in range(3)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[0].json()["response"] == "Blue light scatters most."
    assert llm.requests == 2 * (1 + 3)  # two paid turns, four provider requests each


def test_a_new_legacy_user_id_does_not_buy_a_fresh_ai_budget(
    make_client: Callable[..., TestClient],
) -> None:
    llm = ScriptedLLM()
    client = make_client(
        rate_limit_enabled=True,
        rate_limit_ai_calls_per_user_per_hour=2,
        overrides=Overrides(llm=llm, use_llm_override=True),
    )
    statuses = [
        client.post("/api/command", json={"command": AI_QUESTION, "user_id": index + 1}).status_code
        for index in range(4)
    ]
    assert statuses == [200, 200, 429, 429]
    assert len(llm.calls) == 2
