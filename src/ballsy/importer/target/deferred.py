"""Indexes and foreign keys dropped for loading and re-created after it.

Building an index once over loaded rows is several times cheaper than updating it row by
row during COPY; a foreign key re-added over loaded rows is checked by PostgreSQL in one
anti-join. Each is dropped and recorded in one transaction and re-created with its record
deleted in another, so a killed import leaves each one present or recorded, and the next
run completes it. While a foreign key is recorded it is absent from the catalog: nothing
claims a reference is checked that PostgreSQL has not checked.
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from ballsy.importer.errors import ImportFailed, ImportRejected
from ballsy.importer.tables import model_specs
from ballsy.importer.target.batches import STATE_SCHEMA

# `# nosec B608` below: SQL text is built only from the importer's fixed table and
# column names (the models' metadata and constants), never from the source file's
# contents; every value travels as a bound parameter.

# The indexes of the imported tables (primary keys and unique constraints included) that no
# foreign key refers to: whether each is a primary key, and the statements that re-create
# and drop it.
_DEFERRABLE_INDEXES = """
SELECT t.relname, i.relname, coalesce(con.contype = 'p', false),
    CASE WHEN con.oid IS NULL THEN pg_get_indexdef(x.indexrelid)
        ELSE format('ALTER TABLE %s ADD CONSTRAINT %I %s', x.indrelid::regclass,
                    con.conname, pg_get_constraintdef(con.oid)) END,
    CASE WHEN con.oid IS NULL THEN format('DROP INDEX %s', x.indexrelid::regclass)
        ELSE format('ALTER TABLE %s DROP CONSTRAINT %I', x.indrelid::regclass, con.conname)
    END
FROM pg_index AS x
JOIN pg_class AS t ON t.oid = x.indrelid
JOIN pg_class AS i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint AS con
    ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid
    AND con.contype IN ('p', 'u', 'x')
WHERE x.indrelid = ANY($1::text[]::regclass[])
    AND NOT EXISTS (
        SELECT 1 FROM pg_constraint AS fk WHERE fk.contype = 'f' AND fk.conindid = x.indexrelid
    )
ORDER BY t.relname, i.relname
"""


async def defer_indexes(conn: asyncpg.Connection, tables: list[str] | None = None) -> int:
    """Drop the imported tables' indexes, recording how to re-create them.

    For an empty target only: building an index once over loaded rows is several times
    cheaper than updating it row by row during COPY. Dropping and recording happen in one
    transaction, and `restore_indexes` re-creates each one (with its record deleted in the
    same transaction), so a killed import leaves every index either present or recorded
    and the re-run completes them. Returns how many were deferred; 0 (changing nothing)
    when the role does not own the tables.
    """
    try:
        async with conn.transaction():
            if tables is None:
                tables = [spec.name for spec in model_specs()]
            found = await conn.fetch(_DEFERRABLE_INDEXES, tables)
            for table, index, is_primary_key, restore_sql, drop_sql in found:
                await conn.execute(
                    f"INSERT INTO {STATE_SCHEMA}.deferred_indexes "  # noqa: S608  # nosec B608
                    "(index_name, table_name, is_primary_key, restore_sql) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (index_name) DO NOTHING",
                    index,
                    table,
                    is_primary_key,
                    restore_sql,
                )
                await conn.execute(drop_sql)
    except asyncpg.InsufficientPrivilegeError:
        return 0
    return len(found)


async def restore_indexes(
    conn: asyncpg.Connection, table: str, *, primary_key: bool | None = None
) -> None:
    """Re-create the indexes of `table` that an import deferred (this one or an earlier);
    `primary_key`: only the primary key (True), all but it (False), or all (None)."""
    pending = await conn.fetch(
        f"SELECT index_name, restore_sql FROM {STATE_SCHEMA}.deferred_indexes "  # noqa: S608  # nosec B608
        "WHERE table_name = $1 AND ($2::boolean IS NULL OR is_primary_key = $2) "
        "ORDER BY index_name",
        table,
        primary_key,
    )
    for index, restore_sql in pending:
        try:
            async with conn.transaction():
                await conn.execute(restore_sql)
                await conn.execute(
                    f"DELETE FROM {STATE_SCHEMA}.deferred_indexes WHERE index_name = $1",  # noqa: S608  # nosec B608
                    index,
                )
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise ImportRejected(
                f"re-creating index {index} on {table} failed: {type(exc).__name__}: {exc}"
            ) from None
        except asyncpg.PostgresError as exc:
            raise ImportFailed(
                f"re-creating index {index} on {table} failed: {type(exc).__name__}: {exc}. "
                "The imported rows are kept; the index is re-created by the next run."
            ) from None


# The foreign keys between the imported tables: (constraint, table, parent, restore DDL).
_FOREIGN_KEYS = """
SELECT con.conname, t.relname, p.relname,
    format('ALTER TABLE %s ADD CONSTRAINT %I %s', con.conrelid::regclass, con.conname,
           pg_get_constraintdef(con.oid))
FROM pg_constraint AS con
JOIN pg_class AS t ON t.oid = con.conrelid
JOIN pg_class AS p ON p.oid = con.confrelid
WHERE con.contype = 'f' AND con.conrelid = ANY($1::text[]::regclass[])
ORDER BY t.relname, con.conname
"""


async def defer_foreign_keys(conn: asyncpg.Connection, tables: list[str]) -> int:
    """Drop the foreign keys among `tables`, recording how to re-create them; how many.

    For an import whose COPY skips the per-row foreign-key triggers: a constraint left in
    place would stay marked as validated over rows PostgreSQL never checked (a killed or
    failed import's rows included). Dropped, it is re-added (and so checked over every
    row) by `restore_foreign_key` once both its tables are loaded.
    """
    async with conn.transaction():
        found = await conn.fetch(_FOREIGN_KEYS, tables)
        for name, table, parent, restore_sql in found:
            await conn.execute(
                f"INSERT INTO {STATE_SCHEMA}.deferred_foreign_keys "  # noqa: S608  # nosec B608
                "(constraint_name, table_name, parent_name, restore_sql) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (constraint_name) DO NOTHING",
                name,
                table,
                parent,
                restore_sql,
            )
            await conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    return len(found)


async def restore_foreign_keys(conn: asyncpg.Connection, table: str, parent: str) -> bool | None:
    """Re-add the recorded foreign keys from `table` to `parent`, each validated by
    PostgreSQL over every row: True when re-added, None when none was recorded, False
    (leaving it recorded and absent) when rows of `table` point at no `parent` row."""
    pending = await conn.fetch(
        f"SELECT constraint_name, restore_sql FROM {STATE_SCHEMA}.deferred_foreign_keys "  # noqa: S608  # nosec B608
        "WHERE table_name = $1 AND parent_name = $2 ORDER BY constraint_name",
        table,
        parent,
    )
    for name, restore_sql in pending:
        try:
            async with conn.transaction():
                await conn.execute(restore_sql)
                await conn.execute(
                    f"DELETE FROM {STATE_SCHEMA}.deferred_foreign_keys "  # noqa: S608  # nosec B608
                    "WHERE constraint_name = $1",
                    name,
                )
        except asyncpg.ForeignKeyViolationError:
            return False
    return True if pending else None


async def deferred_foreign_keys(conn: asyncpg.Connection) -> int:
    """How many foreign keys an import (this one or an earlier) left recorded."""
    return int(
        await conn.fetchval(f"SELECT count(*) FROM {STATE_SCHEMA}.deferred_foreign_keys")  # noqa: S608  # nosec B608
    )
