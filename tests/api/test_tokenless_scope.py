"""Tokenless clients at one address keep their memory to themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from ballsy.api.deps import SCOPE_COOKIE
from ballsy.wiring import Overrides
from tests.scripted_llm import Script, ScriptedLLM


def _say(ws: Any, command: str) -> str:
    ws.send_json({"command": command})
    message = ws.receive_json()
    assert message["type"] == "command_response", message
    return str(message["data"]["response"])


def test_two_sockets_with_one_client_id_share_no_arithmetic(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    with (
        client.websocket_connect("/ws/voice/1") as first,
        client.websocket_connect("/ws/voice/1") as second,
    ):
        assert "123000" in _say(first, "what is 123 times 1000")
        assert "123001" not in _say(second, "plus 1")
        assert "123001" in _say(first, "plus 1")  # the first socket still remembers


def test_two_sockets_share_no_ai_context(make_client: Callable[..., TestClient]) -> None:
    llm = ScriptedLLM(Script(chunks=["Sure."]))
    client = make_client(overrides=Overrides(llm=llm, use_llm_override=True))
    with (
        client.websocket_connect("/ws/voice/1") as first,
        client.websocket_connect("/ws/voice/1") as second,
    ):
        _say(first, "my secret word is pineapple")
        _say(second, "what was my secret word")
    later_prompt = str(llm.calls[-1])
    assert "pineapple" not in later_prompt


def test_http_clients_are_told_apart_by_their_scope_cookie(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    first = client.post("/api/command", json={"command": "what is 123 times 1000", "user_id": 1})
    assert "123000" in first.json()["response"]
    cookie = first.cookies.get(SCOPE_COOKIE)
    assert cookie and len(cookie) >= 16
    set_cookie = first.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie

    client.cookies.clear()  # another program at the same address, same legacy user_id
    other = client.post("/api/command", json={"command": "plus 1", "user_id": 1})
    assert "123001" not in other.json()["response"]

    client.cookies.clear()
    client.cookies.set(SCOPE_COOKIE, cookie)  # the first client, sending its cookie back
    again = client.post("/api/command", json={"command": "plus 1", "user_id": 1})
    assert "123001" in again.json()["response"]
    assert SCOPE_COOKIE not in again.cookies  # a valid cookie is not replaced
