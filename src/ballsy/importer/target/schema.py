"""The target's schema: at Ballsy's migration head, or brought there (`--migrate`)."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]

from ballsy.db import head_schema
from ballsy.importer.errors import TargetNotMigrated
from ballsy.importer.target.batches import LOCK_KEY

# Held only while an empty target gets the head schema (`create_head_schema`).
_SCHEMA_LOCK_KEY = LOCK_KEY + 1


async def current_revision(conn: asyncpg.Connection) -> str | None:
    exists = await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL")
    if not exists:
        return None
    value = await conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1")
    return None if value is None else str(value)


async def ensure_migrated(conn: asyncpg.Connection, raw_url: str, *, upgrade: bool) -> None:
    """Raise `TargetNotMigrated` unless the target is at head (upgrading it if asked).

    An empty target gets the head schema's DDL (`ballsy.db.head_schema`) in one
    transaction; any other goes through Alembic's migrations."""
    current = await current_revision(conn)
    if current == head_schema.REVISION:
        return
    if upgrade:
        if current is None and await create_head_schema(conn):
            return
        # SQLAlchemy and Alembic: only the coordinator, only here (the workers import this
        # module; `ballsy.db.migrate` would cost each about 0.16 s and 121 modules).
        from ballsy.db import migrate

        await asyncio.to_thread(migrate.upgrade, raw_url)
        return
    where = "has no Ballsy schema" if current is None else f"is at revision {current}"
    raise TargetNotMigrated(
        f"the target database {where}; Ballsy needs revision {head_schema.REVISION}. Run "
        "`ballsy db upgrade` against it first, or pass --migrate to upgrade it now."
    )


async def create_head_schema(conn: asyncpg.Connection) -> bool:
    """Create the head schema in a database whose `public` schema holds no table, in one
    transaction; False, changing nothing, when it holds one (the migrations' job then).
    Two imports starting at once take turns on a transaction lock: the second finds
    the tables."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK_KEY)
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        )
        if tables:
            return False
        for statement in head_schema.POSTGRES:
            await conn.execute(statement)
        await conn.execute(
            "INSERT INTO alembic_version (version_num) VALUES ($1)", head_schema.REVISION
        )
    return True
