"""Conversation boundaries and retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db import repositories as repo
from ballsy.db.engine import build_engine, build_sessionmaker
from ballsy.db.models import (
    COMMAND_MAX_CHARS,
    REPLY_MAX_CHARS,
    CommandHistory,
    Conversation,
    Message,
)

GAP = timedelta(minutes=30)


def _turn(user_id: int, when: datetime, n: int) -> repo.TurnRecord:
    return repo.TurnRecord(
        user_id=user_id,
        turn_id=f"turn-{n}",
        command=f"command {n}",
        response=f"reply {n}",
        source="local",
        family="greeting",
        action=None,
        action_data=None,
        interrupted=False,
        created_at=when,
        first_text_ms=1.0,
        total_ms=2.0,
    )


def test_idle_gap_starts_a_new_conversation_and_retention_prunes(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    migrate.upgrade(database_url)

    async def scenario() -> None:
        engine = build_engine(make_settings().database, url=database_url)
        sessions = build_sessionmaker(engine)
        start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        try:
            async with sessions() as session:
                user = await repo.create_anonymous_user(session, token_hash="h" * 64)
                other = await repo.create_anonymous_user(session, token_hash="k" * 64)
                times = [start, start + timedelta(minutes=10), start + timedelta(minutes=50)]
                for n, when in enumerate(times):
                    await repo.record_turn(
                        session, _turn(user.id, when, n), idle_gap=GAP, last_result="56/1"
                    )
                await repo.record_turn(session, _turn(other.id, start, 9), idle_gap=GAP)
                await session.commit()
            async with sessions() as session:
                conversations = await repo.list_conversations(session, user.id, limit=10)
                assert [count for _c, count in conversations] == [2, 4]
                conn = await session.connection()
                state = await repo.turn_memory(
                    conn, user.id, now=start, idle_gap=GAP, context_messages=0
                )
                assert state == repo.TurnMemory("56/1", None, [])
                assert (
                    await repo.turn_memory(conn, 10**9, now=start, idle_gap=GAP, context_messages=4)
                    is None
                )
                # A conversation started on request takes the next turn.
                fresh = await repo.start_conversation(
                    session, user.id, now=start + timedelta(minutes=51)
                )
                await repo.record_turn(
                    session, _turn(user.id, start + timedelta(minutes=52), 3), idle_gap=GAP
                )
                await session.commit()
                conn = await session.connection()  # the commit released the last one
                memory = await repo.turn_memory(
                    conn,
                    user.id,
                    now=start + timedelta(minutes=53),
                    idle_gap=GAP,
                    context_messages=10,
                )
                assert memory is not None and memory.last_result == "56/1"
                assert memory.context == [(True, "command 3", False), (False, "reply 3", False)]
                newest = await repo.turn_memory(
                    conn,
                    user.id,
                    now=start + timedelta(minutes=53),
                    idle_gap=GAP,
                    context_messages=1,
                )
                assert newest is not None and newest.context == [(False, "reply 3", False)]
                assert fresh.id == max(
                    c.id for c, _n in await repo.list_conversations(session, user.id, limit=10)
                )
                closed = await repo.turn_memory(
                    conn, user.id, now=start + timedelta(hours=5), idle_gap=GAP, context_messages=10
                )
                # Idle too long: the next turn starts a new conversation, the state stays.
                assert closed == repo.TurnMemory("56/1", None, [])

                removed = await repo.delete_history_before(session, start + timedelta(minutes=30))
                await session.commit()
                assert removed == 3 + 6  # three turns before the cutoff: history rows, messages
            async with sessions() as session:
                history = await session.scalar(select(func.count()).select_from(CommandHistory))
                left = await session.scalar(select(func.count()).select_from(Message))
                conversations_left = await session.scalar(
                    select(func.count()).select_from(Conversation)
                )
                assert history == 2 and left == 4
                assert conversations_left == 4
        finally:
            await engine.dispose()

    asyncio.run(scenario())


def test_history_reads_are_bounded_in_bytes_and_per_value(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    """A 3 MB command (an older import's) comes back cut at the column's limit, and many
    long replies stop at the byte budget instead of filling the response."""
    migrate.upgrade(database_url)

    async def scenario() -> None:
        engine = build_engine(make_settings().database, url=database_url)
        sessions = build_sessionmaker(engine)
        start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        try:
            async with sessions() as session:
                user = await repo.create_anonymous_user(session, token_hash="h" * 64)
                huge = "é" * 3_000_000
                session.add(
                    CommandHistory(user_id=user.id, command=huge, result=huge, created_at=start)
                )
                for n in range(60):
                    session.add(
                        CommandHistory(
                            user_id=user.id,
                            command=f"command {n}",
                            result="r" * REPLY_MAX_CHARS,
                            created_at=start + timedelta(seconds=n + 1),
                        )
                    )
                await session.commit()
            async with sessions() as session:
                newest = await repo.history(session, user.id, limit=200)
            size = sum(len(e.command.encode()) + len((e.result or "").encode()) for e in newest)
            assert 0 < size <= repo.HISTORY_MAX_BYTES
            assert 1 < len(newest) < 61  # stopped by bytes, not by the limit of 200
            assert [e.command for e in newest[:2]] == ["command 59", "command 58"]
            assert all(e.result == "r" * REPLY_MAX_CHARS for e in newest)  # at the limit: whole
            # Alone in a read, the oversized turn comes back cut, marked, within the limits.
            async with sessions() as session:
                await session.execute(delete(CommandHistory).where(CommandHistory.command != huge))
                await session.commit()
                (only,) = await repo.history(session, user.id, limit=10)
            assert len(only.command) == COMMAND_MAX_CHARS
            assert only.command.endswith(repo.CUT_MARKER) and only.command.startswith("éé")
            assert only.result is not None and len(only.result) == REPLY_MAX_CHARS
            assert only.result.endswith(repo.CUT_MARKER)
        finally:
            await engine.dispose()

    asyncio.run(scenario())
