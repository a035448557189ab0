"""Budgets that new sessions, reconnects and streamed audio used to reset or slip past.

Each test replays an attack through the real app (HTTP routes and the WebSocket
door): many sessions from one address, many reconnects, a long streamed recording,
clips longer than what is left of the speech budget.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ballsy.wiring import Overrides
from tests.clients import new_user
from tests.fakes.stt import RecordingSpeechToText
from tests.scripted_llm import ScriptedLLM

AI_QUESTION = "why is the sky blue in the afternoon"
ClientFactory = Callable[..., TestClient]


def from_address(address: str) -> dict[str, str]:
    """Headers of a request that came through one trusted proxy from `address`."""
    return {"X-Forwarded-For": address}


def limited(make_client: ClientFactory, **settings: Any) -> TestClient:
    return make_client(rate_limit_enabled=True, trusted_proxy_hops=1, **settings)


# --- sessions -------------------------------------------------------------------------


def test_new_sessions_are_limited_per_address(make_client: ClientFactory) -> None:
    client = limited(make_client, rate_limit_sessions_per_address_per_hour=3)
    statuses = [
        client.post("/api/session", headers=from_address("10.0.0.1")).status_code for _ in range(6)
    ]
    assert statuses == [201, 201, 201, 429, 429, 429]
    refused = client.post("/api/session", headers=from_address("10.0.0.1")).json()
    assert refused["code"] == "rate_limited" and refused["retry_after"] > 0
    # Another address in the same IPv6 /64 is the same subscriber; another /64 is not.
    assert client.post("/api/session", headers=from_address("10.0.0.2")).status_code == 201


def test_new_sessions_are_limited_per_instance(make_client: ClientFactory) -> None:
    client = limited(
        make_client,
        rate_limit_sessions_per_address_per_hour=100,
        rate_limit_sessions_per_instance_per_minute=4,
    )
    statuses = [
        client.post("/api/session", headers=from_address(f"10.0.1.{index}")).status_code
        for index in range(6)
    ]
    assert statuses == [201] * 4 + [429] * 2


def test_new_sessions_from_one_address_share_its_ai_budget(make_client: ClientFactory) -> None:
    """18 fresh users from one address used to get 3 AI replies each (54 in all)."""
    llm = ScriptedLLM()
    client = limited(
        make_client,
        rate_limit_ai_calls_per_user_per_hour=3,
        rate_limit_ai_calls_per_address_per_hour=5,
        rate_limit_sessions_per_address_per_hour=100,
        rate_limit_requests_per_minute=1000,
        overrides=Overrides(llm=llm, use_llm_override=True),
    )
    answered = 0
    for _ in range(18):
        response = client.post("/api/session", headers=from_address("10.0.0.1"))
        auth = {"Authorization": f"Bearer {response.json()['token']}", **from_address("10.0.0.1")}
        for _ in range(3):
            reply = client.post("/api/command", json={"command": AI_QUESTION}, headers=auth)
            assert reply.status_code in {200, 429}, reply.text
            answered += reply.status_code == 200
    assert answered == 5
    assert len(llm.calls) == 5
    # Another household keeps its own budget.
    _, auth = new_user(client)
    other = {**auth, **from_address("10.9.9.9")}
    assert (
        client.post("/api/command", json={"command": AI_QUESTION}, headers=other).status_code == 200
    )


def test_conversation_creation_is_limited_per_user(make_client: ClientFactory) -> None:
    client = limited(make_client, rate_limit_conversations_per_user_per_hour=3)
    _, auth = new_user(client)
    statuses = [client.post("/api/conversations", headers=auth).status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    listed = client.get("/api/conversations", headers=auth).json()["conversations"]
    assert len(listed) == 3


# --- WebSocket messages and connections -------------------------------------------------


def ping_once(client: TestClient, address: str, token: str | None = None) -> str:
    """Connect, optionally say hello with `token`, ping once; the answer's type or code."""
    with client.websocket_connect("/ws/voice/1", headers=from_address(address)) as ws:
        if token is not None:
            ws.send_json({"type": "hello", "token": token})
            hello = ws.receive_json()
            if hello["type"] != "hello":
                return str(hello.get("code"))
        ws.send_json({"type": "ping"})
        answer = ws.receive_json()
    return str(answer["type"] if answer["type"] != "error" else answer["code"])


