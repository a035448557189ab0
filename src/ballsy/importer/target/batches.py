"""The import's own records in the target: which id ranges are committed, one lock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg  # type: ignore[import-untyped]

from ballsy.importer.errors import ImportInProgress, TargetNotEmpty
from ballsy.importer.tables import TableSpec

# `# nosec B608` below: SQL text is built only from the importer's fixed table and
# column names (the models' metadata and constants), never from the source file's
# contents; every value travels as a bound parameter.

STATE_SCHEMA = "ballsy_import"
# An arbitrary constant: the advisory lock key that keeps two imports apart.
LOCK_KEY = 0x6261_6C6C_7379  # "ballsy"

_CREATE_STATE = f"""
CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA};
CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.batches (
    source_fingerprint text NOT NULL,
    stream text NOT NULL,
    first_id bigint NOT NULL,
    last_id bigint NOT NULL,
    rows_written bigint NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_fingerprint, stream, first_id)
);
CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.deferred_indexes (
    index_name text PRIMARY KEY,
    table_name text NOT NULL,
    is_primary_key boolean NOT NULL,
    restore_sql text NOT NULL
);
CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.deferred_foreign_keys (
    constraint_name text PRIMARY KEY,
    table_name text NOT NULL,
    parent_name text NOT NULL,
    restore_sql text NOT NULL
);
"""
_RECORD_BATCH = (
    f"INSERT INTO {STATE_SCHEMA}.batches "  # noqa: S608  # nosec B608
    "(source_fingerprint, stream, first_id, last_id, rows_written) "
    "VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (source_fingerprint, stream, first_id) DO UPDATE "
    f"SET last_id = greatest({STATE_SCHEMA}.batches.last_id, EXCLUDED.last_id), "
    f"rows_written = {STATE_SCHEMA}.batches.rows_written + EXCLUDED.rows_written, "
    "committed_at = now()"
)

# Committed id ranges: {stream: [(first id, last id), ...]}.
Ranges = dict[str, list[tuple[int, int]]]


async def take_lock(conn: asyncpg.Connection) -> None:
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
        raise ImportInProgress("another import into this database is running; wait for it")


async def read_progress(conn: asyncpg.Connection) -> dict[str, Ranges]:
    """{fingerprint: {stream: committed id ranges}} of every import recorded in the target."""
    exists = await conn.fetchval(f"SELECT to_regclass('{STATE_SCHEMA}.batches') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch(
        f"SELECT source_fingerprint, stream, first_id, last_id FROM {STATE_SCHEMA}.batches"  # noqa: S608  # nosec B608
        " ORDER BY first_id"
    )
    found: dict[str, Ranges] = {}
    for fingerprint, stream, first_id, last_id in rows:
        found.setdefault(fingerprint, {}).setdefault(stream, []).append(
            (int(first_id), int(last_id))
        )
    return found


async def non_empty_tables(conn: asyncpg.Connection, tables: Sequence[str]) -> list[str]:
    names = []
    for name in tables:
        if await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{name}")'):  # noqa: S608  # nosec B608
            names.append(name)
    return names


async def check_can_import(
    conn: asyncpg.Connection, fingerprint: str, tables: Sequence[str]
) -> Ranges:
    """Committed batches of this source; refuse a target holding anything else."""
    recorded = await read_progress(conn)
    others = [fp for fp in recorded if fp != fingerprint]
    if others:
        raise TargetNotEmpty(
            "the target already holds an import of another SQLite file (or of this file "
            "before it changed); import into a fresh database"
        )
    if fingerprint in recorded:
        return recorded[fingerprint]
    busy = await non_empty_tables(conn, tables)
    if busy:
        raise TargetNotEmpty(
            f"the target already has rows in {', '.join(busy)}; imports keep their ids, "
            "so they go into a database with no Ballsy data yet"
        )
    return {}


async def prepare_state(conn: asyncpg.Connection) -> None:
    await conn.execute(_CREATE_STATE)


def stream_table(stream: str) -> str:
    """The table a stream of batches writes: `users` for `users` and `users:placeholders`."""
    return stream.split(":", 1)[0]


async def undo_import(conn: asyncpg.Connection, fingerprint: str, tables: Sequence[str]) -> int:
    """Delete every row the import of `fingerprint` committed, and its records, in one
    transaction; how many rows. `tables` in foreign-key order (children are emptied first).

    The rows are exactly those in the recorded id ranges: an import only starts on a
    target with no Ballsy rows or with its own earlier batches (`check_can_import`), and
    holds the import lock (`take_lock`) while it runs, so these ids are its own.
    """
    removed = 0
    async with conn.transaction():
        recorded = await read_progress(conn)
        ranges = recorded.get(fingerprint, {})
        for table in reversed(tables):
            bounds = [
                r
                for stream, found in ranges.items()
                if stream_table(stream) == table
                for r in found
            ]
            if not bounds:
                continue
            status = await conn.execute(
                f'DELETE FROM "{table}" AS t USING unnest($1::bigint[], $2::bigint[]) '  # noqa: S608  # nosec B608
                "AS r(lo, hi) WHERE t.id BETWEEN r.lo AND r.hi",
                [low for low, _ in bounds],
                [high for _, high in bounds],
            )
            removed += int(str(status).rsplit(" ", 1)[-1])  # "DELETE <rows>"
        await conn.execute(
            f"DELETE FROM {STATE_SCHEMA}.batches WHERE source_fingerprint = $1",  # noqa: S608  # nosec B608
            fingerprint,
        )
    return removed


async def drop_state_if_unused(conn: asyncpg.Connection) -> bool:
    """Drop the import's schema when it records nothing (no batch, nothing deferred)."""
    async with conn.transaction():
        left = await conn.fetchval(
            f"SELECT (SELECT count(*) FROM {STATE_SCHEMA}.batches) "  # noqa: S608  # nosec B608
            f"+ (SELECT count(*) FROM {STATE_SCHEMA}.deferred_indexes) "
            f"+ (SELECT count(*) FROM {STATE_SCHEMA}.deferred_foreign_keys)"
        )
        if left:
            return False
        await conn.execute(f"DROP SCHEMA {STATE_SCHEMA} CASCADE")
    return True


async def write_batch(
    conn: asyncpg.Connection,
    *,
    spec: TableSpec,
    stream: str,
    fingerprint: str,
    id_range: tuple[int, int],
    data: bytes,
    rows: int,
) -> None:
    """COPY one batch (`data`: a binary COPY stream of `rows` rows) and record its id range
    as committed, atomically."""

    async def source() -> AsyncIterator[bytes]:
        yield data

    async with conn.transaction():
        await conn.copy_to_table(
            spec.name, source=source(), columns=spec.column_names, format="binary"
        )
        await conn.execute(_RECORD_BATCH, fingerprint, stream, *id_range, rows)
