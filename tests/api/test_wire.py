"""One wire layer: errors mean the same over HTTP and the WebSocket, every server message
is built by the protocol module, each turn is answered once, and clients learn the limits."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from ballsy.api import ws_protocol as proto
from ballsy.api.errors import error_body, to_error
from ballsy.errors import RateLimited

WS_MODULE = Path(__file__).resolve().parents[2] / "src" / "ballsy" / "api" / "ws.py"


def test_errors_mean_the_same_over_http_and_the_socket() -> None:
    lost = OperationalError("SELECT 1", {}, ConnectionResetError("connection reset"))
    for exc, code, status in (
        (lost, "database_unavailable", 503),
        (TimeoutError(), "database_unavailable", 503),
        (RuntimeError("a bug"), "internal_error", 500),
        (RateLimited("Slow down.", retry_after=2.5), "rate_limited", 429),
    ):
        error = to_error(exc)
        assert (error.code, error.status) == (code, status)
        assert proto.error(error) == {"type": "error", **error_body(error)}
    assert "bug" not in to_error(RuntimeError("a bug")).message  # internals stay inside


def test_the_socket_module_builds_no_message_itself() -> None:
    tree = ast.parse(WS_MODULE.read_text())
    literals = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        and any(isinstance(k, ast.Constant) and k.value == "type" for k in node.keys)
    ]
    assert literals == [], f"message dicts built in ws.py at lines {literals}"


def test_streaming_clients_get_reply_end_only_and_legacy_clients_command_response_only(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    with client.websocket_connect("/ws/voice/1") as ws:
        ws.send_json({"type": "command", "command": "what is 6 times 7"})
        seen = [ws.receive_json() for _ in range(2)]
        assert [m["type"] for m in seen] == ["reply_start", "reply_end"]
        assert "42" in seen[1]["response"]
        ws.send_json({"command": "what is 6 times 8"})
        legacy = ws.receive_json()
        assert legacy["type"] == "command_response" and "48" in legacy["data"]["response"]
        ws.send_json({"type": "ping"})  # nothing else was queued before the pong
        assert ws.receive_json() == {"type": "pong"}


def test_capabilities_name_the_limits_a_client_needs(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(
        ws_max_frame_bytes=32 * 1024,
        stt_max_bytes=2 * 1024 * 1024,
        stt_max_seconds=30,
        max_command_chars=500,
        max_body_bytes=4 * 1024 * 1024,
    )
    caps = client.get("/api/capabilities").json()
    assert caps["max_frame_bytes"] == 32 * 1024
    assert caps["max_audio_bytes"] == 2 * 1024 * 1024
    assert caps["max_audio_seconds"] == 30
    assert caps["max_command_chars"] == 500
    assert caps["max_request_bytes"] == 4 * 1024 * 1024
    # Ballsy's own voice is off here (make_client's default): the client is told so, and
    # why, and speaks with the browser's voices.
    voice = caps["voice"]
    assert voice["available"] is False
    assert "TTS_ENABLED=false" in voice["reason"]
    assert voice["sample_rate"] is None and voice["formats"] == [] and voice["name"] == ""
