"""Group commit: every stored turn of this instance goes through one writer task.

Turns waiting to be stored are written together, one batch per commit. The next batch
starts as soon as the previous commit returns, so a lone turn commits at once and a busy
instance writes hundreds of turns per commit. A batch is planned in Python from one read
(db/turn_plan.py) and written with set-based statements built from the models: on
PostgreSQL one statement, two round trips in all (db/turn_postgres.py); on SQLite a few
`executemany` calls on the stdlib driver, in the writer's own thread (db/turn_sqlite.py).

Guarantees:
- `store` returns only after the turn's own transaction committed; a caller acknowledges
  the turn (TurnEnded) after that, so an acknowledged turn is never lost.
- A failed batch fails exactly its turns. A connection failure fails them all with
  `database_unavailable`; a constraint failure or a refused value (say, a user deleted
  mid-turn, or text longer than its column) is retried turn by turn so that only the
  offending turn fails.
- A turn stored with the memory its answer was computed from is stored only if that is
  still the user's memory (checked under the user's row lock on PostgreSQL, inside the
  write transaction on SQLite), else `StaleMemory`: two instances serving one user never
  store an answer computed from memory the other changed.
- NUL characters in a turn's text (which PostgreSQL refuses) are stored as U+FFFD.
- The queue is bounded: a full queue refuses the turn with `busy` at once.
- `aclose` stores everything already queued before it returns.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ballsy.db.engine import DATABASE_UNAVAILABLE_ERRORS, sqlite_pragmas
from ballsy.db.errors import classify
from ballsy.db.repositories import TurnRecord
from ballsy.db.turn_plan import UNCHANGED, Memory, Turn
from ballsy.db.turn_postgres import write_turns_postgres
from ballsy.db.turn_sqlite import write_turns_sqlite
from ballsy.errors import BallsyError, Busy, DatabaseUnavailable

__all__ = ["UNCHANGED", "Memory", "StaleMemory", "TurnWriter"]

log = logging.getLogger("ballsy.db.turns")


class StaleMemory(Exception):
    """The user's memory changed (another instance, or a settings change) after the turn
    read it: the turn was not stored and must be answered again from fresh memory."""


@dataclass(slots=True)
class _Pending:
    turn: TurnRecord
    last_result: Any  # str | None, or UNCHANGED
    expected: Memory | None  # checked against the database before storing, if given
    done: asyncio.Future[None]


class TurnWriter:
    """The one writer of stored turns for an engine (one per database per instance)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        idle_gap: timedelta,
        max_queue: int = 2000,
        max_batch: int = 500,
        busy_timeout_ms: int = 2000,
    ) -> None:
        self.engine = engine
        self.idle_gap = idle_gap
        self.max_queue = max_queue
        self.max_batch = max_batch
        self._pending: deque[_Pending] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        # On SQLite the writer uses the stdlib driver directly (this engine), on a thread
        # of its own; None on PostgreSQL.
        self.direct: Engine | None = None
        self._sqlite_thread: ThreadPoolExecutor | None = None
        database = engine.url.database
        if engine.dialect.name == "sqlite":
            if not database or database == ":memory:":
                # Each connection would see a database of its own.
                raise ValueError("stored turns need a SQLite file, not an in-memory database")
            self.direct = create_engine(
                engine.url.set(drivername="sqlite"), pool_size=1, max_overflow=0
            )

            def pragmas(dbapi_connection: Any, _record: Any) -> None:
                sqlite_pragmas(dbapi_connection, busy_timeout_ms)

            event.listen(self.direct, "connect", pragmas)
        # Observability: how many turns went into the batches written so far.
        self.batches = 0
        self.turns = 0

    @property
    def queued(self) -> int:
        return len(self._pending)

    async def store(
        self, turn: TurnRecord, *, last_result: Any = UNCHANGED, expected: Memory | None = None
    ) -> None:
        """Store one turn; returns once its transaction has committed.

        With `expected`, the turn is stored only if the user's memory in the database (in
        the batch's transaction, after the batch's earlier turns) is still what the
        answer was computed from; else `StaleMemory` is raised and nothing is stored.

        Raises `Busy` when the queue is full or the writer is closing, and
        `DatabaseUnavailable` (or another `BallsyError`) when its batch failed. A caller
        cancelled while waiting does not withdraw the turn: it is still stored."""
        if self._closing:
            raise Busy("The server is shutting down; please try again in a moment.")
        if len(self._pending) >= self.max_queue:
            raise Busy("The server is too busy to store this turn; please try again shortly.")
        self._ensure_running()
        assert self._wake is not None and self._loop is not None
        pending = _Pending(turn, last_result, expected, self._loop.create_future())
        self._pending.append(pending)
        self._wake.set()
        await asyncio.shield(pending.done)

    async def aclose(self) -> None:
        """Store the queued turns and stop the writer; turns offered meanwhile are refused
        with `busy`. Like disposing an engine, this leaves the writer usable: an app
        started again on the same services (its lifespan run twice) stores turns again."""
        self._closing = True
        try:
            if self._wake is not None:
                self._wake.set()
            task = self._task
            if task is not None and not task.done():
                try:
                    await task
                except Exception:  # already logged by the loop
                    log.debug("turn writer ended with an error", exc_info=True)
            thread, direct = self._sqlite_thread, self.direct
            if thread is not None and direct is not None:
                self._sqlite_thread = None
                await asyncio.get_running_loop().run_in_executor(thread, direct.dispose)
                thread.shutdown(wait=False)
        finally:
            self._closing = False

    # --- the writer task ----------------------------------------------------------------

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and self._loop is loop and not self._task.done():
            return
        if self._loop is not loop:
            # A new event loop (an app restarted in the same process): what was queued on
            # the old loop cannot be answered there any more.
            self._pending.clear()
        self._loop = loop
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="ballsy-turn-writer")

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [
                self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))
            ]
            try:
                await self._write(batch)
            except BaseException as exc:  # never leave a turn waiting forever
                log.exception("the turn writer failed a batch")
                _fail(batch, _unavailable)
                if not isinstance(exc, Exception):
                    raise

    def _take_pending(self) -> list[_Pending]:
        taken = list(self._pending)
        self._pending.clear()
        return taken

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            stale = await self._commit(batch)
        except DATABASE_UNAVAILABLE_ERRORS as exc:
            if _refused_value(exc):
                if len(batch) == 1:
                    log.warning("a turn could not be stored", extra={"error": type(exc).__name__})
                    _fail(batch, _refused)
                    return
                # One bad turn must not fail the others: store them one by one.
                for pending in batch:
                    await self._write([pending])
                return
            log.error(
                "database unavailable while storing turns", extra={"error": type(exc).__name__}
            )
            # The turns queued behind this batch would each wait out another full timeout
            # against the same silent server: they fail now, so every caller hears within
            # one statement timeout (DB_COMMAND_TIMEOUT_SECONDS), not a multiple of it.
            _fail(batch + self._take_pending(), _unavailable)
            return
        self.batches += 1
        self.turns += len(batch) - len(stale)
        for index, pending in enumerate(batch):
            if pending.done.done():
                continue
            if index in stale:
                pending.done.set_exception(StaleMemory())
                pending.done.exception()
            else:
                pending.done.set_result(None)

    async def _commit(self, batch: list[_Pending]) -> set[int]:
        turns: list[Turn] = [(p.turn, p.last_result, p.expected) for p in batch]
        if self.direct is not None:
            if self._sqlite_thread is None:
                self._sqlite_thread = ThreadPoolExecutor(1, thread_name_prefix="ballsy-turns")
            # The whole batch in the writer's own thread: one hand-off per batch instead of
            # one per statement, fetch and commit through aiosqlite's thread.
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._sqlite_thread, self._commit_sqlite, turns)
        return await write_turns_postgres(self.engine, turns, idle_gap=self.idle_gap)

    def _commit_sqlite(self, turns: list[Turn]) -> set[int]:
        assert self.direct is not None
        connection = self.direct.raw_connection()
        try:
            driver = connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            return write_turns_sqlite(driver, turns, idle_gap=self.idle_gap)
        finally:
            connection.close()


def _fail(batch: list[_Pending], error: Callable[[], Exception]) -> None:
    for pending in batch:
        if not pending.done.done():
            pending.done.set_exception(error())
            # A caller that gave up (cancelled) never reads it; don't log it as unretrieved.
            pending.done.exception()


def _refused_value(exc: Exception) -> bool:
    """A constraint or a value the database refused (say, a user deleted mid-turn, or
    text longer than its column; asyncpg reports the latter as a plain database error):
    a fault of some turn in the batch, not of the database."""
    return isinstance(exc, (IntegrityError, DataError)) or classify(exc) == "bad_data"


def _unavailable() -> BallsyError:
    return DatabaseUnavailable(
        "The database is unavailable right now; please try again in a moment."
    )


def _refused() -> BallsyError:
    return BallsyError(
        "This turn could not be stored (the database refused it); your other turns are safe."
    )
