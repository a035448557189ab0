"""Every user-scoped route checks ownership; tokenless requests reach nobody's data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.clients import new_user

USER_ROUTES = [
    ("GET", "/api/history/{id}", None),
    ("GET", "/api/settings/{id}", None),
    ("PUT", "/api/settings/{id}", {"theme": "dark"}),
]


@pytest.fixture
def two_users(
    make_client: Callable[..., TestClient], database_url: str
) -> tuple[TestClient, int, dict[str, str], int, dict[str, str]]:
    client = make_client(database_url)
    a_id, a_auth = new_user(client)
    b_id, b_auth = new_user(client)
    client.put(
        f"/api/settings/{a_id}", json={"voice": "Alice", "timezone": "Asia/Tokyo"}, headers=a_auth
    )
    client.post("/api/command", json={"command": "what is 7 times 8"}, headers=a_auth)
    return client, a_id, a_auth, b_id, b_auth


@pytest.mark.parametrize(("method", "template", "body"), USER_ROUTES)
def test_other_users_data_is_unreachable(
    two_users: tuple, method: str, template: str, body: dict | None
) -> None:
    client, a_id, a_auth, _b_id, b_auth = two_users
    path = template.format(id=a_id)
    as_b = client.request(method, path, json=body, headers=b_auth)
    assert as_b.status_code == 404
    assert as_b.json()["code"] == "not_found"
    assert "Alice" not in as_b.text and "7 times 8" not in as_b.text
    anonymous = client.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorized"
    forged = client.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
    assert forged.status_code == 401
    # A's data is unchanged and still A's.
    settings = client.get(f"/api/settings/{a_id}", headers=a_auth).json()["settings"]
    assert settings["voice"] == "Alice" and settings["theme"] == "light"


def test_own_data_is_reachable(two_users: tuple) -> None:
    client, a_id, a_auth, _b_id, _b_auth = two_users
    history = client.get(f"/api/history/{a_id}", headers=a_auth).json()["history"]
    assert [h["command"] for h in history] == ["what is 7 times 8"]
    assert "56" in history[0]["result"]


def test_conversations_are_per_user(two_users: tuple) -> None:
    client, _a_id, a_auth, _b_id, b_auth = two_users
    a_list = client.get("/api/conversations", headers=a_auth).json()["conversations"]
    b_list = client.get("/api/conversations", headers=b_auth).json()["conversations"]
    assert len(a_list) == 1 and a_list[0]["messages"] == 2
    assert b_list == []
    assert client.get("/api/conversations").status_code == 401


def test_tokenless_requests_cannot_reach_a_user(two_users: tuple) -> None:
    client, a_id, a_auth, _b_id, _b_auth = two_users
    # The tokenless client claims to be user A: it gets answers, but in its own scope.
    reply = client.post("/api/command", json={"command": "+ 6", "user_id": a_id})
    assert reply.status_code == 200
    assert "62" not in reply.json()["response"]
    client.post("/api/command", json={"command": "what is 2 times 3", "user_id": a_id})
    history = client.get(f"/api/history/{a_id}", headers=a_auth).json()["history"]
    assert [h["command"] for h in history] == ["what is 7 times 8"]
    # The socket door behaves the same way.
    with client.websocket_connect(f"/ws/voice/{a_id}") as ws:
        ws.send_json({"command": "+ 6"})
        message = ws.receive_json()
        assert message["type"] == "command_response"
        assert "62" not in message["data"]["response"]


def test_operator_key_acts_for_a_user(make_client: Callable[..., TestClient]) -> None:
    client = make_client(operator_api_keys="op-key-1234567890")
    user_id, _auth = new_user(client)
    headers = {"X-API-Key": "op-key-1234567890"}
    assert client.get(f"/api/settings/{user_id}", headers=headers).status_code == 200
    assert client.get("/api/settings/999999", headers=headers).status_code == 404
    bad = client.get(f"/api/settings/{user_id}", headers={"X-API-Key": "wrong"})
    assert bad.status_code == 401
    reply = client.post(
        "/api/command", json={"command": "hello", "user_id": user_id}, headers=headers
    )
    assert reply.status_code == 200
    assert len(client.get(f"/api/history/{user_id}", headers=headers).json()["history"]) == 1
