"""Migrations run up, down and up again, and agree with the models."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ballsy.db import head_schema, migrate, snapshots
from ballsy.db.models import Base
from ballsy.db.url import to_async_url
from ballsy.importer import target
from tests import pg


async def _tables_and_diff(url: str) -> tuple[set[str], list[object]]:
    engine = create_async_engine(to_async_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:

            def inspect_sync(sync_conn: object) -> tuple[set[str], list[object]]:
                tables = set(inspect(sync_conn).get_table_names())  # type: ignore[arg-type]
                context = MigrationContext.configure(
                    sync_conn,  # type: ignore[arg-type]
                    opts={"compare_type": True},
                )
                return tables, list(compare_metadata(context, Base.metadata))

            return await conn.run_sync(inspect_sync)
    finally:
        await engine.dispose()


def test_head_constant_matches_alembic() -> None:
    assert migrate.head_revision() == migrate.HEAD == head_schema.REVISION


def test_the_checked_in_snapshots_are_what_the_generator_writes() -> None:
    """head_schema.py is generated from the migrations, never edited: after a migration
    is added, `python -m ballsy.db.snapshots` rewrites it, and until then this fails."""
    assert snapshots.TARGET.read_text(encoding="utf-8") == snapshots.render(), (
        "ballsy/db/head_schema.py is stale: run `python -m ballsy.db.snapshots`"
    )
    assert snapshots.main(["--check"]) == 0


def test_sqlite_current_check(sqlite_url: str) -> None:
    assert not migrate.sqlite_is_current(sqlite_url)
    assert migrate.upgrade_sqlite_if_needed(sqlite_url) is True
    assert migrate.sqlite_is_current(sqlite_url)
    assert migrate.upgrade_sqlite_if_needed(sqlite_url) is False


def test_upgrade_downgrade_upgrade_and_no_drift(database_url: str) -> None:
    migrate.upgrade(database_url)
    tables, diff = asyncio.run(_tables_and_diff(database_url))
    assert {"users", "conversations", "messages", "settings", "command_history"} <= tables
    assert diff == [], f"models and migrations disagree: {diff}"

    migrate.downgrade(database_url, "base")
    tables, _ = asyncio.run(_tables_and_diff(database_url))
    assert tables <= {"alembic_version"}

    migrate.upgrade(database_url)
    tables, diff = asyncio.run(_tables_and_diff(database_url))
    assert "messages" in tables
    assert diff == []


def _sqlite_master(url: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every schema object as SQLite stores it (in creation order), and the revision row."""
    path = to_async_url(url).database
    assert path
    with sqlite3.connect(path) as conn:
        objects = conn.execute(
            "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master ORDER BY rowid"
        ).fetchall()
        version = conn.execute("SELECT * FROM alembic_version").fetchall()
    return objects, version


def test_new_sqlite_schema_is_exactly_what_the_migrations_build(tmp_path: Path) -> None:
    migrated = f"sqlite:///{tmp_path / 'migrated.db'}"
    created = f"sqlite:///{tmp_path / 'created.db'}"
    migrate.upgrade(migrated)
    assert migrate.create_sqlite_schema(created) is True

    expected_objects, expected_version = _sqlite_master(migrated)
    expected_ddl = "\n".join(repr(o[4]) for o in expected_objects if o[4] is not None)
    assert _sqlite_master(created) == (expected_objects, expected_version), (
        "ballsy/db/head_schema.py is out of date (run `python -m ballsy.db.snapshots`); the "
        "migrations now build:\n" + expected_ddl
    )
    assert head_schema.REVISION == migrate.HEAD
    assert migrate.sqlite_is_current(created)
    _, diff = asyncio.run(_tables_and_diff(created))
    assert diff == []


def test_sqlite_schema_is_created_only_in_an_empty_database(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url, "0001")
    before = _sqlite_master(sqlite_url)
    assert migrate.create_sqlite_schema(sqlite_url) is False
    assert _sqlite_master(sqlite_url) == before
    # An older database is upgraded by the migrations instead.
    assert migrate.upgrade_sqlite_if_needed(sqlite_url) is True
    assert migrate.sqlite_is_current(sqlite_url)


def test_sqlite_schema_is_not_created_for_other_databases() -> None:
    assert migrate.create_sqlite_schema("sqlite://") is False
    assert migrate.create_sqlite_schema("sqlite:///:memory:") is False
    assert migrate.create_sqlite_schema("postgresql://u:p@127.0.0.1:1/db") is False


def test_new_sqlite_database_starts_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'ballsy.db'}"
    code = (
        "import sys\n"
        "from ballsy.db import migrate\n"
        f"assert migrate.upgrade_sqlite_if_needed({url!r}) is True\n"
        f"assert migrate.upgrade_sqlite_if_needed({url!r}) is False\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert migrate.sqlite_is_current(url)


def _postgres_catalog(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Everything the schema defines in `public`, as PostgreSQL's catalog describes it."""
    import psycopg

    queries = {
        "columns": "SELECT table_name, ordinal_position, column_name, data_type, "
        "character_maximum_length, is_nullable, column_default FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2",
        "relations": "SELECT relname, relkind, relpersistence FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace ORDER BY 1",
        "sequences": "SELECT sequencename, data_type, start_value, increment_by, max_value "
        "FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1",
        "version": "SELECT version_num FROM alembic_version",
    }
    with psycopg.connect(url) as conn:
        found = {name: conn.execute(sql).fetchall() for name, sql in queries.items()}
    return {**found, **pg.schema_objects(url)}


@pytest.mark.postgres
def test_new_postgres_schema_is_exactly_what_the_migrations_build() -> None:
    migrated_name, migrated = pg.create_database()
    created_name, created = pg.create_database()
    try:
        migrate.upgrade(migrated)

        async def create() -> tuple[bool, bool]:
            conn = await asyncpg.connect(target.asyncpg_dsn(created))
            try:
                # The second call finds the tables and leaves them to the migrations.
                return await target.create_head_schema(conn), await target.create_head_schema(conn)
            finally:
                await conn.close()

        assert asyncio.run(create()) == (True, False)
        assert head_schema.REVISION == migrate.HEAD
        expected = _postgres_catalog(migrated)
        assert expected["columns"] and expected["version"] == [(migrate.HEAD,)]
        offline = subprocess.run(
            [sys.executable, "-c", _OFFLINE_SQL, migrated],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        assert _postgres_catalog(created) == expected, (
            "ballsy/db/head_schema.py is out of date (run `python -m ballsy.db.snapshots`); "
            "the migrations now emit:\n" + offline
        )
        # Alembic can walk down from it and up again: the version stamp is right.
        migrate.downgrade(created, "base")
        migrate.upgrade(created)
        assert _postgres_catalog(created) == expected
    finally:
        pg.drop_database(migrated_name)
        pg.drop_database(created_name)


_OFFLINE_SQL = """
import sys
from alembic import command
from ballsy.db import migrate
command.upgrade(migrate.alembic_config(sys.argv[1]), "head", sql=True)
"""