def test_the_message_budget_outlives_reconnects(make_client: ClientFactory) -> None:
    """177 short connections used to get 60 messages each."""
    client = limited(
        make_client,
        rate_limit_ws_messages_per_minute=5,
        overrides=Overrides(llm=None, use_llm_override=True),
    )
    answers = [ping_once(client, "10.0.0.1") for _ in range(8)]
    assert answers == ["pong"] * 5 + ["rate_limited"] * 3
    assert ping_once(client, "10.0.0.2") == "pong"  # another address, its own budget


def test_a_signed_in_users_message_budget_follows_them_across_sockets_and_addresses(
    make_client: ClientFactory,
) -> None:
    client = limited(
        make_client,
        rate_limit_ws_messages_per_minute=6,
        overrides=Overrides(llm=None, use_llm_override=True),
    )
    response = client.post("/api/session", headers=from_address("10.0.0.1"))
    token = response.json()["token"]
    # Each connection costs two messages (hello, ping); the hello counts against the
    # address (the user is not known yet), the ping against the user.
    answers = [ping_once(client, f"10.0.2.{index}", token) for index in range(8)]
    assert answers == ["pong"] * 6 + ["rate_limited"] * 2


def test_messages_from_many_new_users_share_their_addresses_budget(
    make_client: ClientFactory,
) -> None:
    client = limited(
        make_client,
        rate_limit_ws_messages_per_minute=60,
        rate_limit_ws_messages_per_address_per_minute=8,
        rate_limit_sessions_per_address_per_hour=100,
        overrides=Overrides(llm=None, use_llm_override=True),
    )
    answers = []
    for _ in range(5):
        token = client.post("/api/session", headers=from_address("10.0.0.1")).json()["token"]
        answers.append(ping_once(client, "10.0.0.1", token))
    assert answers == ["pong"] * 4 + ["rate_limited"]


