"""Every accepted DATABASE_URL form really connects; passwords with any character work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import text

from ballsy.config import Settings
from ballsy.db.engine import build_engine
from ballsy.db.url import DatabaseUrlError, to_async_url, unix_socket_dir
from ballsy.redaction import redact_url
from tests.pg import ThrowawayPostgres

CLOUD_FORM = "postgresql+psycopg2://ballsy:pw@/ballsydb?host=/cloudsql/proj:us-central1:ballsy-db"


def _select_one(settings: Settings, url: str) -> int:
    async def run() -> int:
        engine = build_engine(settings.database, url=url)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(text("SELECT 1"))).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("sqlite:///data/x.db", "sqlite+aiosqlite"),
        ("sqlite:////var/lib/ballsy/x.db", "sqlite+aiosqlite"),
        ("postgresql://u:p@h:5432/d", "postgresql+asyncpg"),
        ("postgres://u:p@h/d", "postgresql+asyncpg"),
        ("postgresql+psycopg2://u:p@h/d", "postgresql+asyncpg"),
        ("postgresql+psycopg://u:p@h/d", "postgresql+asyncpg"),
        (CLOUD_FORM, "postgresql+asyncpg"),
    ],
)
def test_forms_normalise_to_async_drivers(raw: str, driver: str) -> None:
    assert to_async_url(raw).drivername == driver


def test_cloud_run_form_points_at_the_socket_directory() -> None:
    url = to_async_url(CLOUD_FORM)
    assert unix_socket_dir(url) == "/cloudsql/proj:us-central1:ballsy-db"
    assert url.database == "ballsydb"
    assert url.username == "ballsy"


def test_sslmode_becomes_asyncpg_ssl() -> None:
    url = to_async_url("postgresql://u:p@h/d?sslmode=require")
    assert dict(url.query) == {"ssl": "require"}


@pytest.mark.parametrize("raw", ["mysql://u:p@h/d", "not a url", "oracle://x"])
def test_unsupported_urls_are_refused_clearly(raw: str) -> None:
    with pytest.raises(DatabaseUrlError, match="DATABASE_URL"):
        to_async_url(raw)


def test_redaction_hides_the_password() -> None:
    shown = redact_url("postgresql://u:" + quote("p@ss:/?#%", safe="") + "@h/d")
    assert "p@ss" not in shown and "p%40ss" not in shown
    assert "***" in shown


def test_sqlite_relative_and_absolute_paths_connect(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = make_settings()
    assert _select_one(settings, "sqlite:///relative/ballsy.db") == 1
    assert (tmp_path / "relative" / "ballsy.db").exists()
    assert _select_one(settings, f"sqlite:///{tmp_path}/absolute.db") == 1


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg2"])
def test_tcp_forms_connect(
    make_settings: Callable[..., Settings], postgres_url: str, scheme: str
) -> None:
    url = postgres_url.replace("postgresql://", f"{scheme}://", 1)
    assert _select_one(make_settings(), url) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("throwaway_postgres", ["scram-sha-256"], indirect=True)
def test_cloud_sql_socket_form_and_awkward_passwords_connect(
    make_settings: Callable[..., Settings], throwaway_postgres: ThrowawayPostgres
) -> None:
    password = "p@ss:w/rd?#%&= x"
    literal = password.replace("'", "''")
    throwaway_postgres.psql(f"CREATE ROLE ballsy LOGIN PASSWORD '{literal}'")
    throwaway_postgres.psql("CREATE DATABASE ballsydb OWNER ballsy")
    encoded = quote(password, safe="")
    settings = make_settings()

    # The seed's Cloud Run form, against a real Unix socket directory.
    socket_url = (
        f"postgresql+psycopg2://ballsy:{encoded}@/ballsydb"
        f"?host={throwaway_postgres.socket_dir}&port={throwaway_postgres.port}"
    )
    assert _select_one(settings, socket_url) == 1

    # TCP with password authentication: the encoded password must survive intact.
    tcp_url = f"postgresql://ballsy:{encoded}@127.0.0.1:{throwaway_postgres.port}/ballsydb"
    assert _select_one(settings, tcp_url) == 1
    wrong = f"postgresql://ballsy:wrong@127.0.0.1:{throwaway_postgres.port}/ballsydb"
    with pytest.raises(Exception, match="password"):
        _select_one(settings, wrong)
