"""AI faults seen from the WebSocket: the real google-genai SDK against a scripted fake
Gemini server. Each failure gives the user a short true sentence and a web search within
its time bound, with the expected number of attempts, and the socket keeps serving."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.clients import new_user
from tests.fakes import FOREVER, Drop, Fail, FakeGemini, Raw, Reply

KEY = "AIzaSy-ws-fault-test-key-0123456789"
MODEL = "gemini-2.5-flash-lite"


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini(api_key=KEY, known_models={MODEL}) as server:
        yield server


@pytest.fixture
def client(
    make_client: Callable[..., TestClient], fake: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> TestClient:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
    return make_client(
        gemini_api_key=KEY,
        gemini_model=MODEL,
        # Room for a busy machine (a reply that succeeds must not time out), and still far
        # below the fake's stalls, which last for ever.
        ai_connect_timeout_seconds=2.0,
        ai_first_token_timeout_seconds=2.0,
        ai_total_timeout_seconds=5.0,
        ai_max_retries=2,
    )


def _turn(client: TestClient, command: str) -> tuple[list[dict[str, Any]], float]:
    """Run one streamed turn; return its messages and how long it took."""
    _user, auth = new_user(client)
    token = auth["Authorization"].split()[1]
    with client.websocket_connect("/ws/voice/faults") as ws:
        ws.send_json({"type": "hello", "token": token})
        ws.receive_json()
        started = time.perf_counter()
        ws.send_json({"type": "command", "command": command})
        messages = []
        for _ in range(50):
            messages.append(ws.receive_json())
            if messages[-1]["type"] in ("reply_end", "error"):
                break
        elapsed = time.perf_counter() - started
        ws.send_json({"command": "what is 7 times 8"})
        assert "56" in ws.receive_json()["data"]["response"]  # still serving
    return messages, elapsed


def _end(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m for m in messages if m["type"] == "reply_end")


def test_streamed_reply_arrives_in_deltas(client: TestClient, fake: FakeGemini) -> None:
    fake.script(
        Reply(chunks=["The sky ", "is blue ", "because of Rayleigh scattering."], chunk_delay=0.05)
    )
    messages, _ = _turn(client, "why is the sky blue")
    deltas = [m["text"] for m in messages if m["type"] == "reply_delta"]
    assert deltas == ["The sky ", "is blue ", "because of Rayleigh scattering."]
    assert _end(messages)["response"] == "The sky is blue because of Rayleigh scattering."
    body = fake.requests[0].json()
    assert "Ballsy" in str(body["systemInstruction"])


@pytest.mark.parametrize(
    ("steps", "requests", "bound", "phrase"),
    [
        ([Fail(503, times=3)], 3, 6.0, "can't reach"),
        ([Fail(429, times=3)], 3, 6.0, "busy"),
        ([Fail(503, times=1), Reply(chunks=["Recovered."])], 2, 6.0, None),
        ([Drop(times=3)], 3, 6.0, "can't reach"),
        ([Reply(head_delay=FOREVER)], 1, 6.0, "too long"),
        ([Reply(chunks=["Half an ", "answer"], stall_after=1)], 1, 9.0, "lost the AI"),
        ([Reply(chunks=["Half an ", "answer"], close_after=1)], 1, 6.0, "lost the AI"),
        ([Reply(chunks=["ok", "more"], malformed_after=1)], 1, 6.0, "lost the AI"),
        ([Raw(payloads=["{not json"])], 1, 6.0, "garbled"),
        ([Reply(chunks=[])], 1, 6.0, "nothing to say"),
    ],
    ids=[
        "503",
        "429",
        "retry-then-ok",
        "dropped",
        "stall-before-first-token",
        "stall-mid-stream",
        "closed-mid-stream",
        "malformed-chunk",
        "malformed-only",
        "empty",
    ],
)
def test_failures_are_spoken_briefly_with_a_search(
    client: TestClient,
    fake: FakeGemini,
    steps: list[Any],
    requests: int,
    bound: float,
    phrase: str | None,
) -> None:
    fake.script(*steps)
    messages, elapsed = _turn(client, "why do cats purr")
    end = _end(messages)
    # Bounded by the timeouts above plus generous slack: an unbounded stall never ends.
    assert elapsed < bound, f"took {elapsed:.2f}s"
    assert len(fake.requests) == requests
    if phrase is None:
        assert end["response"] == "Recovered." and end["action"] is None
    else:
        assert phrase in end["response"]
        assert end["action"] == "search"
        assert end["data"] == {"query": "why do cats purr"}


def test_safety_block_is_explained_without_retry(client: TestClient, fake: FakeGemini) -> None:
    fake.script(Reply(blocked="SAFETY"))
    messages, _ = _turn(client, "say something terrible")
    assert "can't answer that" in _end(messages)["response"]
    assert len(fake.requests) == 1


def test_unknown_model_is_a_configuration_error_not_a_loop(
    make_client: Callable[..., TestClient],
    fake: FakeGemini,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
    client = make_client(gemini_api_key=KEY, gemini_model="gemini-0-imaginary")
    messages, _ = _turn(client, "why do cats purr")
    assert "isn't set up correctly" in _end(messages)["response"]
    assert len(fake.requests) == 1
    assert any("GEMINI_MODEL" in str(getattr(r, "ai_detail", "")) for r in caplog.records)
    assert KEY not in caplog.text


def test_lookup_that_hedges_becomes_a_search(client: TestClient, fake: FakeGemini) -> None:
    fake.script(Reply(chunks=["I'm not sure who that is."]))
    messages, _ = _turn(client, "who is Zorblax Quintavian")
    end = _end(messages)
    assert end["action"] == "search"
    assert "search" in end["response"].lower()
    # Lookups stream like every answer; the search is offered after what was said.
    deltas = [m["text"] for m in messages if m["type"] == "reply_delta"]
    assert "".join(deltas) == "I'm not sure who that is."
    assert end["response"].startswith("I'm not sure who that is.")


def test_cancel_closes_the_providers_connection(client: TestClient, fake: FakeGemini) -> None:
    fake.script(Reply(chunks=[f"word{i} " for i in range(100)], chunk_delay=0.05))
    _user, auth = new_user(client)
    with client.websocket_connect("/ws/voice/c") as ws:
        ws.send_json({"type": "hello", "token": auth["Authorization"].split()[1]})
        ws.receive_json()
        ws.send_json({"type": "command", "command": "tell me a long story"})
        start = ws.receive_json()
        ws.receive_json()
        ws.send_json({"type": "cancel", "turn_id": start["turn_id"]})
        for _ in range(100):
            message = ws.receive_json()
            if message["type"] == "reply_end":
                break
        assert message["interrupted"] is True
    assert fake.wait_for_disconnect(timeout=2.0)