def test_open_sockets_are_capped_per_signed_in_user_and_per_address(
    make_client: ClientFactory,
) -> None:
    client = limited(
        make_client,
        rate_limit_ws_per_user=2,
        rate_limit_ws_per_address=3,
        rate_limit_sessions_per_address_per_hour=100,
        overrides=Overrides(llm=None, use_llm_override=True),
    )
    token = client.post("/api/session", headers=from_address("10.0.0.1")).json()["token"]
    other = client.post("/api/session", headers=from_address("10.0.0.1")).json()["token"]
    path, home = "/ws/voice/1", from_address("10.0.0.1")
    with (
        client.websocket_connect(path, headers=from_address("10.0.3.1")) as first,
        client.websocket_connect(path, headers=from_address("10.0.3.2")) as second,
        client.websocket_connect(path, headers=from_address("10.0.3.3")) as third,
    ):
        for ws in (first, second):
            ws.send_json({"type": "hello", "token": token})
            assert ws.receive_json()["type"] == "hello"
        third.send_json({"type": "hello", "token": token})  # the user's third, elsewhere
        refused = third.receive_json()
        assert refused["code"] == "rate_limited" and "at most 2" in refused["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            third.receive_json()
        assert closed.value.code == 1013

    # A household: three people on one address, the fourth socket is refused.
    with (
        client.websocket_connect(path, headers=home) as a,
        client.websocket_connect(path, headers=home) as b,
        client.websocket_connect(path, headers=home) as c,
    ):
        for ws, who in ((a, token), (b, other), (c, None)):
            ws.send_json({"type": "hello", "token": who})
            assert ws.receive_json()["type"] == "hello"
        with client.websocket_connect(path, headers=home) as d:
            refused = d.receive_json()
            assert refused["code"] == "rate_limited" and "your network" in refused["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                d.receive_json()
            assert closed.value.code == 1013


# --- speech -----------------------------------------------------------------------------


def speech_client(
    make_client: ClientFactory, stt: RecordingSpeechToText, **settings: Any
) -> TestClient:
    return limited(
        make_client,
        overrides=Overrides(stt=stt, use_stt_override=True, llm=None, use_llm_override=True),
        **settings,
    )


def test_speech_is_refused_before_the_model_runs(make_client: ClientFactory) -> None:
    """Four 59 s clips against 120 s an hour used to all be transcribed."""
    stt = RecordingSpeechToText(audio_seconds=59.0)
    client = speech_client(
        make_client, stt, rate_limit_stt_seconds_per_user_per_hour=120, stt_max_seconds=60
    )
    _, auth = new_user(client)
    statuses = []
    for _ in range(4):
        response = client.post(
            "/api/voice",
            files={"file": ("a.webm", b"\x1a\x45\xdf\xa3" * 64, "audio/webm")},
            headers=auth,
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 429, 429]
    assert len(stt.recordings) == 2  # the model never ran for the refused clips


def stream_recording(ws: Any, chunks: list[bytes]) -> None:
    ws.send_json({"type": "audio_start", "mime": "audio/webm;codecs=opus"})
    for chunk in chunks:
        ws.send_bytes(chunk)
    ws.send_json({"type": "audio_end"})


def receive_until(ws: Any, wanted: set[str], *, limit: int = 50) -> list[dict[str, Any]]:
    """Messages up to and including the first whose type (or error code) is wanted."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        message = ws.receive_json()
        seen.append(message)
        if message["type"] in wanted or message.get("code") in wanted:
            return seen
    raise AssertionError(f"none of {wanted} in {seen}")


def test_a_long_streamed_recording_is_paid_in_seconds_not_messages(
    make_client: ClientFactory,
) -> None:
    """25 s streamed as the page streams it, a chunk per 250 ms: 100 frames against a
    budget of 60 messages a minute used to lose 18 of them and transcribe the rest."""
    stt = RecordingSpeechToText(audio_seconds=25.0)
    client = speech_client(
        make_client,
        stt,
        rate_limit_ws_messages_per_minute=60,
        rate_limit_stt_seconds_per_user_per_hour=100,
        stt_max_seconds=60,
    )
    chunks = [os.urandom(700) for _ in range(100)]
    with client.websocket_connect("/ws/voice/1", headers=from_address("10.0.0.1")) as ws:
        stream_recording(ws, chunks)
        messages = receive_until(ws, {"reply_end", "error"})
        assert [m for m in messages if m["type"] == "error"] == []
        assert any(m["type"] == "transcript" for m in messages)
        assert stt.recordings == [(b"".join(chunks), "audio/webm;codecs=opus")]
        # 25 s were charged (60 reserved, 35 returned): 75 s left, enough to start one
        # more (25 s again: 50 left) and then no other, whatever the message budget says.
        stream_recording(ws, chunks[:4])
        assert receive_until(ws, {"reply_end", "error"})[-1]["type"] == "reply_end"
        ws.send_json({"type": "audio_start", "mime": "audio/webm"})
        refused = ws.receive_json()
        assert refused["code"] == "rate_limited" and "speech" in refused["message"]
        for chunk in chunks:  # the page keeps streaming until it reads the error
            ws.send_bytes(chunk)
        ws.send_json({"type": "audio_end"})
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # nothing else was said or transcribed
    assert len(stt.recordings) == 2


def test_a_refused_frame_fails_the_whole_recording(make_client: ClientFactory) -> None:
    stt = RecordingSpeechToText(audio_seconds=2.0)
    client = speech_client(make_client, stt, stt_max_bytes=4096, stt_max_seconds=5)
    with client.websocket_connect("/ws/voice/1", headers=from_address("10.0.0.1")) as ws:
        # Too many bytes: one too_large error, the rest of the recording is dropped.
        stream_recording(ws, [b"x" * 1000] * 8)
        refused = ws.receive_json()
        assert refused["code"] == "too_large" and "STT_MAX_BYTES" in refused["message"]
        # Too many frames (5 s x 20 a second = 100): the same.
        stream_recording(ws, [b"x"] * 150)
        refused = ws.receive_json()
        assert refused["code"] == "too_large" and "pieces" in refused["message"]
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
        # A recording within its limits still goes through afterwards.
        stream_recording(ws, [b"x"] * 10)
        assert receive_until(ws, {"reply_end", "error"})[-1]["type"] == "reply_end"
    assert [audio for audio, _ in stt.recordings] == [b"x" * 10]


def test_a_recording_abandoned_by_a_dropped_socket_gives_its_reservation_back(
    make_client: ClientFactory,
) -> None:
    stt = RecordingSpeechToText(audio_seconds=2.0)
    client = speech_client(
        make_client, stt, rate_limit_stt_seconds_per_user_per_hour=100, stt_max_seconds=60
    )
    for _ in range(3):  # each would hold 60 of the 100 s if nothing came back
        with client.websocket_connect("/ws/voice/1", headers=from_address("10.0.0.1")) as ws:
            ws.send_json({"type": "audio_start", "mime": "audio/webm"})
            ws.send_bytes(b"x" * 100)
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}  # the recording was admitted
    with client.websocket_connect("/ws/voice/1", headers=from_address("10.0.0.1")) as ws:
        stream_recording(ws, [b"x" * 100])
        assert receive_until(ws, {"reply_end", "error"})[-1]["type"] == "reply_end"
    assert len(stt.recordings) == 1  # the abandoned ones never reached the model
