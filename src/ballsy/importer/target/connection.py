"""Connections to the target: the DSN asyncpg takes, and the writers' session settings."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from ballsy.importer.errors import TargetUnsupported


def asyncpg_dsn(raw_url: str) -> str:
    """A libpq-style DSN asyncpg accepts, from any URL form Ballsy accepts."""
    # SQLAlchemy parses the URL forms; imported here so the worker processes, which get
    # the DSN ready-made, start without it (about 0.15 s and 119 modules each, measured).
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
