"""The statements that store a batch of turns, per database, built once from the models.

PostgreSQL, two round trips per batch: one read (each user's memory and latest
conversation, LATERAL), then one statement that writes the whole plan (data-modifying
CTEs over `unnest` of one array per column: new conversations, touched conversations,
messages, history rows, users), committed on its own. That read takes no lock, so the
write first locks the rows of the users whose turns checked their memory and writes
only if that memory is still what the plan assumed; if not (another instance changed it
in between), the batch is read and written again inside a transaction, the users' rows
locked by the read. The statements' text never depends on the batch's size, so each is
prepared once per connection.

SQLite: the same plan through a handful of executemany statements, in the writer's own
thread (a local call costs no round trip).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    column,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.selectable import TableValuedAlias

from ballsy.db.models import (
    CommandHistory,
    Conversation,
    Message,
    User,
    UserSettings,
    UTCDateTime,
)
from ballsy.db.turn_plan import UNCHANGED, BatchPlan, Memory, NewConversation, Turn, plan_batch

_USERS: Table = User.__table__  # type: ignore[assignment]
_SETTINGS: Table = UserSettings.__table__  # type: ignore[assignment]
_CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
_MESSAGES: Table = Message.__table__  # type: ignore[assignment]
_HISTORY: Table = CommandHistory.__table__  # type: ignore[assignment]

# A conversation's latest activity: the order the conversation list shows, and how the
# open one (the one a turn joins) is chosen, so a conversation reopened from the list
# takes the next turn.
_ACTIVITY = type_coerce(
    func.coalesce(Conversation.last_activity_at, Conversation.started_at), UTCDateTime()
)


def _stored_columns(table: Table) -> list[Column[Any]]:
    """The columns a batch fills: all but the generated primary key."""
    return [c for c in table.columns if not c.primary_key]


def _message_rows(plan: BatchPlan) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for turn, conversation in plan.turns:
        if isinstance(conversation, NewConversation):
            conversation_id, new_user, new_at = (
                conversation.id,
                conversation.user_id,
                conversation.started_at,
            )
        else:
            conversation_id, new_user, new_at = conversation, None, None
        common = {
            "conversation_id": conversation_id,
            "new_user_id": new_user,
            "new_started_at": new_at,
            "created_at": turn.created_at,
            "turn_id": turn.turn_id,
        }
        rows.append({**common, "is_user": True, "content": turn.command, "interrupted": False})
        rows.append(
            {**common, "is_user": False, "content": turn.response, "interrupted": turn.interrupted}
        )
    return rows


def _history_rows(plan: BatchPlan) -> list[dict[str, Any]]:
    return [
        {
            "user_id": turn.user_id,
            "command": turn.command,
            "result": turn.response,
            "created_at": turn.created_at,
            "turn_id": turn.turn_id,
            "source": turn.source,
            "family": turn.family,
            "action": turn.action,
            "action_data": turn.action_data,
            "interrupted": turn.interrupted,
            "first_text_ms": turn.first_text_ms,
            "total_ms": turn.total_ms,
        }
        for turn, _ in plan.turns
    ]


def _user_rows(plan: BatchPlan) -> list[dict[str, Any]]:
    return [
        {
            "id": user_id,
            "last_seen_at": seen,
            "set_result": result is not UNCHANGED,
            "last_result": None if result is UNCHANGED else result,
        }
        for user_id, (seen, result) in plan.users.items()
    ]


# --- PostgreSQL ---------------------------------------------------------------------------


def _unnest(name: str, columns: dict[str, Any]) -> TableValuedAlias:
    """`unnest($1::t1[], …) WITH ORDINALITY AS name(c1, …, ordinality)`: one row per
    element of the array parameters `{name}_{column}`, each of its model column's type."""
    arrays = [
        bindparam(f"{name}_{key}", type_=ARRAY(_unbounded(type_))) for key, type_ in columns.items()
    ]
    return (
        func.unnest(*arrays)
        .table_valued(
            *(column(key, type_) for key, type_ in columns.items()),
            with_ordinality="ordinality",
            name=name,
        )
        .render_derived(name=name)
    )


def _unbounded(type_: Any) -> Any:
    """A string array's elements without the column's length: a cast to VARCHAR(n) would
    cut a longer value, where storing it in the column refuses it (as a single row does)."""
    return String() if isinstance(type_, String) else type_


def _types(table: Table, names: Iterable[str] | None = None) -> dict[str, Any]:
    columns = _stored_columns(table) if names is None else [table.c[n] for n in names]
    return {c.key: c.type for c in columns}


