"""WebSocket fuzzing: whatever a client sends, the socket answers or closes properly,
never crashes or drops silently, and the server keeps serving others."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.websockets import WebSocketDisconnect

from ballsy.app import create_app
from ballsy.config import Settings

KNOWN_TYPES = {
    "command_response",
    "status_update",
    "error",
    "hello",
    "pong",
    "reply_start",
    "reply_delta",
    "reply_end",
    "transcript",
}
KNOWN_CODES = {
    "bad_request",
    "unauthorized",
    "too_large",
    "rate_limited",
    "busy",
    "feature_unavailable",
    "invalid_audio",
    "no_speech",
    "audio_too_long",
    "provider_unavailable",
    "stt_unavailable",
    "database_unavailable",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
message_types = st.sampled_from(
    ["command", "hello", "cancel", "ping", "audio_start", "audio_end", "status", "unknown", ""]
)
shaped = st.fixed_dictionaries(
    {"type": message_types},
    optional={
        "command": json_values,
        "token": json_values,
        "timezone": json_values,
        "turn_id": json_values,
        "mime": json_values,
        "status": json_values,
    },
)
legacy = st.fixed_dictionaries({"command": json_values}) | st.fixed_dictionaries(
    {"status": json_values}
)
frames = st.one_of(
    st.text(max_size=300).map(lambda t: ("text", t)),
    st.binary(max_size=300).map(lambda b: ("bytes", b)),
    json_values.map(lambda v: ("text", json.dumps(v))),
    shaped.map(lambda v: ("text", json.dumps(v))),
    legacy.map(lambda v: ("text", json.dumps(v))),
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("wsfuzz")
    settings_ = Settings(
        _env_file=None,
        environment="test",
        data_dir=root,  # type: ignore[call-arg]
        stt_enabled=False,
        rate_limit_enabled=False,
        log_level="WARNING",
        ws_max_frame_bytes=4096,
        trusted_hosts="testserver",
    )
    with TestClient(create_app(settings_)) as test_client:
        yield test_client


def _until_pong(ws: Any) -> list[dict[str, Any]]:
    """Messages received up to and including the pong (bounded)."""
    seen: list[dict[str, Any]] = []
    for _ in range(20):
        message = ws.receive_json()
        seen.append(message)
        if message.get("type") == "pong":
            return seen
    raise AssertionError(f"no pong after 20 messages: {seen}")


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(frames, min_size=1, max_size=5))
def test_any_frames_get_answers_and_the_socket_survives(
    client: TestClient, batch: list[tuple[str, Any]]
) -> None:
    with client.websocket_connect("/ws/voice/fuzz") as ws:
        for kind, payload in batch:
            if kind == "text":
                ws.send_text(payload)
            else:
                ws.send_bytes(payload)
        ws.send_text('{"type": "audio_end"}')  # leave any recording the batch started
        ws.send_text('{"type": "ping"}')
        for message in _until_pong(ws):
            assert isinstance(message, dict)
            assert message.get("type") in KNOWN_TYPES, message
            if message["type"] == "error":
                assert message["code"] in KNOWN_CODES, message
                assert isinstance(message["message"], str) and message["message"]


@settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(size=st.integers(min_value=4097, max_value=50_000), binary=st.booleans())
def test_oversize_frames_close_with_1009_and_others_are_served(
    client: TestClient, size: int, binary: bool
) -> None:
    with client.websocket_connect("/ws/voice/big") as ws:
        if binary:
            ws.send_bytes(b"x" * size)
        else:
            ws.send_text("x" * size)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1009
    with client.websocket_connect("/ws/voice/other") as ws:
        ws.send_json({"command": "hello"})
        assert ws.receive_json()["type"] == "command_response"


def test_fuzzing_left_the_server_healthy(
    client: TestClient, make_settings: Callable[..., Settings]
) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200
    response = client.post("/api/command", json={"command": "hello"})
    assert response.status_code == 200
