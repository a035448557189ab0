"""The legacy API's shapes, exactly, for legacy-style requests."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from ballsy.wiring import Overrides
from tests.clients import new_user


def _shape(value: object) -> object:
    """The JSON shape: keys and value types, not values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def test_rest_command_matches_the_legacy_shape(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    plain = client.post("/api/command", json={"command": "hello", "user_id": 1}).json()
    assert _shape(plain) == {"response": "str", "action": "NoneType", "data": "NoneType"}
    opened = client.post("/api/command", json={"command": "open youtube"}).json()
    assert set(opened) == {"response", "action", "data"}
    assert opened["action"] == "open_url"
    assert set(opened["data"]) >= {"url", "description"}


def test_websocket_legacy_messages_match_exactly(make_client: Callable[..., TestClient]) -> None:
    client = make_client(overrides=Overrides(llm=None, use_llm_override=True))
    with client.websocket_connect("/ws/voice/1") as ws:
        ws.send_json({"command": "hello"})
        reply = ws.receive_json()
        assert _shape(reply) == {
            "type": "str",
            "data": {"response": "str", "action": "NoneType", "data": "NoneType"},
        }
        assert reply["type"] == "command_response"
        ws.send_json({"status": "listening"})
        assert ws.receive_json() == {"type": "status_update", "status": "ready"}
        ws.send_json({"something": "else"})
        error = ws.receive_json()
        assert error["type"] == "error" and isinstance(error["message"], str)
        # Legacy clients see no streaming messages: the next frame is their reply.
        ws.send_json({"command": "tell me something interesting"})
        reply = ws.receive_json()
        assert reply["type"] == "command_response"
        assert reply["data"]["action"] == "search"


def test_history_and_settings_keep_the_legacy_shapes(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    user_id, auth = new_user(client)
    client.post("/api/command", json={"command": "hello"}, headers=auth)
    history = client.get(f"/api/history/{user_id}?limit=10", headers=auth).json()
    assert _shape(history) == {
        "history": [
            {"id": "int", "user_id": "int", "command": "str", "result": "str", "timestamp": "str"}
        ]
    }
    settings = client.get(f"/api/settings/{user_id}", headers=auth).json()
    assert settings == {
        "settings": {
            "user_id": user_id,
            "voice": "Daniel",
            "voice_speed": 180,
            "theme": "light",
            "timezone": None,
        }
    }
    updated = client.put(f"/api/settings/{user_id}", json={"voice_speed": 200}, headers=auth).json()
    assert updated["settings"]["voice_speed"] == 200


def test_bad_requests_get_stable_codes(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    cases = [
        ({"command": ""}, 422),
        ({"command": "   "}, 422),
        ({"command": "x" * 1001}, 422),
        ({"command": 12}, 422),
        ({"command": None}, 422),
        ({}, 422),
        ({"command": "hi", "user_id": "abc"}, 422),
        ({"command": "hi", "timezone": "Not/AZone"}, 422),
    ]
    for body, status in cases:
        response = client.post("/api/command", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["code"] == "bad_request"
        assert response.json()["message"]
    not_json = client.post(
        "/api/command", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    assert not_json.json()["code"] == "bad_request"