_PG_LATEST = (
    select(Conversation.id, _ACTIVITY.label("activity"))
    .where(Conversation.user_id == User.id)
    .order_by(_ACTIVITY.desc(), Conversation.id.desc())
    .limit(1)
    .lateral("latest")
)
# Each user's memory and latest conversation: the batch's one read.
_PG_READ = (
    select(User.id, User.last_result, UserSettings.timezone, _PG_LATEST.c.id, _PG_LATEST.c.activity)
    .outerjoin(UserSettings, UserSettings.user_id == User.id)
    .outerjoin(_PG_LATEST, true())
    .where(User.id == any_(bindparam("user_ids", type_=ARRAY(Integer))))
    .order_by(User.id)
)
# The same, the users' rows locked until the transaction ends (in id order).
_PG_READ_LOCKED = _PG_READ.with_for_update(of=User)


def _pg_write() -> Any:
    assumed = _unnest(
        "assumed",
        _types(_USERS, ["id", "last_result"]) | _types(_SETTINGS, ["timezone"]),
    )
    # Every user the batch writes, locked in id order (as every writer locks them, so
    # two writers never wait on each other in a cycle), with the memory the plan assumed
    # for those whose turns checked it.
    locked = (
        select(
            User.last_result,
            UserSettings.timezone,
            assumed.c.id.label("assumed_id"),
            assumed.c.last_result.label("assumed_result"),
            assumed.c.timezone.label("assumed_timezone"),
        )
        .outerjoin(assumed, assumed.c.id == User.id)
        .outerjoin(UserSettings, UserSettings.user_id == User.id)
        .where(User.id == any_(bindparam("user_rows_id", type_=ARRAY(Integer))))
        .order_by(User.id)
        .with_for_update(of=User)
        .cte("locked")
        .prefix_with("MATERIALIZED")
    )
    unchanged = select(
        ~exists()
        .where(
            locked.c.assumed_id.is_not(None),
            or_(
                locked.c.last_result.is_distinct_from(locked.c.assumed_result),
                locked.c.timezone.is_distinct_from(locked.c.assumed_timezone),
            ),
        )
        .label("ok")
    ).cte("unchanged")
    ok = select(unchanged.c.ok).scalar_subquery()

    conversations = _unnest(
        "new_conversations",
        _types(_CONVERSATIONS, ["user_id", "started_at", "last_activity_at"]),
    )
    started = (
        insert(Conversation)
        .from_select(
            ["user_id", "started_at", "last_activity_at"],
            select(
                conversations.c.user_id,
                conversations.c.started_at,
                conversations.c.last_activity_at,
            )
            .where(ok)
            .order_by(conversations.c.ordinality),
        )
        .returning(Conversation.id, Conversation.user_id, Conversation.started_at)
        .cte("started")
    )
    touches = _unnest("touched", _types(_CONVERSATIONS, ["id", "last_activity_at"]))
    touched = (
        update(Conversation)
        .where(Conversation.id == touches.c.id, ok)
        .values(last_activity_at=touches.c.last_activity_at)
        .returning(Conversation.id)
        .cte("touched_conversations")
    )
    message_columns = _types(_MESSAGES)
    messages = _unnest(
        "message_rows",
        message_columns
        | {
            "new_user_id": Conversation.user_id.type,
            "new_started_at": Conversation.started_at.type,
        },
    )
    stored_messages = (
        insert(Message)
        .from_select(
            list(message_columns),
            select(
                *(
                    func.coalesce(messages.c.conversation_id, started.c.id)
                    if key == "conversation_id"
                    else messages.c[key]
                    for key in message_columns
                )
            )
            .select_from(messages)
            .outerjoin(
                started,
                and_(
                    started.c.user_id == messages.c.new_user_id,
                    started.c.started_at == messages.c.new_started_at,
                ),
            )
            .where(ok)
            .order_by(messages.c.ordinality),
        )
        .returning(Message.id)
        .cte("stored_messages")
    )
    history_columns = _types(_HISTORY)
    history = _unnest("history_rows", history_columns)
    stored_history = (
        insert(CommandHistory)
        .from_select(
            list(history_columns),
            select(*(history.c[key] for key in history_columns))
            .where(ok)
            .order_by(history.c.ordinality),
        )
        .returning(CommandHistory.id)
        .cte("stored_history")
    )
    users = _unnest(
        "user_rows",
        _types(_USERS, ["id", "last_seen_at", "last_result"]) | {"set_result": Boolean()},
    )
    seen = (
        update(User)
        .where(User.id == users.c.id, ok)
        .values(
            last_seen_at=users.c.last_seen_at,
            last_result=case((users.c.set_result, users.c.last_result), else_=User.last_result),
        )
        .returning(User.id)
        .cte("seen_users")
    )
    return select(unchanged.c.ok).add_cte(touched, stored_messages, stored_history, seen)


