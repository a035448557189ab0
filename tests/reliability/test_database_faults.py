"""PostgreSQL stopped and restarted under load: clear errors during the outage, full
recovery after, and no acknowledged turn lost. Runs on a throwaway server."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

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
