"""Two instances on one PostgreSQL: each due item fires exactly once (one instance claims
it), and reaches the user's pages on both instances, each page once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.clients import new_user

ITEMS = 6


def _fired_count(client: TestClient) -> float:
    metrics = client.app.state.services.metrics  # type: ignore[attr-defined]
    return float(metrics.timers_fired._value.get())


@pytest.mark.postgres
def test_each_item_fires_once_across_two_instances_and_reaches_pages_on_both(
    make_client: Callable[..., TestClient], postgres_url: str
) -> None:
    instances = [make_client(postgres_url), make_client(postgres_url)]
    _user, auth = new_user(instances[0])
    token = auth["Authorization"].split()[1]
    sockets: list[Any] = []
    try:
        for index, client in enumerate(instances):
            ws = client.websocket_connect(f"/ws/voice/page-{index}").__enter__()
            sockets.append(ws)
            ws.send_json({"type": "hello", "token": token, "timezone": "Europe/Paris"})
            assert ws.receive_json()["type"] == "hello"
        # Half the items are set through each instance, all due within a couple of seconds.
        ids: set[int] = set()
        for n in range(ITEMS):
            client = instances[n % 2]
            body = {"command": f"set a timer called t{n} for 2 seconds"}
            reply = client.post("/api/command", headers=auth, json=body).json()
            assert reply["action"] == "timer_set", reply
            ids.add(reply["data"]["id"])
        for ws in sockets:
            got = [ws.receive_json() for _ in range(ITEMS)]  # blocking: each fires
            assert {m["type"] for m in got} == {"timer_fired"}
            assert {m["id"] for m in got} == ids  # every item, each once
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}  # and nothing more
    finally:
        for ws in sockets:
            ws.__exit__(None, None, None)
    # Exactly once: the instances' claims add up to the number of items...
    assert sum(_fired_count(client) for client in instances) == ITEMS
    engine = create_engine(make_url(postgres_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT fired_by, delivered_at FROM timers WHERE id = ANY(:ids)"),
                {"ids": list(ids)},
            ).all()
    finally:
        engine.dispose()
    # ...and each row names the one instance that fired it, and was shown on a page.
    instance_ids = {client.app.state.due.instance for client in instances}  # type: ignore[attr-defined]
    assert len(rows) == ITEMS
    assert all(fired_by in instance_ids and delivered for fired_by, delivered in rows)
