"""The WebSocket door: streaming order, cancel, bad frames, duplicate client ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ballsy.db.models import CommandHistory
from ballsy.wiring import Overrides
from tests.clients import new_user
from tests.scripted_llm import Script, ScriptedLLM


def _client(
    make_client: Callable[..., TestClient], llm: ScriptedLLM | None, **settings: Any
) -> TestClient:
    return make_client(overrides=Overrides(llm=llm, use_llm_override=True), **settings)


def _hello(ws: Any, token: str | None) -> None:
    ws.send_json({"type": "hello", "token": token, "timezone": "Europe/Paris"})
    assert ws.receive_json()["type"] == "hello"


def _token(auth: dict[str, str]) -> str:
    return auth["Authorization"].split()[1]


def test_ai_reply_streams_in_order_and_ends_once(
    make_client: Callable[..., TestClient],
) -> None:
    llm = ScriptedLLM(Script(chunks=["Rainbows ", "come from ", "light."]))
    client = _client(make_client, llm)
    _user, auth = new_user(client)
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        _hello(ws, _token(auth))
        ws.send_json({"type": "command", "command": "tell me a fun fact about rainbows"})
        start = ws.receive_json()
        assert start["type"] == "reply_start" and start["source"] == "ai"
        deltas = [ws.receive_json() for _ in range(3)]
        assert [d["type"] for d in deltas] == ["reply_delta"] * 3
        assert "".join(d["text"] for d in deltas) == "Rainbows come from light."
        assert {d["turn_id"] for d in deltas} == {start["turn_id"]}
        end = ws.receive_json()
        assert end == {
            "type": "reply_end",
            "turn_id": start["turn_id"],
            "response": "Rainbows come from light.",
            "action": None,
            "data": None,
            "source": "ai",
            "interrupted": False,
            "family": "chat",
            "model": llm.model,
        }
        # A reply Ballsy gives itself names no model; each reply comes once (no
        # command_response repeats it to a streaming client).
        ws.send_json({"type": "command", "command": "hello"})
        assert ws.receive_json()["source"] == "local"
        end = ws.receive_json()
        assert (end["type"], end["family"], end["model"]) == ("reply_end", "greeting", None)
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    # The persona and the command reached the provider.
    assert llm.calls[0][0].role == "system"
    assert llm.calls[0][-1].content == "tell me a fun fact about rainbows"


def test_cancel_stops_the_reply_and_the_ai_call(make_client: Callable[..., TestClient]) -> None:
    llm = ScriptedLLM(Script(chunks=[f"word{i} " for i in range(50)], delay=0.05))
    client = _client(make_client, llm)
    _user, auth = new_user(client)
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        _hello(ws, _token(auth))
        ws.send_json({"type": "command", "command": "tell me a very long story"})
        start = ws.receive_json()
        first = ws.receive_json()
        assert first["type"] == "reply_delta"
        ws.send_json({"type": "cancel", "turn_id": start["turn_id"]})
        seen = []
        for _ in range(60):  # deltas already in flight may arrive before the end
            message = ws.receive_json()
            seen.append(message["type"])
            if message["type"] == "reply_end":
                break
        assert message["interrupted"] is True
        assert message["response"].startswith("word0")
        assert "command_response" not in seen
        # The socket still serves.
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    assert llm.cancelled.is_set()
    assert llm.completed == 0

    async def stored() -> CommandHistory:
        services = client.app.state.services  # type: ignore[attr-defined]
        async with services.sessions() as session:
            return (await session.execute(select(CommandHistory))).scalar_one()

    row = client.portal.call(stored)  # type: ignore[union-attr]
    assert row.interrupted is True
    assert row.result is not None and row.result.startswith("word0")


def test_a_new_command_barges_in_on_the_old_reply(make_client: Callable[..., TestClient]) -> None:
    llm = ScriptedLLM(Script(chunks=[f"w{i} " for i in range(40)], delay=0.05))
    client = _client(make_client, llm)
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        ws.send_json({"type": "command", "command": "tell me a long story"})
        ws.receive_json()
        ws.receive_json()
        ws.send_json({"type": "command", "command": "hello"})
        types = []
        for _ in range(80):
            message = ws.receive_json()
            types.append((message["type"], message.get("interrupted")))
            if message["type"] == "reply_end" and not message["interrupted"]:
                break
        assert ("reply_end", True) in types
        assert message["response"]
        assert all(kind != "command_response" for kind, _ in types)
    assert llm.cancelled.is_set()


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        "42",
        '"text"',
        "null",
        '{"type": "dance"}',
        '{"command": 5}',
        '{"command": ""}',
        '{"type": "command", "command": ["x"]}',
        '{"status": "sleeping"}',
        '{"type": "hello", "token": 12}',
        '{"type": "hello", "timezone": "Mars/Olympus"}',
        '{"type": "audio_end"}',
    ],
)
def test_malformed_frames_get_a_coded_error_and_the_socket_stays(
    make_client: Callable[..., TestClient], frame: str
) -> None:
    client = _client(make_client, None)
    with client.websocket_connect("/ws/voice/x") as ws:
        ws.send_text(frame)
        error = ws.receive_json()
        assert error["type"] == "error"
        assert error["code"] == "bad_request"
        assert error["message"]
        ws.send_json({"command": "hello"})
        assert ws.receive_json()["type"] == "command_response"


def test_binary_outside_audio_and_overlong_commands(make_client: Callable[..., TestClient]) -> None:
    client = _client(make_client, None)
    with client.websocket_connect("/ws/voice/x") as ws:
        ws.send_bytes(b"\x00\x01binary")
        assert ws.receive_json()["code"] == "bad_request"
        ws.send_json({"command": "a" * 1001})
        error = ws.receive_json()
        assert error["code"] == "bad_request" and "1000" in error["message"]
        ws.send_text('{"type": "hello", "token": "not-a-token"}')
        assert ws.receive_json()["code"] == "unauthorized"
        ws.send_json({"command": "hello"})
        assert ws.receive_json()["type"] == "command_response"


def test_oversize_frame_closes_with_1009(make_client: Callable[..., TestClient]) -> None:
    from starlette.websockets import WebSocketDisconnect

    client = _client(make_client, None, ws_max_frame_bytes=4096)
    with client.websocket_connect("/ws/voice/x") as ws:
        ws.send_text('{"command": "' + "a" * 5000 + '"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1009
    # The server still serves everyone else.
    with client.websocket_connect("/ws/voice/y") as ws:
        ws.send_json({"command": "hello"})
        assert ws.receive_json()["type"] == "command_response"


def test_duplicate_client_ids_never_see_each_others_replies(
    make_client: Callable[..., TestClient],
) -> None:
    client = _client(make_client, None)
    with (
        client.websocket_connect("/ws/voice/same") as first,
        client.websocket_connect("/ws/voice/same") as second,
    ):
        first.send_json({"command": "what is 2 times 3"})
        second.send_json({"command": "what is 7 times 8"})
        one = first.receive_json()["data"]["response"]
        two = second.receive_json()["data"]["response"]
        assert "6" in one and "56" not in one
        assert "56" in two
        first.send_json({"type": "ping"})
        second.send_json({"type": "ping"})
        assert first.receive_json() == {"type": "pong"}
        assert second.receive_json() == {"type": "pong"}


def test_idle_socket_is_closed_with_a_close_frame(make_client: Callable[..., TestClient]) -> None:
    from starlette.websockets import WebSocketDisconnect

    client = _client(make_client, None, ws_idle_timeout_seconds=0.3)
    with (
        client.websocket_connect("/ws/voice/idle") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 1000


def test_cross_site_origin_is_refused(make_client: Callable[..., TestClient]) -> None:
    from starlette.websockets import WebSocketDisconnect

    client = _client(make_client, None, cors_origins="https://ballsy.example.com")
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(
            "/ws/voice/x", headers={"Origin": "https://evil.example.net"}
        ) as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 1008
    with client.websocket_connect(
        "/ws/voice/x", headers={"Origin": "https://ballsy.example.com"}
    ) as ws:
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_ai_failure_falls_back_to_search_and_keeps_serving(
    make_client: Callable[..., TestClient],
) -> None:
    llm = ScriptedLLM(Script(chunks=["a"], fail_with="unavailable", fail_after=0))
    client = _client(make_client, llm)
    with client.websocket_connect("/ws/voice/x") as ws:
        ws.send_json({"command": "why is the sky blue"})
        reply = ws.receive_json()["data"]
        assert reply["action"] == "search"
        assert reply["data"] == {"query": "why is the sky blue"}
        assert "search" in reply["response"].lower()
        ws.send_json({"command": "hello"})
        assert ws.receive_json()["type"] == "command_response"
    assert len(llm.calls) == 1  # the provider was asked once; the fallback needed no retry
