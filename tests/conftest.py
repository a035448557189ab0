"""Shared fixtures: settings, SQLite and PostgreSQL databases, throwaway servers."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ballsy.app import create_app
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.wiring import Overrides
from tests import pg

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Under CI=true a skip fails the run unless tests/ci_skips.py allows it; the coverage
# threshold applies to whole-suite runs only (tests/coverage_gate.py).
pytest_plugins = ["tests.ci_skips", "tests.coverage_gate"]


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a test: nothing read from `.env`, data under tmp_path."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "data_dir": tmp_path / "data",
            "stt_preload": False,
            "tts_preload": False,
            "log_format": "json",
            # Starlette's TestClient calls itself "testserver" (its WebSocket URL is fixed).
            "trusted_hosts": "testserver,127.0.0.1,localhost",
            # No traffic leaves the machine: weather tests point these at a local fake.
            "weather_forecast_url": "http://127.0.0.1:9/v1/forecast",
            "weather_geocoding_url": "http://127.0.0.1:9/v1/search",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return factory


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin DSN of the machine's PostgreSQL; fail in CI, skip elsewhere, if absent."""
    reason = pg.server_available()
    if reason is not None:
        pg.try_start_local_server()
        reason = pg.server_available()
    if reason is not None:
        message = (
            f"PostgreSQL is not reachable at {pg.ADMIN_DSN} ({reason}). Start it "
            "(pg_ctlcluster 15 main start) or set BALLSY_TEST_PG_DSN to run these tests."
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return pg.ADMIN_DSN


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the machine's PostgreSQL, dropped afterwards."""
    name, url = pg.create_database(postgres_server)
    try:
        yield url
    finally:
        pg.drop_database(name, postgres_server)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ballsy.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ballsy.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def throwaway_postgres(request: pytest.FixtureRequest) -> Iterator[pg.ThrowawayPostgres]:
    """A private PostgreSQL server the test may stop and start.

    Parametrise indirectly with "scram-sha-256" to require passwords over TCP."""
    try:
        pg._pg_bin("initdb")
    except FileNotFoundError as exc:
        if IN_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    root = Path("/tmp") / f"ballsy-pg-{os.getpid()}-{pg.free_port()}"
    host_auth = getattr(request, "param", "trust")
    server = pg.ThrowawayPostgres(root).init(host_auth=host_auth)
    server.start()
    server.wait_until_up()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):  # already stopped by the test
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """Build a started app (lifespan run) on `database_url`; closed at the end."""
    clients: list[TestClient] = []

    def factory(
        database_url: str | None = None,
        *,
        overrides: Overrides | None = None,
        **settings_overrides: Any,
    ) -> TestClient:
        values: dict[str, Any] = {
            "stt_enabled": False,
            "tts_enabled": False,
            "rate_limit_enabled": False,
        }
        values.update(settings_overrides)
        if database_url is not None:
            values["database_url"] = database_url
            if not database_url.startswith("sqlite"):
                migrate.upgrade(database_url)
        settings = make_settings(**values)
        client = TestClient(create_app(settings, overrides=overrides))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)
