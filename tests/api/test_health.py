"""/health never touches I/O; /ready follows the database down and back up by itself."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.pg import ThrowawayPostgres


def test_health_and_ready_on_embedded_sqlite(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "db": "ok"}


def test_ready_can_require_an_ai_provider(make_client: Callable[..., TestClient]) -> None:
    client = make_client(ai_required_for_ready=True)
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["ai"] == "unconfigured"


@pytest.mark.postgres
@pytest.mark.slow
def test_ready_turns_503_within_2s_when_postgres_stops_and_recovers(
    make_client: Callable[..., TestClient], throwaway_postgres: ThrowawayPostgres
) -> None:
    client = make_client(throwaway_postgres.url(), db_connect_timeout_seconds=30)
    assert client.get("/ready").status_code == 200

    throwaway_postgres.stop("immediate")
    started = time.perf_counter()
    down = client.get("/ready")
    elapsed = time.perf_counter() - started
    assert down.status_code == 503
    assert down.json() == {"status": "not ready", "db": "unavailable"}
    # READY_TIMEOUT_SECONDS (1.5 s by default) bounds the probe; the bound here is generous
    # so a busy machine cannot fail it, yet far below the 30 s connect timeout set below.
    assert elapsed < 10, f"/ready took {elapsed:.2f}s while the database was down"
    # Liveness does no I/O, so it keeps answering.
    assert client.get("/health").status_code == 200

    throwaway_postgres.start()
    throwaway_postgres.wait_until_up()
    statuses = []
    for _ in range(40):  # bounded: up to ~10 s for the pool to notice
        statuses.append(client.get("/ready").status_code)
        if statuses[-1] == 200:
            break
        time.sleep(0.25)
    assert statuses[-1] == 200, statuses
