"""Async engine and session factory, built from the database settings (never at import time).

Every wait on the database is bounded by the client, not only by the server: a server
that stops answering (paused, partitioned, overloaded) cannot enforce its own
statement_timeout. Connecting waits DB_CONNECT_TIMEOUT_SECONDS, a pool checkout
DB_POOL_TIMEOUT_SECONDS, each statement DB_COMMAND_TIMEOUT_SECONDS (asyncpg's
command_timeout; SQLite's busy timeout). A statement that timed out leaves its
connection in an unknown state, so that connection is dropped at once (no graceful
close, no rollback round trip that would wait as long again) and the pool's other
connections are invalidated with it: the next request reconnects.

SQLite connections are aiosqlite's, stopped at most once (see `SQLiteConnection`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ballsy.config_groups import DatabaseSettings
from ballsy.db.url import is_sqlite, prepare_sqlite_file, to_async_url

# What a lost or refused database connection raises, whichever driver is in use.
# (`ballsy.db.errors.database_error` tells these apart from bad data and an old schema.)
DATABASE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    DBAPIError,
    PoolTimeout,
    ConnectionError,
    TimeoutError,
)


def build_engine(database: DatabaseSettings, *, url: str | None = None) -> AsyncEngine:
    """Create the engine for `url` (default: the configured database)."""
    async_url = to_async_url(url or database.database_url_value())
    if is_sqlite(async_url):
        prepare_sqlite_file(async_url)
        # WAL lets readers share the file with one writer; stored turns all go through one
        # writer task (db/turn_store.py), so they rarely sleep in SQLite's busy handler,
        # which gives up after DB_COMMAND_TIMEOUT_SECONDS.
        engine = create_async_engine(
            async_url,
            pool_size=4,
            max_overflow=0,
            pool_timeout=database.db_pool_timeout_seconds,
            async_creator=_sqlite_connector(async_url, database.db_command_timeout_seconds),
        )
        busy_ms = round(database.db_command_timeout_seconds * 1000)

        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            sqlite_pragmas(dbapi_connection, busy_ms)

        event.listen(engine.sync_engine, "connect", pragmas)
        return engine
    connect_args: dict[str, Any] = {
        "timeout": database.db_connect_timeout_seconds,
        "command_timeout": database.db_command_timeout_seconds,
        "server_settings": {"application_name": "ballsy"},
    }
    if database.db_statement_timeout_ms:
        connect_args["server_settings"]["statement_timeout"] = str(database.db_statement_timeout_ms)
    engine = create_async_engine(
        async_url,
        pool_size=database.db_pool_size,
        max_overflow=database.db_max_overflow,
        pool_timeout=database.db_pool_timeout_seconds,
        # No pre-ping: it costs a round trip per checkout. A connection found dead is
        # invalidated with the whole pool, so one request fails (503) and the next reconnects.
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "handle_error", _drop_timed_out_connection)
    return engine


class SQLiteConnection(aiosqlite.Connection):
    """aiosqlite's connection, stopped at most once.

    A task cancelled while it holds a connection (a page closed mid-query, a server
    shutting down) makes SQLAlchemy terminate that connection: it starts a graceful close
    and, being cancelled itself, stops the connection at once. aiosqlite 0.22.1's close() then
    stopped it a second time and waited for a reply from its worker thread, which had
    ended with the first stop. That close never finished, and the server's shutdown
    (asyncio cancels the tasks left once, then waits for all of them) waited for it
    forever. Here a second stop queues nothing and returns the first one's future, which
    the thread does answer: the close waits until the file is closed and the thread has
    said its last word, so that word never reaches an event loop already closed."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        # As SQLAlchemy does for aiosqlite's own connect(): a connection never closed
        # must not keep the process alive at exit.
        self._thread.daemon = True
        self._stop_asked = False
        self._stopped: asyncio.Future[Any] | None = None

    def stop(self) -> asyncio.Future[Any] | None:
        if not self._stop_asked:
            self._stop_asked = True
            self._stopped = super().stop()
        return self._stopped


def _sqlite_connector(
    url: URL, busy_timeout_seconds: float
) -> Callable[[], Awaitable[SQLiteConnection]]:
    """What opens a new driver connection to `url`, with the arguments SQLAlchemy's
    aiosqlite dialect derives from the URL."""
    args, options = url.get_dialect()().create_connect_args(url)
    options["timeout"] = busy_timeout_seconds
    connector = partial(sqlite3.connect, *args, **options)

    async def connect() -> SQLiteConnection:
        connection = SQLiteConnection(connector)
        await connection  # starts its worker thread, which opens the file
        return connection

    return connect


def _drop_timed_out_connection(context: ExceptionContext) -> None:
    """A statement timed out by the client: treat it as a lost connection, and close the
    driver's connection without a goodbye (a graceful close would wait on the silent
    server for another two seconds)."""
    if not isinstance(context.original_exception, TimeoutError):
        return
    context.is_disconnect = True
    fairy = context.connection.connection if context.connection is not None else None
    driver = getattr(getattr(fairy, "dbapi_connection", None), "driver_connection", None)
    terminate = getattr(driver, "terminate", None)
    if callable(terminate):
        terminate()


def sqlite_pragmas(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


def build_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session in one transaction: committed on success, rolled back on any error."""
    async with sessions() as session, session.begin():
        yield session
