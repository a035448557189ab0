"""Group commit of stored turns, on SQLite and PostgreSQL: turns waiting together share
one transaction, each caller returns only after its own commit, a failure fails only the
turns it touched, the queue is bounded, and closing stores what was queued."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, select

from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db import repositories as repo
from ballsy.db.engine import build_engine, build_sessionmaker
from ballsy.db.models import CommandHistory, Conversation, Message, User
from ballsy.db.turn_store import StaleMemory, TurnWriter
from ballsy.errors import BallsyError, Busy, DatabaseUnavailable
from tests.pg import free_port

GAP = timedelta(minutes=30)
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _turn(user_id: int, n: int, when: datetime = START) -> repo.TurnRecord:
    return repo.TurnRecord(
        user_id=user_id,
        turn_id=f"turn-{user_id}-{n}",
        command=f"command {n}",
        response=f"reply {n}",
        source="local",
        family="arithmetic",
        action=None,
        action_data={"n": n},
        interrupted=False,
        created_at=when + timedelta(seconds=n),
        first_text_ms=1.0,
        total_ms=2.0,
    )


def _run(
    make_settings: Callable[..., Settings],
    url: str,
    body: Callable[[TurnWriter, list[int], Any], Awaitable[None]],
    *,
    users: int = 3,
    **writer: Any,
) -> None:
    migrate.upgrade(url)

    async def scenario() -> None:
        engine = build_engine(make_settings().database, url=url)
        sessions = build_sessionmaker(engine)
        try:
            async with sessions() as session:
                ids = [
                    (await repo.create_anonymous_user(session, token_hash=f"{i:064d}")).id
                    for i in range(users)
                ]
                await session.commit()
            turns = TurnWriter(engine, idle_gap=GAP, **writer)
            try:
                await body(turns, ids, sessions)
            finally:
                await turns.aclose()
        finally:
            await engine.dispose()

    asyncio.run(scenario())


def test_waiting_turns_share_a_transaction_and_keep_their_order(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    async def body(turns: TurnWriter, ids: list[int], sessions: Any) -> None:
        # A lone turn is written at once, in a batch of its own.
        await turns.store(_turn(ids[0], 0), last_result="4/1")
        assert (turns.batches, turns.turns) == (1, 1)
        # 60 turns submitted together: far fewer commits than turns.
        jobs = [
            turns.store(_turn(uid, n), last_result=f"{n}/1" if n % 2 else None)
            for n in range(1, 21)
            for uid in ids
        ]
        await asyncio.gather(*jobs)
        assert turns.turns == 61
        assert turns.batches < 10, turns.batches
        async with sessions() as session:
            for uid in ids:
                rows = (
                    await session.execute(
                        select(CommandHistory.command)
                        .where(CommandHistory.user_id == uid)
                        .order_by(CommandHistory.id)
                    )
                ).all()
                first = 0 if uid == ids[0] else 1
                assert [r[0] for r in rows] == [f"command {n}" for n in range(first, 21)]
                conversations = (
                    await session.execute(select(Conversation).where(Conversation.user_id == uid))
                ).scalars()
                (conversation,) = list(conversations)
                assert conversation.last_activity_at == START + timedelta(seconds=20)
                messages = (
                    await session.execute(
                        select(Message.is_user, Message.content)
                        .where(Message.conversation_id == conversation.id)
                        .order_by(Message.id)
                    )
                ).all()
                assert len(messages) == 2 * (21 - first)
                assert messages[-2:] == [(True, "command 20"), (False, "reply 20")]
                user = await session.get(User, uid)
                assert user is not None
                # The last turn that set the memory (n=20 cleared it) wins.
                assert user.last_result is None
                assert user.last_seen_at == START + timedelta(seconds=20)

    _run(make_settings, database_url, body)


def test_idle_gap_inside_one_batch_starts_a_new_conversation(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    async def body(turns: TurnWriter, ids: list[int], sessions: Any) -> None:
        late = START + GAP + timedelta(minutes=5)
        await asyncio.gather(
            turns.store(_turn(ids[0], 0)),
            turns.store(_turn(ids[0], 1)),
            turns.store(_turn(ids[0], 2, when=late)),
        )
        async with sessions() as session:
            counts = (
                await session.execute(
                    select(Message.conversation_id)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(Conversation.user_id == ids[0])
                    .order_by(Message.id)
                )
            ).all()
            conversation_ids = [row[0] for row in counts]
            assert conversation_ids[0] == conversation_ids[3]
            assert conversation_ids[4] == conversation_ids[5] != conversation_ids[0]

    _run(make_settings, database_url, body, users=1)


def test_a_refused_turn_fails_alone(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    async def body(turns: TurnWriter, ids: list[int], sessions: Any) -> None:
        missing_user = max(ids) + 1000  # violates the users foreign key
        outcomes = await asyncio.gather(
            turns.store(_turn(ids[0], 1)),
            turns.store(_turn(missing_user, 1)),
            turns.store(_turn(ids[1], 1)),
            return_exceptions=True,
        )
        assert outcomes[0] is None and outcomes[2] is None, outcomes
        assert isinstance(outcomes[1], BallsyError)
        assert outcomes[1].code == "internal_error"
        async with sessions() as session:
            stored = (
                await session.execute(select(CommandHistory.user_id).order_by(CommandHistory.id))
            ).all()
            assert sorted(row[0] for row in stored) == sorted(ids[:2])

    _run(make_settings, database_url, body)


def test_a_full_queue_refuses_with_busy_and_close_flushes(
    make_settings: Callable[..., Settings], sqlite_url: str
) -> None:
    async def body(turns: TurnWriter, ids: list[int], sessions: Any) -> None:
        # The three tasks run before the writer task does: the third finds the queue full.
        tasks = [asyncio.create_task(turns.store(_turn(ids[0], n))) for n in range(3)]
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert outcomes[:2] == [None, None]
        assert isinstance(outcomes[2], Busy) and outcomes[2].code == "busy"
        # Queued turns are stored by close; a turn offered while it closes is refused.
        more = [asyncio.create_task(turns.store(_turn(ids[1], n))) for n in range(2)]
        await asyncio.sleep(0)  # let both enqueue
        closing = asyncio.create_task(turns.aclose())
        await asyncio.sleep(0)  # close has begun; the writer has not finished its batch
        with pytest.raises(Busy):
            await turns.store(_turn(ids[1], 8))
        await closing
        assert await asyncio.gather(*more) == [None, None]
        # Closed like a disposed engine: usable again (an app whose lifespan runs twice).
        await turns.store(_turn(ids[1], 9))
        async with sessions() as session:
            stored = (await session.execute(select(CommandHistory.turn_id))).all()
            assert len(stored) == 5

    _run(make_settings, sqlite_url, body, max_queue=2)


def test_an_unreachable_database_fails_the_batch_as_unavailable(
    make_settings: Callable[..., Settings],
) -> None:
    async def scenario() -> None:
        settings = make_settings(db_connect_timeout_seconds=2.0)
        engine = build_engine(
            settings.database, url=f"postgresql://postgres@127.0.0.1:{free_port()}/x"
        )
        turns = TurnWriter(engine, idle_gap=GAP)
        try:
            outcomes = await asyncio.gather(
                *(turns.store(_turn(1, n)) for n in range(3)), return_exceptions=True
            )
            assert all(isinstance(o, DatabaseUnavailable) for o in outcomes), outcomes
            assert {o.code for o in outcomes if isinstance(o, BallsyError)} == {
                "database_unavailable"
            }
        finally:
            await turns.aclose()
            await engine.dispose()

    asyncio.run(scenario())


def test_a_turn_computed_from_changed_memory_is_not_stored(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    async def body(turns: TurnWriter, ids: list[int], sessions: Any) -> None:
        await turns.store(_turn(ids[0], 0), last_result="4/1")
        # Computed from (4, no zone): still current. The next one, computed from the
        # memory before that turn, is stale; so is one assuming a zone that is not stored.
        await turns.store(_turn(ids[0], 1), last_result="10/1", expected=("4/1", None))
        with pytest.raises(StaleMemory):
            await turns.store(_turn(ids[0], 2), last_result="9/1", expected=("4/1", None))
        with pytest.raises(StaleMemory):
            await turns.store(_turn(ids[0], 3), expected=("10/1", "Europe/Paris"))
        # Inside one batch the check sees the batch's earlier turns.
        outcomes = await asyncio.gather(
            turns.store(_turn(ids[1], 1), last_result="1/1", expected=(None, None)),
            turns.store(_turn(ids[1], 2), last_result="2/1", expected=(None, None)),
            return_exceptions=True,
        )
        assert outcomes[0] is None and isinstance(outcomes[1], StaleMemory), outcomes
        async with sessions() as session:
            stored = (
                await session.execute(select(CommandHistory.turn_id).order_by(CommandHistory.id))
            ).all()
            assert [row[0] for row in stored] == [
                f"turn-{ids[0]}-0",
                f"turn-{ids[0]}-1",
                f"turn-{ids[1]}-1",
            ]
            first = await session.get(User, ids[0])
            second = await session.get(User, ids[1])
            assert first is not None and second is not None
            assert (first.last_result, second.last_result) == ("10/1", "1/1")

    _run(make_settings, database_url, body)


def test_a_nul_character_is_stored_as_the_replacement_character(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    async def body(turns: TurnWriter, ids: list[int], sessions: Any) -> None:
        turn = replace(_turn(ids[0], 1), command="say\x00this", response="an AI\x00reply\x00")
        await turns.store(turn)
        async with sessions() as session:
            history = (
                await session.execute(select(CommandHistory.command, CommandHistory.result))
            ).one()
            assert tuple(history) == ("say\ufffdthis", "an AI\ufffdreply\ufffd")
            messages = (await session.execute(select(Message.content).order_by(Message.id))).all()
            assert [row[0] for row in messages] == ["say\ufffdthis", "an AI\ufffdreply\ufffd"]

    _run(make_settings, database_url, body, users=1)


@pytest.mark.postgres
def test_memory_changed_between_the_read_and_the_write_is_caught(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    """The batch's read takes no lock: another instance changing a user's memory after
    it is caught by the write, and the batch is planned again under the users' locks."""

    async def body(turns: TurnWriter, ids: list[int], sessions: Any) -> None:
        await turns.store(_turn(ids[0], 0), last_result="4/1")
        await turns.store(_turn(ids[1], 0), last_result="1/1")
        writes: list[str] = []

        def other_instance_writes_first(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
            if not statement.startswith("WITH"):
                return
            writes.append(statement)
            if len(writes) == 1:  # between this batch's read and its write
                with psycopg.connect(postgres_url, autocommit=True) as other:
                    other.execute("UPDATE users SET last_result = '7/1' WHERE id = %s", (ids[0],))

        event.listen(turns.engine.sync_engine, "before_cursor_execute", other_instance_writes_first)
        outcomes = await asyncio.gather(
            turns.store(_turn(ids[0], 1), last_result="8/1", expected=("4/1", None)),
            turns.store(_turn(ids[1], 1), last_result="2/1", expected=("1/1", None)),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], StaleMemory) and outcomes[1] is None, outcomes
        assert len(writes) == 2  # the optimistic write, refused; the locked one
        async with sessions() as session:
            stored = (
                await session.execute(select(CommandHistory.turn_id).order_by(CommandHistory.id))
            ).all()
            assert [row[0] for row in stored] == [
                f"turn-{ids[0]}-0",
                f"turn-{ids[1]}-0",
                f"turn-{ids[1]}-1",
            ]
            results = (
                await session.execute(select(User.last_result).order_by(User.id).limit(2))
            ).all()
            assert [row[0] for row in results] == ["7/1", "2/1"]

    _run(make_settings, postgres_url, body)


@pytest.mark.postgres
def test_text_longer_than_its_column_is_refused_not_cut(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    async def body(turns: TurnWriter, ids: list[int], sessions: Any) -> None:
        outcomes = await asyncio.gather(
            turns.store(replace(_turn(ids[0], 1), family="f" * 33)),  # the column holds 32
            turns.store(_turn(ids[1], 1)),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], BallsyError) and outcomes[1] is None, outcomes
        async with sessions() as session:
            families = (await session.execute(select(CommandHistory.family))).all()
            assert [row[0] for row in families] == ["arithmetic"]

    _run(make_settings, postgres_url, body, users=2)
