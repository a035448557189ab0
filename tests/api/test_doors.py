"""What the doors refuse before any work: oversize ids, chunked bodies over the limit,
control characters, the schema in production, and a bare metrics token."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from ballsy.app import create_app
from ballsy.config import Settings
from ballsy.wiring import Overrides
from tests.clients import new_user
from tests.scripted_llm import Script, ScriptedLLM

OPERATOR = {"X-API-Key": "op-key-1234567890"}
HUGE = 2**63  # one past the largest BIGINT


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/history/{HUGE}", None),
        ("GET", f"/api/settings/{HUGE}", None),
        ("PUT", f"/api/settings/{HUGE}", {"theme": "dark"}),
        ("GET", f"/api/history/{10**30}", None),
        ("POST", "/api/command", {"command": "hello", "user_id": HUGE}),
        ("POST", "/api/command", {"command": "hello", "user_id": -(2**63) - 1}),
    ],
)
def test_ids_beyond_a_bigint_are_refused_not_a_crash(
    make_client: Callable[..., TestClient], method: str, path: str, body: dict | None
) -> None:
    client = make_client(operator_api_keys="op-key-1234567890")
    response = client.request(method, path, json=body, headers=OPERATOR)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "bad_request"


def test_voice_user_id_beyond_a_bigint_is_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(operator_api_keys="op-key-1234567890")
    response = client.post(
        f"/api/voice?user_id={HUGE}", files={"file": ("a.wav", b"RIFF", "audio/wav")}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "bad_request"


def test_largest_bigint_id_is_just_not_found(make_client: Callable[..., TestClient]) -> None:
    client = make_client(operator_api_keys="op-key-1234567890")
    response = client.get(f"/api/history/{2**63 - 1}", headers=OPERATOR)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_chunked_body_over_the_limit_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=4096)

    def chunks(head: bytes, tail: bytes) -> Iterator[bytes]:
        yield head
        for _ in range(10):
            yield b"a" * 1024
        yield tail

    json_body = (b'{"command": "', b'"}', "application/json")
    form_body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n",
        b"\r\n--b--\r\n",
        "multipart/form-data; boundary=b",
    )
    for path, (head, tail, kind) in (("/api/command", json_body), ("/api/voice", form_body)):
        response = client.post(path, content=chunks(head, tail), headers={"Content-Type": kind})
        assert "content-length" not in response.request.headers
        assert response.status_code == 413, (path, response.text)
        assert response.json()["code"] == "too_large"
        assert response.headers["x-content-type-options"] == "nosniff"
    # A small chunked body is read as usual.
    small = client.post(
        "/api/command",
        content=iter([b'{"command": ', b'"hello"}']),
        headers={"Content-Type": "application/json"},
    )
    assert small.status_code == 200


def test_production_serves_neither_docs_nor_schema(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        environment="production",
        database_url="postgresql://ballsy@127.0.0.1:1/never",
        metrics_token="metrics-token-value",
        stt_enabled=False,
    )
    client = TestClient(create_app(settings))  # no lifespan: nothing touches the database
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404
    development = TestClient(create_app(make_settings(stt_enabled=False)))
    assert development.get("/openapi.json").status_code == 200


def test_metrics_token_needs_the_bearer_scheme(make_client: Callable[..., TestClient]) -> None:
    client = make_client(metrics_token="scrape-token-123")
    assert client.get("/metrics", headers={"Authorization": "scrape-token-123"}).status_code == 401
    basic = client.get("/metrics", headers={"Authorization": "Basic scrape-token-123"})
    assert basic.status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "bearer scrape-token-123"})
    assert ok.status_code == 200


NUL_COMMANDS = ["what is 2 plus 2\x00", "tell me\x00 a joke", "hi\x1b[31m", "\x07tell me a story"]


@pytest.mark.parametrize("command", NUL_COMMANDS)
def test_control_characters_are_refused_before_any_ai_call(
    make_client: Callable[..., TestClient], database_url: str, command: str
) -> None:
    llm = ScriptedLLM(Script(chunks=["never ", "sent"]))
    client = make_client(database_url, overrides=Overrides(llm=llm, use_llm_override=True))
    user_id, auth = new_user(client)
    response = client.post("/api/command", json={"command": command}, headers=auth)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "bad_request"
    with client.websocket_connect("/ws/voice/nul") as ws:
        ws.send_json({"type": "hello", "token": auth["Authorization"].split()[1]})
        assert ws.receive_json()["type"] == "hello"
        ws.send_json({"type": "command", "command": command})
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == "bad_request"
        assert "control characters" in error["message"]
        ws.send_json({"type": "command", "command": "hello"})  # the socket keeps serving
        types = [ws.receive_json()["type"] for _ in range(2)]
        assert types == ["reply_start", "reply_end"]
    assert llm.calls == []
    history = client.get(f"/api/history/{user_id}", headers=auth).json()["history"]
    assert [h["command"] for h in history] == ["hello"]
    assert client.get("/ready").status_code == 200


def test_tabs_and_newlines_are_plain_text(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    response = client.post("/api/command", json={"command": "what is 2\tplus\n2\r"})
    assert response.status_code == 200
    assert "4" in response.json()["response"]


def test_settings_with_control_characters_are_refused(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(database_url)
    user_id, auth = new_user(client)
    for body in ({"voice": "Dan\x00iel"}, {"timezone": "Europe/Paris\x00"}):
        response = client.put(f"/api/settings/{user_id}", json=body, headers=auth)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "bad_request"
    stored = client.get(f"/api/settings/{user_id}", headers=auth).json()["settings"]
    assert stored["voice"] != "Dan\x00iel"
