"""/health never touches I/O; /ready follows the database down and back up by itself."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ballsy.db import repositories as repo
from tests.clients import new_user
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


def test_retention_removes_old_turns_at_start(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    """Retention runs on its own engine (its statements may outlast a request's bound)."""
    from datetime import timedelta

    from sqlalchemy import update

    from ballsy.db.models import CommandHistory, utcnow

    first = make_client(database_url)
    user_id, auth = new_user(first)
    for command in ("hello", "what is 2 plus 2"):
        assert (
            first.post("/api/command", json={"command": command}, headers=auth).status_code == 200
        )

    async def age_one() -> None:
        services = first.app.state.services  # type: ignore[attr-defined]
        async with services.sessions() as session:
            oldest = (await repo.history(session, user_id, limit=10))[-1]
            await session.execute(
                update(CommandHistory)
                .where(CommandHistory.id == oldest.id)
                .values(created_at=utcnow() - timedelta(days=40))
            )
            await session.commit()

    first.portal.call(age_one)  # type: ignore[union-attr]
    second = make_client(database_url, history_retention_days=30)
    remaining: list[str] = []
    for _ in range(100):  # bounded: up to ~10 s for the first retention run
        history = second.get(f"/api/history/{user_id}", headers=auth).json()["history"]
        remaining = [h["command"] for h in history]
        if remaining == ["what is 2 plus 2"]:
            break
        time.sleep(0.1)
    assert remaining == ["what is 2 plus 2"]
