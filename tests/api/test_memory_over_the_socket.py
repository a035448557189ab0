"""Long-term memory through the whole service: the WebSocket door, the configured
services (wiring), the real google-genai SDK against the fake Gemini server, and
SQLite and PostgreSQL. What the AI received is the fake's recorded request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.clients import new_user
from tests.fakes import FakeGemini, Reply

KEY = "AIzaSy-memory-test-key-0123456789abc"
MODEL = "gemini-2.5-flash-lite"


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini(api_key=KEY, known_models={MODEL}) as server:
        yield server


@pytest.fixture
def client(
    make_client: Callable[..., TestClient],
    fake: FakeGemini,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> TestClient:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
    return make_client(
        database_url,
        gemini_api_key=KEY,
        gemini_model=MODEL,
        ai_total_timeout_seconds=20.0,
        ai_first_token_timeout_seconds=10.0,
    )


def _say(client: TestClient, token: str, command: str) -> dict[str, Any]:
    with client.websocket_connect("/ws/voice/memory") as ws:
        ws.send_json({"type": "hello", "token": token})
        ws.receive_json()
        ws.send_json({"type": "command", "command": command})
        for _ in range(50):
            message = ws.receive_json()
            if message["type"] in ("reply_end", "error"):
                return message
    raise AssertionError("no reply_end")


def _system_prompt(fake: FakeGemini) -> str:
    return str(fake.requests[-1].json().get("systemInstruction"))


def test_a_remembered_fact_reaches_its_owners_ai_prompts_only(
    client: TestClient, fake: FakeGemini
) -> None:
    _, alice_auth = new_user(client)
    _, bob_auth = new_user(client)
    alice = alice_auth["Authorization"].split()[1]
    bob = bob_auth["Authorization"].split()[1]

    end = _say(client, alice, "Remember that my sister is called Alice")
    assert end["response"] == "Got it. I'll remember that your sister is called Alice."
    assert fake.requests == []  # remembered locally, no AI call

    fake.script(Reply(chunks=["Your sister is Alice."]), Reply(chunks=["I don't know."]))
    _say(client, alice, "What's my sibling's name?")
    assert "my sister is called Alice" in _system_prompt(fake)
    _say(client, bob, "What's my sibling's name?")
    assert "Alice" not in _system_prompt(fake)

    listed = _say(client, bob, "What do you remember about me?")
    assert listed["response"].startswith("I don't remember anything about you yet")

    gone = _say(client, alice, "Forget everything")
    assert gone["response"] == "Done. I've forgotten the one thing you told me to remember."
    fake.script(Reply(chunks=["I don't know."]))
    _say(client, alice, "What's my sibling's name?")
    assert "Alice" not in _system_prompt(fake)
