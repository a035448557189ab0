"""The PostgreSQL side: checks, resumable batched COPY, sequences and checksums.

Progress lives in the target itself, in a schema of its own (`ballsy_import`, out of the
way of Ballsy's migrations): each batch is copied and its id range recorded in one
transaction, so after a crash the target holds whole batches only and a re-run knows
exactly which ranges are done. SQL text is built only from fixed identifiers (the table
specs and this module's constants); every value is a bound parameter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ballsy.db.importer.checksum import Bucket, bucket_query, new_digest
from ballsy.db.importer.errors import (
    ImportFailed,
    ImportInProgress,
    TargetNotEmpty,
    TargetNotMigrated,
    TargetUnsupported,
)
from ballsy.db.importer.tables import TABLES, TableSpec

# `# nosec B608` below: SQL text is built only from the importer's fixed table and
# column names (tables.TABLES and constants), never from the source file's contents;
# every value travels as a bound parameter.

STATE_SCHEMA = "ballsy_import"
# An arbitrary constant: the advisory lock key that keeps two imports apart.
_LOCK_KEY = 0x6261_6C6C_7379  # "ballsy"
# Another, held only while an empty target gets the head schema (`create_head_schema`).
_SCHEMA_LOCK_KEY = _LOCK_KEY + 1

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


def asyncpg_dsn(raw_url: str) -> str:
    """A libpq-style DSN asyncpg accepts, from any URL form Ballsy accepts."""
    # SQLAlchemy parses the URL forms; imported here so the worker processes, which get
    # the DSN ready-made, start without it.
    from ballsy.db.url import DatabaseUrlError, is_sqlite, to_async_url

    try:
        url = to_async_url(raw_url)
    except DatabaseUrlError as exc:
        raise TargetUnsupported(exc.message) from None
    if is_sqlite(url):
        raise TargetUnsupported(
            "the import target must be PostgreSQL (a SQLite database is already SQLite: "
            "point Ballsy's DATABASE_URL at the file instead)"
        )
    query = dict(url.query)
    if "ssl" in query:
        query["sslmode"] = query.pop("ssl")
    return url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


async def connect(raw_url: str) -> asyncpg.Connection:
    return await connect_dsn(asyncpg_dsn(raw_url))


async def connect_dsn(dsn: str) -> asyncpg.Connection:
    """A connection from a DSN made by `asyncpg_dsn`."""
    try:
        return await asyncpg.connect(dsn, timeout=15)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        from ballsy.redaction import redact_url  # SQLAlchemy's URL parser: on failure only

        raise TargetUnsupported(
            f"could not connect to {redact_url(dsn)}: {type(exc).__name__}: {exc}"
        ) from None


async def connect_writer(dsn: str) -> asyncpg.Connection:
    """A connection for COPY; it skips per-row foreign-key triggers where allowed.

    The plan has already resolved every reference (placeholders included) and tables are
    written parents first, so the triggers would only re-check what is known; the
    verification then checks every foreign key with one anti-join each. Only a role that
    may set `session_replication_role` (a superuser; `cloudsqlsuperuser` on Cloud SQL)
    can skip them; for any other, PostgreSQL checks each row as usual. `dsn` comes from
    `asyncpg_dsn`.
    """
    conn = await connect_dsn(dsn)
    await may_skip_fk_triggers(conn)
    # Each batch commits with its progress record, so a server crash that loses the last
    # few commits loses their records too, and the re-run imports those batches again:
    # waiting for every commit to reach disk buys nothing here.
    await conn.execute("SET synchronous_commit = off")
    return conn


async def may_skip_fk_triggers(conn: asyncpg.Connection) -> bool:
    """Set `session_replication_role = replica` if this role may; say whether it did."""
    try:
        await conn.execute("SET session_replication_role = replica")
    except asyncpg.InsufficientPrivilegeError:
        return False
    return True


async def current_revision(conn: asyncpg.Connection) -> str | None:
    exists = await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL")
    if not exists:
        return None
    value = await conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1")
    return None if value is None else str(value)


async def ensure_migrated(conn: asyncpg.Connection, raw_url: str, *, upgrade: bool) -> None:
    """Raise `TargetNotMigrated` unless the target is at head (upgrading it if asked).

    An empty target gets the head schema's DDL (`postgres_schema`) in one transaction;
    any other goes through Alembic's migrations."""
    from ballsy.db import postgres_schema
    from ballsy.db.migrate import HEAD

    current = await current_revision(conn)
    if current == HEAD:
        return
    if upgrade:
        fresh = current is None and postgres_schema.REVISION == HEAD
        if fresh and await create_head_schema(conn):
            return
        from ballsy.db import migrate  # Alembic: only the coordinator, only here

        await asyncio.to_thread(migrate.upgrade, raw_url)
        return
    where = "has no Ballsy schema" if current is None else f"is at revision {current}"
    raise TargetNotMigrated(
        f"the target database {where}; Ballsy needs revision {HEAD}. Run "
        "`ballsy db upgrade` against it first, or pass --migrate to upgrade it now."
    )


