"""Database failures are told apart: unreachable, bad data, or a schema never migrated."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from ballsy.app import create_app
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db.engine import build_engine
from ballsy.db.errors import database_error


def _error_of(settings: Settings, sql: str, params: dict[str, object] | None = None) -> Exception:
    async def run() -> Exception:
        engine = build_engine(settings.database)
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql), params or {})
        except Exception as exc:
            return exc
        finally:
            await engine.dispose()
        raise AssertionError("the statement succeeded")

    return asyncio.run(run())


@pytest.mark.postgres
def test_postgres_refusing_a_value_is_bad_data_not_unavailable(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    settings = make_settings(database_url=postgres_url)
    for sql, params in (
        ("SELECT CAST(:v AS text)", {"v": "nul \x00 inside"}),
        ("SELECT CAST(:v AS bigint)", {"v": 2**63}),
        ("SELECT 1 / 0", None),
    ):
        error = database_error(_error_of(settings, sql, params))
        assert error is not None, sql
        assert (error.status, error.code) == (422, "bad_request"), sql


def test_missing_table_is_schema_out_of_date(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = make_settings(database_url=database_url)
    error = database_error(_error_of(settings, "SELECT id FROM users"))
    assert error is not None
    assert (error.status, error.code) == (503, "schema_out_of_date")
    assert "ballsy db upgrade" in error.message


@pytest.mark.postgres
def test_never_migrated_postgres_is_not_ready_and_says_why(
    make_settings: Callable[..., Settings],
    postgres_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(
        database_url=postgres_url, stt_enabled=False, operator_api_keys="op-key-1234567890"
    )
    with caplog.at_level(logging.ERROR), TestClient(create_app(settings)) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not ready"
        assert body["db"] == "schema_out_of_date"
        assert body["code"] == "schema_out_of_date"
        assert "ballsy db upgrade" in body["message"]
        for response in (
            client.post("/api/session"),
            client.get("/api/history/1", headers={"X-API-Key": "op-key-1234567890"}),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "schema_out_of_date"
        migrate.upgrade(postgres_url)
        assert client.get("/ready").json() == {"status": "ready", "db": "ok"}
        assert client.post("/api/session").status_code == 201
    assert any("ballsy db upgrade" in r.getMessage() for r in caplog.records)


def test_ready_reads_the_revision_until_it_is_found_current(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    assert client.get("/ready").status_code == 200
    assert client.app.state.schema_current is True  # type: ignore[attr-defined]
