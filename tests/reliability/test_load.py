"""A bounded load test at the designed per-instance concurrency (10, as on Cloud Run):
zero errors, and never more database connections than the pool allows."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.clients import new_user

CONCURRENCY = 10
TURNS_PER_CLIENT = 30


@pytest.mark.postgres
@pytest.mark.slow
def test_designed_concurrency_with_the_pool_bounded(
    make_client: Callable[..., TestClient], postgres_url: str, postgres_server: str
) -> None:
    client = make_client(postgres_url, db_pool_size=3, db_max_overflow=2)
    users = [new_user(client) for _ in range(CONCURRENCY)]
    database = postgres_url.rsplit("/", 1)[1]
    statuses: Counter[int] = Counter()
    peak = {"connections": 0}
    done = threading.Event()
    counting = threading.Lock()

    def sample_connections() -> None:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            deadline = time.monotonic() + 120
            while not done.is_set() and time.monotonic() < deadline:
                count = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)
                ).fetchone()
                peak["connections"] = max(peak["connections"], int(count[0]) if count else 0)
                time.sleep(0.005)

    def one_client(index: int) -> None:
        _user_id, auth = users[index]
        for turn in range(TURNS_PER_CLIENT):
            command = ["hello", "what is 12 times 12", "what time is it"][turn % 3]
            response = client.post("/api/command", json={"command": command}, headers=auth)
            with counting:  # `+=` on a Counter is not atomic across threads
                statuses[response.status_code] += 1

    sampler = threading.Thread(target=sample_connections)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            for future in [pool.submit(one_client, i) for i in range(CONCURRENCY)]:
                future.result(timeout=120)
    finally:
        done.set()
        sampler.join(timeout=10)

    assert statuses == Counter({200: CONCURRENCY * TURNS_PER_CLIENT}), statuses
    assert 1 <= peak["connections"] <= 3 + 2, peak
    for user_id, auth in users:
        history = client.get(f"/api/history/{user_id}?limit=100", headers=auth).json()
        assert len(history["history"]) == TURNS_PER_CLIENT