_PG_WRITE = _pg_write()


def _arrays(name: str, rows: list[dict[str, Any]], keys: Iterable[str]) -> dict[str, list[Any]]:
    return {f"{name}_{key}": [row[key] for row in rows] for key in keys}


def _pg_parameters(plan: BatchPlan) -> dict[str, Any]:
    assumed = [
        {"id": user_id, "last_result": memory[0], "timezone": memory[1]}
        for user_id, memory in plan.assumed.items()
    ]
    new = [
        {"user_id": c.user_id, "started_at": c.started_at, "last_activity_at": c.last_activity_at}
        for c in plan.new_conversations
    ]
    touched = [{"id": cid, "last_activity_at": at} for cid, at in plan.touched.items()]
    messages = _message_rows(plan)
    return (
        _arrays("assumed", assumed, ("id", "last_result", "timezone"))
        | _arrays("new_conversations", new, ("user_id", "started_at", "last_activity_at"))
        | _arrays("touched", touched, ("id", "last_activity_at"))
        | _arrays("message_rows", messages, messages[0].keys())
        | _arrays("history_rows", _history_rows(plan), _types(_HISTORY).keys())
        | _arrays(
            "user_rows", _user_rows(plan), ("id", "last_seen_at", "last_result", "set_result")
        )
    )


async def _pg_plan(
    conn: AsyncConnection, read: Any, turns: list[Turn], idle_gap: timedelta
) -> BatchPlan:
    user_ids = sorted({turn.user_id for turn, _, _ in turns})
    memory: dict[int, Memory] = {}
    latest: dict[int, tuple[int, Any]] = {}
    for row in await conn.execute(read, {"user_ids": user_ids}):
        memory[row[0]] = (row[1], row[2])
        if row[3] is not None:
            latest[row[0]] = (row[3], row[4])
    return plan_batch(turns, memory=memory, latest=latest, idle_gap=idle_gap)


async def write_turns_postgres(
    engine: AsyncEngine, turns: list[Turn], *, idle_gap: timedelta
) -> set[int]:
    """Store `turns` (see `plan_batch`), committed before this returns; the indexes of
    the turns not stored because their memory changed."""
    async with engine.connect() as conn:
        # Each statement commits on its own: the write is one statement, so it is atomic.
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        plan = await _pg_plan(conn, _PG_READ, turns, idle_gap)
        if not plan.turns or (await conn.execute(_PG_WRITE, _pg_parameters(plan))).scalar_one():
            return plan.stale
    # A user's memory changed between the read and the write: again, under the users' locks.
    async with engine.begin() as conn:
        plan = await _pg_plan(conn, _PG_READ_LOCKED, turns, idle_gap)
        if plan.turns:
            written = (await conn.execute(_PG_WRITE, _pg_parameters(plan))).scalar_one()
            assert written, "the users' rows are locked: their memory cannot have changed"
        return plan.stale


# --- SQLite -------------------------------------------------------------------------------

_SQLITE = sqlite.dialect()


