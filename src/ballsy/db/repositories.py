"""Queries, one small function each, over an `AsyncSession` the caller owns (or, for the
per-turn read, a Core `AsyncConnection`).

Every user-scoped function takes the user id it is allowed to touch; ownership is
decided by the caller (the API's auth dependency) before these run.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from ballsy.db.models import (
    COMMAND_MAX_CHARS,
    REPLY_MAX_CHARS,
    CommandHistory,
    Conversation,
    Message,
    RememberedFact,
    User,
    UserSettings,
    utcnow,
)

SETTINGS_FIELDS = ("voice", "voice_speed", "theme", "timezone")


# --- users and identity ------------------------------------------------------------


async def create_anonymous_user(session: AsyncSession, *, token_hash: str) -> User:
    """A new user row with an unguessable name and the hash of its bearer token."""
    now = utcnow()
    user = User(
        username=f"anon-{secrets.token_hex(8)}",
        token_hash=token_hash,
        token_issued_at=now,
        last_seen_at=now,
        created_at=now,
        is_placeholder=False,
    )
    session.add(user)
    await session.flush()
    session.add(UserSettings(user_id=user.id))
    await session.flush()
    return user


async def user_ids_by_token_hashes(
    session: AsyncSession, token_hashes: Sequence[str]
) -> dict[str, int]:
    """{token hash: user id} for those of `token_hashes` that belong to a user."""
    result = await session.execute(
        select(User.token_hash, User.id).where(User.token_hash.in_(token_hashes))
    )
    return {str(token_hash): int(user_id) for token_hash, user_id in result.all()}


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    result = await session.execute(select(User).where(User.username == username))
    return result.scalar_one_or_none()


async def set_token_hash(session: AsyncSession, user: User, token_hash: str) -> None:
    user.token_hash = token_hash
    user.token_issued_at = utcnow()
    await session.flush()


# --- settings ------------------------------------------------------------------------


async def get_settings(session: AsyncSession, user_id: int) -> UserSettings:
    """The user's settings, created with defaults on first use."""
    result = await session.execute(select(UserSettings).where(UserSettings.user_id == user_id))
    found = result.scalar_one_or_none()
    if found is None:
        found = UserSettings(user_id=user_id)
        session.add(found)
        await session.flush()
    return found


async def update_settings(
    session: AsyncSession, user_id: int, changes: dict[str, Any]
) -> UserSettings:
    current = await get_settings(session, user_id)
    for key, value in changes.items():
        if key in SETTINGS_FIELDS:
            setattr(current, key, value)
    await session.flush()
    return current


# --- conversations and turns -----------------------------------------------------------


async def start_conversation(session: AsyncSession, user_id: int, *, now: datetime) -> Conversation:
    conversation = Conversation(user_id=user_id, started_at=now, last_activity_at=now)
    session.add(conversation)
    await session.flush()
    return conversation


# A conversation's latest activity: the order conversations are listed in, and how the
# open one (the one a turn joins) is chosen, so a conversation reopened from the list
# takes the next turn.
_ACTIVITY = func.coalesce(Conversation.last_activity_at, Conversation.started_at)


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    conversation: Conversation
    messages: int
    # The first thing the user said in it (None for an empty conversation).
    title: str | None


async def list_conversations(
    session: AsyncSession, user_id: int, *, limit: int
) -> list[tuple[Conversation, int]]:
    """Most recently active first, each with its message count."""
    return [
        (s.conversation, s.messages)
        for s in await conversation_summaries(session, user_id, limit=limit)
    ]


async def conversation_summaries(
    session: AsyncSession, user_id: int, *, limit: int
) -> list[ConversationSummary]:
    """Most recently active first, each with its message count and first command."""
    counts = (
        select(Message.conversation_id, func.count(Message.id).label("n"))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.user_id == user_id)
        .group_by(Message.conversation_id)
        .subquery()
    )
    title = (
        select(Message.content)
        .where(Message.conversation_id == Conversation.id, Message.is_user.is_(True))
        .order_by(Message.id)
        .limit(1)
        .scalar_subquery()
    )
    result = await session.execute(
        select(Conversation, func.coalesce(counts.c.n, 0), title)
        .outerjoin(counts, counts.c.conversation_id == Conversation.id)
        .where(Conversation.user_id == user_id)
        .order_by(_ACTIVITY.desc(), Conversation.id.desc())
        .limit(limit)
    )
    return [ConversationSummary(row[0], int(row[1]), row[2]) for row in result.all()]


