"""Group commit: every stored turn of this instance goes through one writer task.

Turns waiting to be stored are written together, in one transaction, with multi-row
statements (the messages, the history rows, one conversation touch and one user update
per user). The next batch starts as soon as the previous commit returns, so a lone turn
commits at once and a busy instance writes hundreds of turns per commit instead of one
commit (and four round trips through the driver's thread) each.

Guarantees:
- `store` returns only after the turn's own transaction committed; a caller acknowledges
  the turn (TurnEnded) after that, so an acknowledged turn is never lost.
- A failed batch fails exactly its turns. A connection failure fails them all with
  `database_unavailable`; a constraint failure (say, a user deleted mid-turn) is retried
  turn by turn so that only the offending turn fails.
- The queue is bounded: a full queue refuses the turn with `busy` at once.
- `aclose` stores everything already queued before it returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ballsy.db.engine import DATABASE_UNAVAILABLE_ERRORS, sqlite_pragmas
from ballsy.db.models import (
    CommandHistory,
    Conversation,
    Message,
    User,
    UserSettings,
    UTCDateTime,
)
from ballsy.db.repositories import TurnRecord
from ballsy.errors import BallsyError, Busy, DatabaseUnavailable

log = logging.getLogger("ballsy.db.turns")

UNCHANGED: Any = object()

# What a turn's answer was computed from: the user's (last_result, stored time zone).
Memory = tuple[str | None, str | None]


class StaleMemory(Exception):
    """The user's memory changed (another instance, or a settings change) after the turn
    read it: the turn was not stored and must be answered again from fresh memory."""


# The statements, built once (building a statement costs more than running it on SQLite);
# SQLAlchemy's compiled cache then skips compilation on every batch.
_ACTIVITY = type_coerce(
    func.coalesce(Conversation.last_activity_at, Conversation.started_at), UTCDateTime()
)
# Each user's open conversation: the most recently active one (as the conversation list
# orders them), so a conversation reopened from the list takes the next turn.
_RANKED_CONVERSATIONS = (
    select(
        Conversation.user_id,
        Conversation.id,
        _ACTIVITY.label("activity"),
        func.row_number()
        .over(
            partition_by=Conversation.user_id,
            order_by=(_ACTIVITY.desc(), Conversation.id.desc()),
        )
        .label("rank"),
    )
    .where(Conversation.user_id.in_(bindparam("user_ids", expanding=True)))
    .subquery()
)
_LATEST_CONVERSATIONS = select(
    _RANKED_CONVERSATIONS.c.user_id,
    _RANKED_CONVERSATIONS.c.id,
    _RANKED_CONVERSATIONS.c.activity,
).where(_RANKED_CONVERSATIONS.c.rank == 1)
# The users' memory, locked for the batch (PostgreSQL; SQLite has one writer anyway), so
# that no other instance changes it between this check and this batch's commit.
_MEMORY_FOR_UPDATE = (
    select(User.id, User.last_result, UserSettings.timezone)
    .outerjoin(UserSettings, UserSettings.user_id == User.id)
    .where(User.id.in_(bindparam("user_ids", expanding=True)))
    .order_by(User.id)
    .with_for_update(of=User)
)
_NEW_CONVERSATION = (
    insert(Conversation)
    .values(
        user_id=bindparam("b_user"),
        started_at=bindparam("b_at", type_=UTCDateTime()),
        last_activity_at=bindparam("b_at", type_=UTCDateTime()),
    )
    .returning(Conversation.id)
)
_TOUCH_CONVERSATION = (
    update(Conversation)
    .where(Conversation.id == bindparam("b_id"))
    .values(last_activity_at=bindparam("b_at", type_=UTCDateTime()))
)
_INSERT_MESSAGES = insert(Message)
_INSERT_HISTORY = insert(CommandHistory)
_TOUCH_USER = (
    update(User)
    .where(User.id == bindparam("b_id"))
    .values(last_seen_at=bindparam("b_seen", type_=UTCDateTime()))
)
_TOUCH_USER_RESULT = (
    update(User)
    .where(User.id == bindparam("b_id"))
    .values(
        last_seen_at=bindparam("b_seen", type_=UTCDateTime()),
        last_result=bindparam("b_result", type_=User.last_result.type),
    )
)


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
        # On a SQLite file the writer uses the stdlib driver directly (this engine), on a
        # thread of its own; None elsewhere.
        self.direct: Engine | None = None
        self._sqlite_thread: ThreadPoolExecutor | None = None
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
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
        except (IntegrityError, DataError) as exc:
            if len(batch) == 1:
                log.warning("a turn could not be stored", extra={"error": type(exc).__name__})
                _fail(batch, _refused)
                return
            # One bad turn must not fail the others: store them one by one.
            for pending in batch:
                await self._write([pending])
            return
        except DATABASE_UNAVAILABLE_ERRORS as exc:
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
        turns = [(p.turn, p.last_result, p.expected) for p in batch]
        if self.direct is not None:
            if self._sqlite_thread is None:
                self._sqlite_thread = ThreadPoolExecutor(1, thread_name_prefix="ballsy-turns")
            # The whole batch in the writer's own thread: one hand-off per batch instead of
            # one per statement, fetch and commit through aiosqlite's thread.
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._sqlite_thread, self._commit_sqlite, turns)
        async with self.engine.begin() as conn:
            return await conn.run_sync(write_turns, turns, idle_gap=self.idle_gap)

    def _commit_sqlite(self, turns: list[tuple[TurnRecord, Any, Memory | None]]) -> set[int]:
        assert self.direct is not None
        with self.direct.begin() as conn:
            return write_turns(conn, turns, idle_gap=self.idle_gap)


def write_turns(
    conn: Connection,
    turns: list[tuple[TurnRecord, Any, Memory | None]],
    *,
    idle_gap: timedelta,
) -> set[int]:
    """Store `turns` (each with its new arithmetic memory or UNCHANGED, and the memory
    its answer was computed from or None) in the caller's transaction, in order: a turn
    joins its user's latest conversation if that was active within `idle_gap` of the
    turn, else starts a new one. Returns the indexes of the turns not stored because
    their user's memory is no longer what they expected."""
    user_ids = sorted({turn.user_id for turn, _, _ in turns})
    memory: dict[int, Memory] = {}
    if any(expected is not None for _, _, expected in turns):
        rows = conn.execute(_MEMORY_FOR_UPDATE, {"user_ids": user_ids})
        memory = {row[0]: (row[1], row[2]) for row in rows}
    stale: set[int] = set()
    open_by_user: dict[int, tuple[int, datetime]] = {
        row[0]: (row[1], row[2])
        for row in conn.execute(_LATEST_CONVERSATIONS, {"user_ids": user_ids})
    }
    touched: dict[int, datetime] = {}
    messages: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    seen: dict[int, datetime] = {}
    results: dict[int, Any] = {}
    for index, (turn, last_result, expected) in enumerate(turns):
        known = memory.get(turn.user_id)
        # An unknown user is left to the foreign key (the turn is refused, not retried).
        if expected is not None and known is not None and known != expected:
            stale.add(index)
            continue
        if known is not None and last_result is not UNCHANGED:
            memory[turn.user_id] = (last_result, known[1])
        at = turn.created_at
        current = open_by_user.get(turn.user_id)
        if current is None or current[1] <= at - idle_gap:
            conversation_id = (
                conn.execute(_NEW_CONVERSATION, {"b_user": turn.user_id, "b_at": at})
            ).scalar_one()
            current = (conversation_id, at)
        else:
            conversation_id = current[0]
            if at > current[1]:
                current = (conversation_id, at)
                touched[conversation_id] = at
        open_by_user[turn.user_id] = current
        common = {"conversation_id": conversation_id, "created_at": at, "turn_id": turn.turn_id}
        messages.append({**common, "is_user": True, "content": turn.command, "interrupted": False})
        messages.append(
            {**common, "is_user": False, "content": turn.response, "interrupted": turn.interrupted}
        )
        history.append(
            {
                "user_id": turn.user_id,
                "command": turn.command,
                "result": turn.response,
                "created_at": at,
                "turn_id": turn.turn_id,
                "source": turn.source,
                "family": turn.family,
                "action": turn.action,
                "action_data": turn.action_data,
                "interrupted": turn.interrupted,
                "first_text_ms": turn.first_text_ms,
                "total_ms": turn.total_ms,
            }
        )
        seen[turn.user_id] = max(at, seen.get(turn.user_id, at))
        if last_result is not UNCHANGED:
            results[turn.user_id] = last_result
    if touched:
        conn.execute(
            _TOUCH_CONVERSATION, [{"b_id": cid, "b_at": at} for cid, at in touched.items()]
        )
    if not history:
        return stale
    conn.execute(_INSERT_MESSAGES, messages)
    conn.execute(_INSERT_HISTORY, history)
    plain = [{"b_id": uid, "b_seen": at} for uid, at in seen.items() if uid not in results]
    if plain:
        conn.execute(_TOUCH_USER, plain)
    with_result = [
        {"b_id": uid, "b_seen": seen[uid], "b_result": value} for uid, value in results.items()
    ]
    if with_result:
        conn.execute(_TOUCH_USER_RESULT, with_result)
    return stale


def _fail(batch: list[_Pending], error: Callable[[], Exception]) -> None:
    for pending in batch:
        if not pending.done.done():
            pending.done.set_exception(error())
            # A caller that gave up (cancelled) never reads it; don't log it as unretrieved.
            pending.done.exception()


def _unavailable() -> BallsyError:
    return DatabaseUnavailable(
        "The database is unavailable right now; please try again in a moment."
    )


def _refused() -> BallsyError:
    return BallsyError(
        "This turn could not be stored (the database refused it); your other turns are safe."
    )