class _Direct:
    """A Core statement compiled once for the stdlib `sqlite3` driver: its SQL text, and
    each positional parameter's name and bind processing (its type's own, as SQLAlchemy
    applies it), so that a batch runs as plain `executemany` calls, without SQLAlchemy's
    per-execution work (a third of the batch's CPU on SQLite)."""

    def __init__(self, statement: Any) -> None:
        compiled = statement.compile(dialect=_SQLITE)
        self.sql: str = compiled.string
        binds = [compiled.binds[name] for name in compiled.positiontup or ()]
        # (name, None) for a named parameter, (None, value) for a constant in the statement.
        self.sources = [
            (None, bind.effective_value) if bind.unique else (bind.key, None) for bind in binds
        ]
        self.processors = [
            (index, process)
            for index, bind in enumerate(binds)
            if (process := bind.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)) is not None
        ]

    def parameters(self, row: dict[str, Any]) -> list[Any]:
        values = [row[key] if key is not None else constant for key, constant in self.sources]
        for index, process in self.processors:
            values[index] = process(values[index])
        return values

    def run(self, connection: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
        if rows:
            connection.executemany(self.sql, [self.parameters(row) for row in rows])


def _same(value: Any) -> Any:
    return value


def _inserting(table: Table) -> Any:
    """INSERT of every column a batch fills, each value a parameter named after it."""
    return insert(table).values(
        {c.key: bindparam(c.key, type_=c.type) for c in _stored_columns(table)}
    )


# The batch's users, as one JSON array parameter: the statement's text never depends on
# the batch's size.
_SQLITE_USERS = (
    select(column("value", Integer))
    .select_from(func.json_each(bindparam("user_ids", type_=String())))
    .scalar_subquery()
)
_SQLITE_RANKED = (
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
    .where(Conversation.user_id.in_(_SQLITE_USERS))
    .subquery("ranked")
)
# Each user's memory and latest conversation: the batch's one read (inside its write
# transaction, which SQLite holds alone).
_SQLITE_READ = _Direct(
    select(
        User.id,
        User.last_result,
        UserSettings.timezone,
        _SQLITE_RANKED.c.id,
        _SQLITE_RANKED.c.activity,
    )
    .outerjoin(UserSettings, UserSettings.user_id == User.id)
    .outerjoin(
        _SQLITE_RANKED,
        and_(_SQLITE_RANKED.c.user_id == User.id, _SQLITE_RANKED.c.rank == 1),
    )
    .where(User.id.in_(_SQLITE_USERS))
)
_SQLITE_ACTIVITY = UTCDateTime().dialect_impl(_SQLITE).result_processor(_SQLITE, None) or _same
_SQLITE_NEW_CONVERSATION = _Direct(_inserting(_CONVERSATIONS).returning(Conversation.id))
_SQLITE_TOUCH_CONVERSATIONS = _Direct(
    update(Conversation)
    .where(Conversation.id == bindparam("id", type_=Integer()))
    .values(last_activity_at=bindparam("last_activity_at", type_=UTCDateTime()))
)
_SQLITE_MESSAGES = _Direct(_inserting(_MESSAGES))
_SQLITE_HISTORY = _Direct(_inserting(_HISTORY))
_SQLITE_USERS_SEEN = _Direct(
    update(User)
    .where(User.id == bindparam("id", type_=Integer()))
    .values(
        last_seen_at=bindparam("last_seen_at", type_=UTCDateTime()),
        last_result=case(
            (
                bindparam("set_result", type_=Boolean()),
                bindparam("last_result", type_=User.last_result.type),
            ),
            else_=User.last_result,
        ),
    )
)


def write_turns_sqlite(
    connection: sqlite3.Connection, turns: list[Turn], *, idle_gap: timedelta
) -> set[int]:
    """Store `turns` (see `plan_batch`) in one transaction, committed before this
    returns; the indexes of the turns not stored because their memory changed. Driver
    errors come out as SQLAlchemy's (IntegrityError, OperationalError…), like the
    rest of the database layer's."""
    try:
        # IMMEDIATE: the write lock first, so the read is the state the batch writes on.
        connection.execute("BEGIN IMMEDIATE")
        try:
            stale = _write_sqlite(connection, turns, idle_gap)
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
        return stale
    except sqlite3.Error as exc:
        raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc


def _write_sqlite(
    connection: sqlite3.Connection, turns: list[Turn], idle_gap: timedelta
) -> set[int]:
    user_ids = json.dumps(sorted({turn.user_id for turn, _, _ in turns}))
    memory: dict[int, Memory] = {}
    latest: dict[int, tuple[int, Any]] = {}
    for row in connection.execute(
        _SQLITE_READ.sql, _SQLITE_READ.parameters({"user_ids": user_ids})
    ):
        memory[row[0]] = (row[1], row[2])
        if row[3] is not None:
            latest[row[0]] = (row[3], _SQLITE_ACTIVITY(row[4]))
    plan = plan_batch(turns, memory=memory, latest=latest, idle_gap=idle_gap)
    if not plan.turns:
        return plan.stale
    for new in plan.new_conversations:
        row = {
            "user_id": new.user_id,
            "started_at": new.started_at,
            "last_activity_at": new.last_activity_at,
        }
        new.id = connection.execute(
            _SQLITE_NEW_CONVERSATION.sql, _SQLITE_NEW_CONVERSATION.parameters(row)
        ).fetchone()[0]
    _SQLITE_TOUCH_CONVERSATIONS.run(
        connection, [{"id": cid, "last_activity_at": at} for cid, at in plan.touched.items()]
    )
    _SQLITE_MESSAGES.run(connection, _message_rows(plan))
    _SQLITE_HISTORY.run(connection, _history_rows(plan))
    _SQLITE_USERS_SEEN.run(connection, _user_rows(plan))
    return plan.stale