async def owned_conversation(
    session: AsyncSession, user_id: int, conversation_id: int
) -> Conversation | None:
    """The conversation if it belongs to `user_id`, else None (never another user's)."""
    result = await session.execute(
        select(Conversation).where(
            Conversation.id == conversation_id, Conversation.user_id == user_id
        )
    )
    return result.scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message with, for a reply, what its turn did (the action and its data)."""

    is_user: bool
    content: str
    created_at: datetime
    turn_id: str | None
    interrupted: bool
    source: str | None
    action: str | None
    action_data: dict[str, Any] | None


async def conversation_messages(
    session: AsyncSession, conversation: Conversation, *, limit: int
) -> list[StoredMessage]:
    """The conversation's last `limit` messages, oldest first; replies carry their turn's
    action (a link the page opened) from the turn's history row."""
    result = await session.execute(
        select(
            Message.is_user,
            Message.content,
            Message.created_at,
            Message.turn_id,
            Message.interrupted,
            CommandHistory.source,
            CommandHistory.action,
            CommandHistory.action_data,
        )
        .outerjoin(
            CommandHistory,
            (CommandHistory.turn_id == Message.turn_id)
            & (CommandHistory.user_id == conversation.user_id)
            & Message.is_user.is_(False),
        )
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [
        StoredMessage(
            is_user=bool(row[0]),
            content=row[1],
            created_at=row[2],
            turn_id=row[3],
            interrupted=bool(row[4]),
            source=row[5],
            action=row[6],
            action_data=row[7],
        )
        for row in reversed(result.all())
    ]


async def reopen_conversation(
    session: AsyncSession, conversation: Conversation, *, now: datetime
) -> None:
    """Make the conversation the open one: the next turn joins it."""
    conversation.last_activity_at = now
    await session.flush()


async def delete_conversation(session: AsyncSession, conversation: Conversation) -> None:
    """Remove the conversation, its messages and its turns' history rows."""
    turn_ids = (
        select(Message.turn_id)
        .where(Message.conversation_id == conversation.id, Message.turn_id.is_not(None))
        .scalar_subquery()
    )
    await session.execute(
        delete(CommandHistory).where(
            CommandHistory.user_id == conversation.user_id, CommandHistory.turn_id.in_(turn_ids)
        )
    )
    await session.execute(delete(Message).where(Message.conversation_id == conversation.id))
    await session.execute(delete(Conversation).where(Conversation.id == conversation.id))


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """Everything stored about one turn."""

    user_id: int
    turn_id: str
    command: str
    response: str
    source: str
    family: str
    action: str | None
    action_data: dict[str, Any] | None
    interrupted: bool
    created_at: datetime
    first_text_ms: float | None
    total_ms: float | None


@dataclass(frozen=True, slots=True)
class TurnMemory:
    """What a turn needs to know about its user, read in one statement on every turn."""

    last_result: str | None
    timezone: str | None
    # (is_user, content, interrupted) of the open conversation's last messages, oldest
    # first; `interrupted` marks a reply the user cut off (its content is what they heard).
    context: list[tuple[bool, str, bool]]


# The per-turn read, built once: on SQLite, building a select costs more than running it,
# and this read is on the path to every reply's first word.
_USER_STATE = (
    select(User.last_result, UserSettings.timezone)
    .outerjoin(UserSettings, UserSettings.user_id == User.id)
    .where(User.id == bindparam("user_id"))
)
# The user's latest conversation, if it was active after the cutoff (else the turn starts
# a new one), and its last messages, newest first.
_OPEN_CONVERSATION = (
    select(Conversation.id)
    .where(
        Conversation.user_id == bindparam("user_id"),
        func.coalesce(Conversation.last_activity_at, Conversation.started_at)
        > bindparam("active_after", type_=Conversation.started_at.type),
    )
    .order_by(_ACTIVITY.desc(), Conversation.id.desc())
    .limit(1)
    .scalar_subquery()
)
_CONTEXT = (
    select(Message.id, Message.is_user, Message.content, Message.interrupted)
    .where(Message.conversation_id == _OPEN_CONVERSATION)
    .order_by(Message.id.desc())
    .limit(bindparam("messages"))
    .subquery()
)
# One row per context message (or one row with NULL message columns when there is none).
_USER_STATE_AND_CONTEXT = (
    _USER_STATE.add_columns(_CONTEXT.c.is_user, _CONTEXT.c.content, _CONTEXT.c.interrupted)
    .outerjoin(_CONTEXT, true())
    .order_by(_CONTEXT.c.id.desc())
)


async def turn_memory(
    conn: AsyncConnection,
    user_id: int,
    *,
    now: datetime,
    idle_gap: timedelta,
    context_messages: int,
) -> TurnMemory | None:
    """The user's arithmetic memory and time zone and, when `context_messages` > 0, the
    last messages of their conversation if it is still open (active within `idle_gap`);
    None for an unknown user. One statement, on a Core connection: this runs every turn."""
    if context_messages <= 0:
        row = (await conn.execute(_USER_STATE, {"user_id": user_id})).first()
        return None if row is None else TurnMemory(row[0], row[1], [])
    rows = (
        await conn.execute(
            _USER_STATE_AND_CONTEXT,
            {"user_id": user_id, "active_after": now - idle_gap, "messages": context_messages},
        )
    ).all()
    if not rows:
        return None
    context = [(bool(row[2]), row[3], bool(row[4])) for row in reversed(rows) if row[3] is not None]
    return TurnMemory(rows[0][0], rows[0][1], context)


_UNCHANGED: Any = object()


async def record_turn(
    session: AsyncSession,
    turn: TurnRecord,
    *,
    idle_gap: timedelta,
    last_result: str | None = _UNCHANGED,
) -> None:
    """Store the user's words, the reply, the history row (and the new arithmetic memory)
    in the caller's transaction — a handful of Core statements, as this runs every turn."""
    conn = await session.connection()
    # Touch the user's latest conversation if it is still open: one statement.
    latest = (
        select(Conversation.id)
        .where(Conversation.user_id == turn.user_id)
        .order_by(_ACTIVITY.desc(), Conversation.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    conversation_id = (
        await conn.execute(
            update(Conversation)
            .where(
                Conversation.id == latest,
                func.coalesce(Conversation.last_activity_at, Conversation.started_at)
                > turn.created_at - idle_gap,
            )
            .values(last_activity_at=turn.created_at)
            .returning(Conversation.id)
        )
    ).scalar_one_or_none()
    if conversation_id is None:
        conversation_id = (
            await conn.execute(
                insert(Conversation)
                .values(
                    user_id=turn.user_id,
                    started_at=turn.created_at,
                    last_activity_at=turn.created_at,
                )
                .returning(Conversation.id)
            )
        ).scalar_one()
    common = {
        "conversation_id": conversation_id,
        "created_at": turn.created_at,
        "turn_id": turn.turn_id,
    }
    await conn.execute(
        insert(Message),
        [
            {**common, "is_user": True, "content": turn.command, "interrupted": False},
            {**common, "is_user": False, "content": turn.response, "interrupted": turn.interrupted},
        ],
    )
    await conn.execute(
        insert(CommandHistory).values(
            user_id=turn.user_id,
            command=turn.command,
            result=turn.response,
            created_at=turn.created_at,
            turn_id=turn.turn_id,
            source=turn.source,
            family=turn.family,
            action=turn.action,
            action_data=turn.action_data,
            interrupted=turn.interrupted,
            first_text_ms=turn.first_text_ms,
            total_ms=turn.total_ms,
        )
    )
    values: dict[str, Any] = {"last_seen_at": turn.created_at}
    if last_result is not _UNCHANGED:
        values["last_result"] = last_result
    await conn.execute(update(User).where(User.id == turn.user_id).values(**values))


async def replace_reply(
    conn: AsyncConnection, *, user_id: int, turn_id: str, response: str
) -> bool:
    """Make a stored reply what the user actually heard before cutting it off: the
    history row and the conversation's message, both marked interrupted. Only the
    user's own turn is touched; False when they have no turn `turn_id`."""
    updated = await conn.execute(
        update(CommandHistory)
        .where(CommandHistory.user_id == user_id, CommandHistory.turn_id == turn_id)
        .values(result=response, interrupted=True)
    )
    if not updated.rowcount:
        return False
    owned = select(Conversation.id).where(Conversation.user_id == user_id)
    await conn.execute(
        update(Message)
        .where(
            Message.turn_id == turn_id,
            Message.is_user.is_(False),
            Message.conversation_id.in_(owned),
        )
        .values(content=response, interrupted=True)
    )
    return True


# A history read returns at most this much text (UTF-8 bytes of commands and results):
# rows past it are left for a smaller `limit`. Each value is also cut, in the database,
# at its column's limit, so an oversized row (an older import's) is never read whole.
HISTORY_MAX_BYTES = 256 * 1024
# Ends a value that was longer than its column's limit.
CUT_MARKER = " […]"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: int
    user_id: int
    command: str
    result: str | None
    created_at: datetime


def _cut(column: Any, limit: int) -> Any:
    # One character more than the limit: enough to tell whether the value was longer.
    return func.substr(column, 1, limit + 1)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT_MARKER)] + CUT_MARKER


_HISTORY = (
    select(
        CommandHistory.id,
        CommandHistory.user_id,
        _cut(CommandHistory.command, COMMAND_MAX_CHARS),
        _cut(CommandHistory.result, REPLY_MAX_CHARS),
        CommandHistory.created_at,
    )
    .where(CommandHistory.user_id == bindparam("user_id"))
    .order_by(CommandHistory.id.desc())
    .limit(bindparam("limit"))
)


async def history(session: AsyncSession, user_id: int, *, limit: int) -> list[HistoryEntry]:
    """Newest first: at most `limit` turns and HISTORY_MAX_BYTES of text (at least one
    turn), each command and result at most its column's limit (cut ones end in
    CUT_MARKER)."""
    found: list[HistoryEntry] = []
    size = 0
    # Streamed: a read that stops at the byte budget leaves the remaining rows unfetched.
    rows = await session.stream(_HISTORY, {"user_id": user_id, "limit": limit})
    try:
        async for row_id, owner, command, result, created_at in rows:
            entry = HistoryEntry(
                row_id,
                owner,
                _fit(command, COMMAND_MAX_CHARS),
                None if result is None else _fit(result, REPLY_MAX_CHARS),
                created_at,
            )
            size += len(entry.command.encode()) + len((entry.result or "").encode())
            if found and size > HISTORY_MAX_BYTES:
                break
            found.append(entry)
    finally:
        await rows.close()
    return found


async def delete_history_before(session: AsyncSession, cutoff: datetime) -> int:
    """Retention: remove turns and messages older than `cutoff`; returns rows removed."""
    removed_history = await session.execute(
        delete(CommandHistory).where(CommandHistory.created_at < cutoff)
    )
    removed_messages = await session.execute(delete(Message).where(Message.created_at < cutoff))
    return int(removed_history.rowcount or 0) + int(removed_messages.rowcount or 0)  # type: ignore[attr-defined]


# --- retention of anonymous users --------------------------------------------------

ANONYMOUS_PREFIX = "anon-"


async def delete_idle_anonymous_users(
    session: AsyncSession, *, cutoff: datetime, batch: int, with_history: bool = False
) -> int:
    """Delete up to `batch` anonymous users last seen before `cutoff`; return how many.

    The retention rule: an anonymous user (made by `create_anonymous_user`, never an
    imported or placeholder one) that has no turn at all — no command history, no
    message and no remembered fact — and was not seen since `cutoff` is deleted with its
    settings and empty conversations. `with_history` (an operator's explicit choice) also
    deletes those that have turns, with all their data (remembered facts included, by
    ON DELETE CASCADE).

    The conditions are repeated on the deleted rows themselves: a user whose turn
    lands while the batch runs (it updates `last_seen_at`) is re-checked by
    PostgreSQL under its row lock and kept.
    """
    conditions = [
        User.username.startswith(ANONYMOUS_PREFIX, autoescape=True),
        User.is_placeholder.is_(False),
        # "Not seen since the cutoff", written so the index on last_seen_at serves it:
        # the same rows as coalesce(last_seen_at, created_at) < cutoff, which no plain
        # index can.
        or_(
            User.last_seen_at < cutoff,
            and_(User.last_seen_at.is_(None), User.created_at < cutoff),
        ),
    ]
    if not with_history:
        has_history = select(CommandHistory.id).where(CommandHistory.user_id == User.id).exists()
        has_messages = (
            select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.user_id == User.id)
            .exists()
        )
        # Remembered facts are the user's data too (they can outlive the turns that
        # made them, which history retention removes).
        has_memories = select(RememberedFact.id).where(RememberedFact.user_id == User.id).exists()
        conditions += [~has_history, ~has_messages, ~has_memories]
    # Unordered: any `batch` of them will do, and an ORDER BY id would lead SQLite's
    # planner to walk the whole table in id order instead of using the index.
    chosen = select(User.id).where(*conditions).limit(batch)
    ids = [row[0] for row in (await session.execute(chosen)).all()]
    if not ids:
        return 0
    result = await session.execute(
        delete(User)
        .where(User.id.in_(ids), *conditions)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune_anonymous_users(
    sessions: async_sessionmaker[AsyncSession],
    *,
    cutoff: datetime,
    batch: int = 500,
    with_history: bool = False,
    max_batches: int | None = None,
) -> int:
    """Apply `delete_idle_anonymous_users` in batches, one transaction each, until a
    batch finds fewer than `batch` users (or `max_batches` ran); return the total."""
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        async with sessions() as session:
            deleted = await delete_idle_anonymous_users(
                session, cutoff=cutoff, batch=batch, with_history=with_history
            )
            await session.commit()
        total += deleted
        batches += 1
        if deleted < batch:
            break
    return total
