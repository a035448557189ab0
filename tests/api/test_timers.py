"""Timers, alarms and reminders through the doors: set over the WebSocket, fired on every
socket of their owner and no one else's, announced on the next connection when no page was
open, listed and cancelled over REST (owner only), and the wake-up route's authorisation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from ballsy.assistant.timers import NEEDS_SESSION
from tests.clients import new_user

DEADLINE_S = 60.0


def _token(auth: dict[str, str]) -> str:
    return auth["Authorization"].split()[1]


def _hello(ws: Any, auth: dict[str, str], timezone: str = "Europe/London") -> None:
    ws.send_json({"type": "hello", "token": _token(auth), "timezone": timezone})
    assert ws.receive_json()["type"] == "hello"


def _command(ws: Any, text: str) -> dict[str, Any]:
    """Send a streamed command; the reply_end (skipping reply_start)."""
    ws.send_json({"type": "command", "command": text})
    while True:
        message = ws.receive_json()
        if message["type"] == "reply_end":
            return message  # type: ignore[no-any-return]
        assert message["type"] in ("reply_start", "reply_delta"), message


def _nothing_else(ws: Any) -> None:
    """Messages on a socket keep their order: a pong first means nothing came before it."""
    ws.send_json({"type": "ping"})
    assert ws.receive_json() == {"type": "pong"}


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_a_timer_fires_on_every_socket_of_its_user_and_no_other(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(database_url)
    _owner, auth = new_user(client)
    _other, other_auth = new_user(client)
    with (
        client.websocket_connect("/ws/voice/phone") as phone,
        client.websocket_connect("/ws/voice/laptop") as laptop,
        client.websocket_connect("/ws/voice/stranger") as stranger,
    ):
        _hello(phone, auth)
        _hello(laptop, auth)
        _hello(stranger, other_auth)
        reply = _command(phone, "set a pasta timer for 2 seconds")
        assert reply["response"] == "Pasta timer set for 2 seconds."
        assert (reply["family"], reply["action"]) == ("timer", "timer_set")
        timer_id = reply["data"]["id"]
        # Blocking reads: each returns when the timer fires (pytest-timeout bounds them).
        on_phone, on_laptop = phone.receive_json(), laptop.receive_json()
        for fired in (on_phone, on_laptop):
            assert fired["type"] == "timer_fired"
            assert (fired["id"], fired["kind"], fired["label"]) == (timer_id, "timer", "pasta")
            assert fired["text"] == "Time's up! Your pasta timer is done."
            assert fired["late"] is False
        _nothing_else(stranger)
        _nothing_else(phone)  # once per socket
        _nothing_else(laptop)
    assert client.get("/api/timers", headers=auth).json() == {"timers": []}


def test_a_reminder_due_while_no_page_was_open_is_announced_on_the_next_connection(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(database_url)
    _user, auth = new_user(client)
    reply = client.post(
        "/api/command",
        headers=auth,
        json={"command": "remind me in 1 second to stretch", "timezone": "Europe/London"},
    ).json()
    assert reply["response"].startswith("OK, I'll remind you at") and "stretch" in reply["response"]
    # Fired (claimed by the server's scheduler) with no page open to hear it.
    _wait_until(
        lambda: client.get("/api/timers", headers=auth).json()["timers"] == [], "the reminder"
    )
    with client.websocket_connect("/ws/voice/later") as ws:
        _hello(ws, auth)
        announced = ws.receive_json()
        assert announced["type"] == "timer_fired" and announced["kind"] == "reminder"
        assert announced["late"] is True
        assert announced["text"].startswith("While you were away, a reminder for")
        assert announced["text"].endswith(": stretch.")
        _nothing_else(ws)
    with client.websocket_connect("/ws/voice/again") as ws:  # announced once
        _hello(ws, auth)
        _nothing_else(ws)


def test_voice_commands_list_ask_and_cancel(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(database_url)
    _user, auth = new_user(client)

    def say(text: str) -> str:
        body = {"command": text, "timezone": "Europe/London"}
        response = client.post("/api/command", headers=auth, json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["response"])

    assert say("set a pasta timer for 8 minutes") == "Pasta timer set for 8 minutes."
    assert say("a 20 minute timer") == "Timer set for 20 minutes."
    assert say("set an alarm for 6:30 am").startswith("Alarm set for 6:30 AM")
    assert say("remind me to call Mum at 11:59 pm").endswith(": call Mum.")
    assert say("how much time is left on the pasta timer").endswith("left on your pasta timer.")
    assert say("what timers do i have").startswith("You have 2 timers: pasta timer")
    assert say("what are my reminders").startswith("You have 1 reminder: call Mum at 11:59 PM")
    assert say("cancel my timer").startswith("You have 2 timers")  # which one?
    assert say("cancel the pasta timer") == "Cancelled your pasta timer."
    assert say("cancel the pasta timer") == "You have no timer matching 'pasta'."
    assert say("cancel my alarm").startswith("Cancelled your alarm for 6:30 AM")
    listed = client.get("/api/timers", headers=auth).json()["timers"]
    assert [(t["kind"], t["label"]) for t in listed] == [("timer", None), ("reminder", "call Mum")]
    assert listed[0]["description"].startswith("20 minute timer, ")


def test_timers_are_listed_and_cancelled_by_their_owner_only(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(database_url)
    _owner, auth = new_user(client)
    _other, other_auth = new_user(client)
    client.post("/api/command", headers=auth, json={"command": "set a timer for 10 minutes"})
    (item,) = client.get("/api/timers", headers=auth).json()["timers"]
    assert (item["kind"], item["seconds"], item["timezone"]) == ("timer", 600, "UTC")
    assert client.get("/api/timers", headers=other_auth).json() == {"timers": []}
    assert client.delete(f"/api/timers/{item['id']}", headers=other_auth).status_code == 404
    assert client.delete(f"/api/timers/{item['id']}").status_code == 401
    assert len(client.get("/api/timers", headers=auth).json()["timers"]) == 1
    assert client.delete(f"/api/timers/{item['id']}", headers=auth).status_code == 204
    assert client.delete(f"/api/timers/{item['id']}", headers=auth).status_code == 404
    assert client.get("/api/timers", headers=auth).json() == {"timers": []}
    assert client.get("/api/timers").status_code == 401


def test_tokenless_callers_are_told_timers_need_a_session(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    reply = client.post("/api/command", json={"command": "set a timer for 5 minutes"})
    assert reply.status_code == 200 and reply.json()["response"] == NEEDS_SESSION
    with client.websocket_connect("/ws/voice/legacy") as ws:
        ws.send_json({"command": "remind me in an hour to stretch"})
        assert ws.receive_json()["data"]["response"] == NEEDS_SESSION


def test_the_wake_route_needs_its_token_and_is_absent_without_one(
    make_client: Callable[..., TestClient],
) -> None:
    closed = make_client()
    assert closed.post("/internal/due").status_code == 404
    assert closed.post("/internal/due", headers={"Authorization": "Bearer x"}).status_code == 404
    client = make_client(wake_token="s3cret-wake-token")
    assert client.post("/internal/due").status_code == 401
    wrong = {"Authorization": "Bearer s3cret-wake-tokeN"}
    assert client.post("/internal/due", headers=wrong).json()["code"] == "unauthorized"
    basic = {"Authorization": "Basic s3cret-wake-token"}
    assert client.post("/internal/due", headers=basic).status_code == 401
    right = {"Authorization": "Bearer s3cret-wake-token"}
    response = client.post("/internal/due", headers=right)
    assert response.status_code == 200
    assert response.json() == {"claimed": 0, "delivered": 0}