async def create_head_schema(conn: asyncpg.Connection) -> bool:
    """Create the head schema in a database whose `public` schema holds no table, in one
    transaction; False, changing nothing, when it holds one (the migrations' job then).
    Two imports starting at once take turns on a transaction lock: the second finds
    the tables."""
    from ballsy.db import postgres_schema

    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK_KEY)
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        )
        if tables:
            return False
        for statement in postgres_schema.STATEMENTS:
            await conn.execute(statement)
        await conn.execute(
            "INSERT INTO alembic_version (version_num) VALUES ($1)", postgres_schema.REVISION
        )
    return True


async def take_lock(conn: asyncpg.Connection) -> None:
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
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


async def non_empty_tables(conn: asyncpg.Connection) -> list[str]:
    names = []
    for spec in TABLES:
        if await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{spec.name}")'):  # noqa: S608  # nosec B608
            names.append(spec.name)
    return names


async def check_can_import(conn: asyncpg.Connection, fingerprint: str) -> Ranges:
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
    busy = await non_empty_tables(conn)
    if busy:
        raise TargetNotEmpty(
            f"the target already has rows in {', '.join(busy)}; imports keep their ids, "
            "so they go into a database with no Ballsy data yet"
        )
    return {}


async def prepare_state(conn: asyncpg.Connection) -> None:
    await conn.execute(_CREATE_STATE)


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


async def defer_indexes(conn: asyncpg.Connection) -> int:
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
            found = await conn.fetch(_DEFERRABLE_INDEXES, [spec.name for spec in TABLES])
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
        except asyncpg.PostgresError as exc:
            raise ImportFailed(
                f"re-creating index {index} on {table} failed: {type(exc).__name__}: {exc}. "
                "The imported rows are kept; the index is re-created by the next run."
            ) from None


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


async def move_sequences(conn: asyncpg.Connection) -> None:
    """Set each id sequence so Ballsy's next row gets an id past every imported one."""
    for spec in TABLES:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{spec.name}\"', 'id'), m, true) "  # noqa: S608  # nosec B608
            f'FROM (SELECT max(id) AS m FROM "{spec.name}") AS t WHERE m IS NOT NULL'
        )


FOREIGN_KEYS: tuple[tuple[str, str, str], ...] = (
    ("conversations", "user_id", "users"),
    ("messages", "conversation_id", "conversations"),
    ("settings", "user_id", "users"),
    ("command_history", "user_id", "users"),
)


async def dangling_count(raw_url: str, table: str, column: str, parent: str) -> int:
    """How many rows of `table` reference (through `column`) a `parent` row that does not
    exist; one foreign key of FOREIGN_KEYS, on a connection of its own."""
    conn = await connect(raw_url)
    try:
        return int(
            await conn.fetchval(
                f'SELECT count(*) FROM "{table}" AS c WHERE NOT EXISTS '  # noqa: S608  # nosec B608
                f'(SELECT 1 FROM "{parent}" AS p WHERE p.id = c."{column}")'
            )
        )
    finally:
        await conn.close()


async def bucket_digests(
    conn: asyncpg.Connection, spec: TableSpec, table_buckets: Sequence[Bucket]
) -> tuple[int, dict[Bucket, bytes]]:
    """The table's row count and, per bucket, the digest of its rows' binary COPY stream
    as PostgreSQL writes it from the stored values (see `checksum`)."""
    count = 0
    digests: dict[Bucket, bytes] = {}
    for bucket in table_buckets:
        digest = new_digest()

        async def sink(chunk: bytes, digest: Any = digest) -> None:
            digest.update(chunk)

        status = await conn.copy_from_query(
            bucket_query(spec, bucket), output=sink, format="binary"
        )
        count += int(str(status).rsplit(" ", 1)[-1])  # "COPY <rows>"
        digests[bucket] = digest.digest()
    return count, digests


async def finish_table(
    raw_url: str, spec: TableSpec, table_buckets: Sequence[Bucket]
) -> tuple[int, dict[Bucket, bytes]]:
    """Re-create the table's deferred indexes and give its row count and bucket digests.

    The primary key comes back first: the digests read the rows in id order through it.
    Then the other indexes and the digests, side by side, on connections of their own, so
    a loaded table is finished while other tables still load.
    """
    indexing = await connect(raw_url)
    try:
        await restore_indexes(indexing, spec.name, primary_key=True)

        async def checksum() -> tuple[int, dict[Bucket, bytes]]:
            conn = await connect(raw_url)
            try:
                return await bucket_digests(conn, spec, table_buckets)
            finally:
                await conn.close()

        async with asyncio.TaskGroup() as group:
            group.create_task(restore_indexes(indexing, spec.name, primary_key=False))
            counted = group.create_task(checksum())
    finally:
        await indexing.close()
    return counted.result()
