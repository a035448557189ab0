"""/metrics exposes the series operators watch, after real traffic."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from ballsy.wiring import Overrides
from tests.clients import new_user
from tests.scripted_llm import Script, ScriptedLLM


def test_metrics_after_traffic(make_client: Callable[..., TestClient]) -> None:
    llm = ScriptedLLM(Script(chunks=["Hi ", "there."]))
    client = make_client(overrides=Overrides(llm=llm, use_llm_override=True))
    _user_id, auth = new_user(client)
    client.post("/api/command", json={"command": "hello"}, headers=auth)
    client.post("/api/command", json={"command": "tell me a joke"}, headers=auth)
    with client.websocket_connect("/ws/voice/m") as ws:
        ws.send_json({"command": "what is 2 times 3"})
        ws.receive_json()
        text = client.get("/metrics").text  # while the socket is open
    failing = ScriptedLLM(Script(fail_with="timeout", fail_after=0))
    client.app.state.services.assistant.llm = failing  # type: ignore[attr-defined]
    client.post("/api/command", json={"command": "tell me another joke"}, headers=auth)
    after = client.get("/metrics").text

    assert (
        'ballsy_http_request_duration_seconds_count{method="POST",route="/api/command",'
        'status="200"}' in after
    )
    assert "ballsy_websocket_connections 1.0" in text
    assert 'ballsy_websocket_messages_total{direction="in",type="text"} 1.0' in text
    assert 'ballsy_commands_total{family="greeting",source="local"} 1.0' in after
    assert 'ballsy_commands_total{family="chat",source="ai"}' in after
    assert 'ballsy_ai_time_to_first_token_seconds_count{provider="scripted"} 1.0' in after
    assert 'ballsy_ai_tokens_total{direction="output",provider="scripted"} 2.0' in after
    assert 'ballsy_ai_failures_total{kind="timeout",provider="scripted"} 1.0' in after
    assert 'ballsy_turn_duration_seconds_count{source="local"}' in after
    assert 'ballsy_db_pool_connections{state="checked_out"}' in after
    assert "ballsy_stt_duration_seconds" in after
    assert "ballsy_rate_limit_refusals_total" in after


def test_metrics_token_protects_the_endpoint(make_client: Callable[..., TestClient]) -> None:
    client = make_client(metrics_token="scrape-token-123")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain")


def test_metrics_can_be_switched_off(make_client: Callable[..., TestClient]) -> None:
    client = make_client(metrics_enabled=False)
    assert client.get("/metrics").status_code == 404


def test_turn_latency_is_recorded_per_turn(make_client: Callable[..., TestClient]) -> None:
    from sqlalchemy import select

    from ballsy.db.models import CommandHistory

    client = make_client()
    _user_id, auth = new_user(client)
    client.post("/api/command", json={"command": "what time is it"}, headers=auth)

    async def rows() -> list[CommandHistory]:
        services = client.app.state.services  # type: ignore[attr-defined]
        async with services.sessions() as session:
            return list((await session.execute(select(CommandHistory))).scalars())

    (row,) = client.portal.call(rows)  # type: ignore[union-attr]
    assert row.source == "local" and row.family == "time"
    assert row.first_text_ms is not None and row.total_ms is not None
    assert 0 <= row.first_text_ms <= row.total_ms
