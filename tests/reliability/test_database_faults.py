"""PostgreSQL stopped and restarted under load: clear errors during the outage, full
recovery after, and no acknowledged turn lost. Runs on a throwaway server."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.clients import new_user
from tests.pg import ThrowawayPostgres

COMMANDS = ["hello", "what is 7 times 8", "what time is it", "how are you"]


def _until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not seen within {seconds} s: {what}"
        time.sleep(0.05)  # poll interval


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_outage_mid_load(
    make_client: Callable[..., TestClient], throwaway_postgres: ThrowawayPostgres
) -> None:
    client = make_client(
        throwaway_postgres.url(), db_connect_timeout_seconds=1.0, db_pool_timeout_seconds=1.0
    )
    users = [new_user(client) for _ in range(4)]
    acknowledged: Counter[int] = Counter()
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    phase = {"name": "before"}
    by_phase: dict[str, Counter[int]] = {
        "before": Counter(),
        "outage": Counter(),
        "after": Counter(),
        "done": Counter(),
    }
    lock = threading.Lock()
    stop_at = time.monotonic() + 60  # hard bound on the whole load

    def worker(index: int) -> None:
        user_id, auth = users[index]
        turn = 0
        while time.monotonic() < stop_at and phase["name"] != "done":
            response = client.post(
                "/api/command", headers=auth, json={"command": COMMANDS[turn % len(COMMANDS)]}
            )
            turn += 1
            with lock:
                statuses[response.status_code] += 1
                by_phase[phase["name"]][response.status_code] += 1
                if response.status_code == 200:
                    acknowledged[user_id] += 1
                else:
                    codes[response.json()["code"]] += 1
            time.sleep(0.01)

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(worker, i) for i in range(4)]
        try:
            # Each phase lasts until what it is for has been seen (bounded), not a set time.
            _until(lambda: by_phase["before"][200] >= 8, "turns answered before the outage")
            phase["name"] = "outage"
            throwaway_postgres.stop("immediate")
            _until(lambda: by_phase["outage"][503] >= 4, "turns refused during the outage")
            throwaway_postgres.start()
            throwaway_postgres.wait_until_up()
            phase["name"] = "after"
            _until(lambda: by_phase["after"][200] >= 40, "turns answered after the outage")
        finally:
            phase["name"] = "done"  # the workers stop, even when a phase never came
        for future in futures:
            future.result(timeout=30)

    assert by_phase["before"][200] > 0
    assert by_phase["outage"][503] > 0, by_phase
    assert statuses[500] == 0, statuses
    assert set(codes) <= {"database_unavailable"}, codes
    assert by_phase["after"][200] >= 40, by_phase
    # Every turn the client was told about is stored.
    for user_id, auth in users:
        history = client.get(f"/api/history/{user_id}?limit=200", headers=auth).json()
        assert len(history["history"]) >= acknowledged[user_id]
    assert client.get("/ready").status_code == 200


@pytest.mark.postgres
@pytest.mark.slow
def test_paused_postgres_answers_503_quickly_and_recovers(
    make_client: Callable[..., TestClient], throwaway_postgres: ThrowawayPostgres
) -> None:
    """A server that stops answering (SIGSTOP: connections open, nothing replies) cannot
    enforce its own statement_timeout; the client-side timeouts (the defaults) must."""
    client = make_client(throwaway_postgres.url())
    users = [new_user(client) for _ in range(3)]
    acknowledged: Counter[int] = Counter()
    outage: list[tuple[str, int, str, float]] = []  # (request, status, code, seconds)
    messages: set[str] = set()
    phase = {"name": "before"}
    lock = threading.Lock()
    stop_at = time.monotonic() + 90  # hard bound on the whole load

    def request(index: int, turn: int) -> tuple[str, Any]:
        user_id, auth = users[index]
        kind = ("command", "history", "session")[turn % 3] if index == 0 else "command"
        if kind == "history":
            return kind, client.get(f"/api/history/{user_id}?limit=5", headers=auth)
        if kind == "session":
            return kind, client.post("/api/session")
        command = COMMANDS[turn % len(COMMANDS)]
        return kind, client.post("/api/command", headers=auth, json={"command": command})

    def worker(index: int) -> None:
        turn = 0
        while time.monotonic() < stop_at and phase["name"] != "done":
            during = phase["name"]
            started = time.perf_counter()
            kind, response = request(index, turn)
            elapsed = time.perf_counter() - started
            turn += 1
            with lock:
                if response.status_code == 200 and kind == "command":
                    acknowledged[users[index][0]] += 1
                if during == "outage" and phase["name"] == "outage":
                    body = response.json() if response.status_code >= 400 else {}
                    outage.append((kind, response.status_code, body.get("code", ""), elapsed))
                    messages.add(body.get("message", ""))
            time.sleep(0.01)

    frozen: list[int] = []
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = [pool.submit(worker, i) for i in range(3)]
            time.sleep(1.0)
            frozen = throwaway_postgres.pause()
            phase["name"] = "outage"
            with client.websocket_connect("/ws/voice/paused") as ws:
                token = users[1][1]["Authorization"].split()[1]
                ws.send_json({"type": "hello", "token": token})
                assert ws.receive_json()["type"] == "hello"  # the token is cached
                started = time.perf_counter()
                ws.send_json({"type": "command", "command": "what is 2 plus 2"})
                frame = ws.receive_json()
                socket_seconds = time.perf_counter() - started
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(outage) < 12:
                time.sleep(0.1)
            phase["name"] = "resumed"
            throwaway_postgres.resume(frozen)
            frozen = []
            recovered = False
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not recovered:
                recovered = client.get("/ready").status_code == 200
                time.sleep(0.2)
            phase["name"] = "done"
            for future in futures:
                future.result(timeout=60)
    finally:
        throwaway_postgres.resume(frozen)

    assert frame["type"] == "error" and frame["code"] == "database_unavailable", frame
    assert messages == {frame["message"]}  # one wording, over HTTP and the socket
    assert socket_seconds < 3.0, socket_seconds
    assert len(outage) >= 12, outage
    assert all(status == 503 for _, status, _, _ in outage), outage
    assert {code for _, _, code, _ in outage} == {"database_unavailable"}, outage
    slowest = max(seconds for *_, seconds in outage)
    assert slowest < 3.0, sorted(outage, key=lambda o: -o[3])[:3]
    assert recovered
    # Every turn a client was told about is stored.
    for user_id, auth in users:
        history = client.get(f"/api/history/{user_id}?limit=200", headers=auth).json()
        assert len(history["history"]) >= acknowledged[user_id]
    assert (
        client.post("/api/command", headers=users[0][1], json={"command": "hi"}).status_code == 200
    )
