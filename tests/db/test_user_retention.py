"""The anonymous-user retention rule, on SQLite and PostgreSQL: idle users with no
turns go, in batches; users with turns, recent users and imported users stay."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from ballsy.cli import app
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db import repositories as repo
from ballsy.db.engine import build_engine, build_sessionmaker
from ballsy.db.models import Conversation, User, UserSettings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=40)
CUTOFF = NOW - timedelta(days=30)
GAP = timedelta(minutes=30)
Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T")


def _turn(user_id: int, when: datetime, n: int) -> repo.TurnRecord:
    return repo.TurnRecord(
        user_id=user_id,
        turn_id=f"turn-{user_id}-{n}",
        command="what is seven times eight",
        response="56",
        source="local",
        family="arithmetic",
        action=None,
        action_data=None,
        interrupted=False,
        created_at=when,
        first_text_ms=1.0,
        total_ms=2.0,
    )


async def _user(sessions: Sessions, *, seen: datetime, name: str | None = None) -> int:
    async with sessions() as session:
        user = await repo.create_anonymous_user(session, token_hash=secrets.token_hex(32))
        values: dict[str, object] = {"created_at": seen, "last_seen_at": seen}
        if name is not None:
            values["username"] = name
        await session.execute(update(User).where(User.id == user.id).values(**values))
        await session.commit()
        return user.id


async def _user_ids(sessions: Sessions) -> set[int]:
    async with sessions() as session:
        return set((await session.scalars(select(User.id))).all())


async def _count(sessions: Sessions, model: type[UserSettings] | type[Conversation]) -> int:
    async with sessions() as session:
        return int((await session.scalar(select(func.count()).select_from(model))) or 0)


def test_idle_anonymous_users_without_turns_are_deleted_in_batches(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    migrate.upgrade(database_url)

    async def scenario() -> None:
        engine = build_engine(make_settings().database, url=database_url)
        sessions = build_sessionmaker(engine)
        try:
            idle = [await _user(sessions, seen=LONG_AGO) for _ in range(7)]
            async with sessions() as session:  # an empty conversation is no data
                await repo.start_conversation(session, idle[0], now=LONG_AGO)
                await session.commit()
            talked = await _user(sessions, seen=LONG_AGO)
            async with sessions() as session:
                await repo.record_turn(session, _turn(talked, LONG_AGO, 1), idle_gap=GAP)
                await session.commit()
            recent = await _user(sessions, seen=NOW - timedelta(days=1))
            imported = await _user(sessions, seen=LONG_AGO, name="alice")

            deleted = await repo.prune_anonymous_users(sessions, cutoff=CUTOFF, batch=3)
            assert deleted == 7
            assert await _user_ids(sessions) == {talked, recent, imported}
            assert await _count(sessions, UserSettings) == 3  # theirs went with them
            assert await _count(sessions, Conversation) == 1  # the talker's

            # Nothing left to do: a second run deletes nothing.
            assert await repo.prune_anonymous_users(sessions, cutoff=CUTOFF, batch=3) == 0

            # Only when the operator asks do idle users with history go, data and all.
            deleted = await repo.prune_anonymous_users(
                sessions, cutoff=CUTOFF, batch=3, with_history=True
            )
            assert deleted == 1
            assert await _user_ids(sessions) == {recent, imported}
            assert await _count(sessions, Conversation) == 0
        finally:
            await engine.dispose()

    asyncio.run(scenario())


def test_a_batch_limit_bounds_one_run(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    migrate.upgrade(database_url)

    async def scenario() -> None:
        engine = build_engine(make_settings().database, url=database_url)
        sessions = build_sessionmaker(engine)
        try:
            for _ in range(5):
                await _user(sessions, seen=LONG_AGO)
            first = await repo.prune_anonymous_users(
                sessions, cutoff=CUTOFF, batch=2, max_batches=1
            )
            assert first == 2
            assert len(await _user_ids(sessions)) == 3
        finally:
            await engine.dispose()

    asyncio.run(scenario())


def test_the_prune_command_deletes_only_users_with_no_turns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings]
) -> None:
    url = f"sqlite:///{tmp_path / 'ballsy.db'}"
    monkeypatch.setenv("BALLSY_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    migrate.upgrade(url)

    async def seed() -> tuple[int, int]:
        engine = build_engine(make_settings().database, url=url)
        sessions = build_sessionmaker(engine)
        try:
            old = await _user(sessions, seen=datetime.now(UTC) - timedelta(days=10))
            new = await _user(sessions, seen=datetime.now(UTC))
            return old, new
        finally:
            await engine.dispose()

    _old, new = asyncio.run(seed())
    runner = CliRunner()
    result = runner.invoke(app, ["users", "prune", "--days", "7"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 anonymous users with no turns" in result.output

    async def remaining() -> set[int]:
        engine = build_engine(make_settings().database, url=url)
        try:
            return await _user_ids(build_sessionmaker(engine))
        finally:
            await engine.dispose()

    assert asyncio.run(remaining()) == {new}

    monkeypatch.setenv("ANONYMOUS_USER_RETENTION_DAYS", "0")
    refused = runner.invoke(app, ["users", "prune"])
    assert refused.exit_code == 2 and "retention is off" in refused.output


def run_on(
    url: str, make_settings: Callable[..., Settings], work: Callable[[Sessions], Awaitable[T]]
) -> T:
    """Run `work` against the database at `url` with an engine of its own."""

    async def go() -> T:
        engine = build_engine(make_settings().database, url=url)
        try:
            return await work(build_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_the_batch_finds_idle_users_through_the_last_seen_index(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    """Many recent users, a few idle ones: the retention query, exactly as the batch
    sends it, is planned through ix_users_last_seen_at, not a scan of every user.
    SQLite is left unanalysed, as a deployment leaves it; PostgreSQL is analysed, as
    autovacuum would have done."""
    migrate.upgrade(database_url)
    is_sqlite = database_url.startswith("sqlite")

    async def scenario(sessions: Sessions) -> str:
        recent = [
            {"username": f"anon-recent-{n}", "created_at": LONG_AGO, "last_seen_at": NOW}
            for n in range(3000)
        ]
        idle = [
            {"username": f"anon-idle-{n}", "created_at": LONG_AGO, "last_seen_at": LONG_AGO}
            for n in range(5)
        ]
        # Never seen (an imported row, say): its creation time counts, as before.
        never_seen = [{"username": "anon-never-seen", "created_at": LONG_AGO}]
        async with sessions() as session:
            await session.execute(insert(User), recent + idle + never_seen)
            await session.commit()
            if not is_sqlite:
                await session.execute(text("ANALYZE users"))
                await session.commit()

        sent: list[tuple[str, object]] = []

        def record(
            _conn: object, _cursor: object, statement: str, params: object, *_: object
        ) -> None:
            if statement.lstrip().startswith("SELECT users.id"):
                sent.append((statement, params))

        async with sessions() as session:
            connection = await session.connection()
            event.listen(connection.sync_connection, "before_cursor_execute", record)
            deleted = await repo.delete_idle_anonymous_users(session, cutoff=CUTOFF, batch=100)
            event.remove(connection.sync_connection, "before_cursor_execute", record)
            assert deleted == 6
            [(statement, params)] = sent
            explain = "EXPLAIN QUERY PLAN " if is_sqlite else "EXPLAIN "
            plan = await connection.exec_driver_sql(explain + statement, params)  # type: ignore[arg-type]
            return "\n".join(str(row[-1] if is_sqlite else row[0]) for row in plan)

    plan = run_on(database_url, make_settings, scenario)
    assert "ix_users_last_seen_at" in plan, plan


def test_the_server_applies_the_rule_when_it_starts(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    make_client: Callable[..., object],
) -> None:
    url = f"sqlite:///{tmp_path / 'ballsy.db'}"
    migrate.upgrade(url)
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    old = run_on(url, make_settings, lambda s: _user(s, seen=three_days_ago))
    kept = run_on(url, make_settings, lambda s: _user(s, seen=datetime.now(UTC)))
    make_client(url, anonymous_user_retention_days=2)
    deadline = time.monotonic() + 30
    remaining = run_on(url, make_settings, _user_ids)
    while old in remaining and time.monotonic() < deadline:
        time.sleep(0.1)
        remaining = run_on(url, make_settings, _user_ids)
    assert remaining == {kept}
