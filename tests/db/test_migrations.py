"""Migrations run up, down and up again, and agree with the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ballsy.db import migrate
from ballsy.db.models import Base
from ballsy.db.url import to_async_url


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
    assert migrate.head_revision() == migrate.HEAD


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
