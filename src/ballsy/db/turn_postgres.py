"""Stored turns on PostgreSQL: two round trips per batch, built once from the models.

One read (each user's memory and latest conversation, LATERAL), then one statement that
writes the whole plan (data-modifying CTEs over `unnest` of one array per column: new
conversations, touched conversations, messages, history rows, users), committed on its
own. The read takes no lock, so the write first locks the rows of the batch's users (in
id order) and writes only if the memory of those whose turns checked it is still what
the plan assumed; if not (another instance changed it in between), the batch is read and
written again inside a transaction, the users' rows locked by the read. The statements'
text never depends on the batch's size, so each is prepared once per connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
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
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.selectable import TableValuedAlias

from ballsy.db.models import CommandHistory, Conversation, Message, User, UserSettings
from ballsy.db.turn_plan import (
    ACTIVITY,
    CONVERSATIONS,
    HISTORY,
    MESSAGES,
    SETTINGS,
    USERS,
    BatchPlan,
    Memory,
    Turn,
    history_rows,
    message_rows,
    plan_batch,
    stored_columns,
    user_rows,
)


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
    columns = stored_columns(table) if names is None else [table.c[n] for n in names]
    return {c.key: c.type for c in columns}


_PG_LATEST = (
    select(Conversation.id, ACTIVITY.label("activity"))
    .where(Conversation.user_id == User.id)
    .order_by(ACTIVITY.desc(), Conversation.id.desc())
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
        _types(USERS, ["id", "last_result"]) | _types(SETTINGS, ["timezone"]),
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
        _types(CONVERSATIONS, ["user_id", "started_at", "last_activity_at"]),
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
    touches = _unnest("touched", _types(CONVERSATIONS, ["id", "last_activity_at"]))
    touched = (
        update(Conversation)
        .where(Conversation.id == touches.c.id, ok)
        .values(last_activity_at=touches.c.last_activity_at)
        .returning(Conversation.id)
        .cte("touched_conversations")
    )
    message_columns = _types(MESSAGES)
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
    history_columns = _types(HISTORY)
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
        _types(USERS, ["id", "last_seen_at", "last_result"]) | {"set_result": Boolean()},
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
    messages = message_rows(plan)
    return (
        _arrays("assumed", assumed, ("id", "last_result", "timezone"))
        | _arrays("new_conversations", new, ("user_id", "started_at", "last_activity_at"))
        | _arrays("touched", touched, ("id", "last_activity_at"))
        | _arrays("message_rows", messages, messages[0].keys())
        | _arrays("history_rows", history_rows(plan), _types(HISTORY).keys())
        | _arrays("user_rows", user_rows(plan), ("id", "last_seen_at", "last_result", "set_result"))
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
