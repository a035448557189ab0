"""Rate limits through the real app: HTTP 429, WebSocket warnings then 1008, AI budget."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

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
