"""Conversations through the API: list, open (with each reply's action), continue,
delete; each only by its owner. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.clients import new_user


@pytest.fixture
def client(make_client: Callable[..., TestClient], database_url: str) -> TestClient:
    return make_client(database_url)


def _say(client: TestClient, auth: dict[str, str], command: str) -> dict:
    response = client.post("/api/command", json={"command": command}, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def _conversations(client: TestClient, auth: dict[str, str]) -> list[dict]:
    response = client.get("/api/conversations", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["conversations"]


def test_open_a_conversation_with_its_links_then_continue_it(client: TestClient) -> None:
    _user, auth = new_user(client)
    _say(client, auth, "play lofi beats on youtube")
    _say(client, auth, "what is 7 times 8")
    first = _conversations(client, auth)[0]["conversation_id"]
    assert client.post("/api/conversations", headers=auth).status_code == 201
    _say(client, auth, "hello")

    listed = _conversations(client, auth)
    assert [c["title"] for c in listed] == ["hello", "play lofi beats on youtube"]
    assert [c["messages"] for c in listed] == [2, 4]

    opened = client.get(f"/api/conversations/{first}", headers=auth)
    assert opened.status_code == 200, opened.text
    messages = opened.json()["messages"]
    assert (messages[0]["role"], messages[0]["text"]) == ("user", "play lofi beats on youtube")
    reply = messages[1]
    # The link the page opened is kept with the reply, so a reload can show it again.
    assert reply["role"] == "assistant" and reply["action"] == "open_url"
    assert reply["data"]["url"].startswith("https://www.youtube.com/results?search_query=lofi")
    assert reply["source"] == "local"
    assert messages[0]["action"] is None  # the user's words carry no action
    assert "56" in messages[3]["text"]

    # Continue the older conversation: the next turn joins it, and it is listed first.
    resumed = client.post(f"/api/conversations/{first}/continue", headers=auth)
    assert resumed.status_code == 200 and resumed.json() == {"conversation_id": first}
    _say(client, auth, "plus 4")
    listed = _conversations(client, auth)
    assert listed[0]["conversation_id"] == first and listed[0]["messages"] == 6
    texts = [
        m["text"]
        for m in client.get(f"/api/conversations/{first}", headers=auth).json()["messages"]
    ]
    assert texts[-2] == "plus 4" and "60" in texts[-1]


def test_delete_removes_the_conversation_and_its_history(client: TestClient) -> None:
    user_id, auth = new_user(client)
    _say(client, auth, "what is 2 plus 2")
    kept = _conversations(client, auth)[0]["conversation_id"]
    client.post("/api/conversations", headers=auth)
    _say(client, auth, "what is 3 plus 3")
    doomed = _conversations(client, auth)[0]["conversation_id"]
    assert doomed != kept

    deleted = client.delete(f"/api/conversations/{doomed}", headers=auth)
    assert deleted.status_code == 204 and deleted.content == b""
    assert [c["conversation_id"] for c in _conversations(client, auth)] == [kept]
    history = client.get(f"/api/history/{user_id}", headers=auth).json()["history"]
    assert [h["command"] for h in history] == ["what is 2 plus 2"]
    again = client.get(f"/api/conversations/{doomed}", headers=auth)
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    assert client.delete(f"/api/conversations/{doomed}", headers=auth).status_code == 404


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("POST", "/continue"), ("DELETE", "")])
def test_another_users_conversation_is_unreachable(
    client: TestClient, method: str, suffix: str
) -> None:
    _a, a_auth = new_user(client)
    _b, b_auth = new_user(client)
    _say(client, a_auth, "remember the secret word pineapple")
    mine = _conversations(client, a_auth)[0]["conversation_id"]
    path = f"/api/conversations/{mine}{suffix}"

    as_b = client.request(method, path, headers=b_auth)
    assert as_b.status_code == 404 and as_b.json()["code"] == "not_found"
    assert "pineapple" not in as_b.text
    assert client.request(method, path).status_code == 401
    # A's conversation is untouched.
    body = client.get(f"/api/conversations/{mine}", headers=a_auth).json()
    assert body["messages"][0]["text"] == "remember the secret word pineapple"


@pytest.mark.parametrize("bad", ["0", "-1", "abc", str(2**40)])
def test_bad_conversation_ids_get_a_clear_error(client: TestClient, bad: str) -> None:
    _user, auth = new_user(client)
    response = client.get(f"/api/conversations/{bad}", headers=auth)
    assert response.status_code == 422
    assert response.json()["code"]


def test_theme_accepts_system(client: TestClient) -> None:
    user_id, auth = new_user(client)
    saved = client.put(f"/api/settings/{user_id}", json={"theme": "system"}, headers=auth)
    assert saved.status_code == 200 and saved.json()["settings"]["theme"] == "system"
    refused = client.put(f"/api/settings/{user_id}", json={"theme": "purple"}, headers=auth)
    assert refused.status_code == 422
