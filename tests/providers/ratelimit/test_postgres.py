"""The PostgreSQL store: one atomic statement per check, shared by every instance."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db.engine import build_engine
from ballsy.errors import DatabaseUnavailable, RateLimited
from ballsy.providers.ratelimit.base import Budget
from ballsy.providers.ratelimit.limiter import RateLimiter
from ballsy.providers.ratelimit.memory import MemoryStore
from ballsy.providers.ratelimit.postgres import PostgresStore, bucket_key
from tests.pg import ThrowawayPostgres
from tests.providers.ratelimit.clock import FakeClock

pytestmark = pytest.mark.postgres

FIVE_PER_MINUTE = Budget.per_window("test", 5, 60)  # one token every 12 s
SettingsFactory = Callable[..., Settings]


@pytest.fixture
async def migrated_url(postgres_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, postgres_url)
    return postgres_url


@pytest.fixture
async def engine(migrated_url: str, make_settings: SettingsFactory) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(make_settings(database_url=migrated_url).database)
    try:
        yield engine
    finally:
        await engine.dispose()


def make_store(engine: AsyncEngine, **options: Any) -> PostgresStore:
    options.setdefault("fail_open", True)
    options.setdefault("fallback", MemoryStore(max_keys=100))
    return PostgresStore(engine, **options)


def _count_connection_attempts(engine: AsyncEngine) -> list[object]:
    """A list that grows by one each time `engine` tries to open a connection."""
    attempts: list[object] = []
    event.listen(engine.sync_engine, "do_connect", lambda *args: attempts.append(args))
    return attempts


async def _until_a_backend_waits_on_a_lock(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    with psycopg.connect(url, autocommit=True) as watcher:
        while True:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            assert time.monotonic() < deadline, "no check waited on the locked row"
            await asyncio.sleep(0.01)  # poll interval, not synchronisation


async def count_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            (await conn.execute(text("SELECT count(*) FROM rate_limit_buckets"))).scalar_one()
        )


async def test_the_sixth_action_is_refused_and_tokens_refill_on_the_injected_clock(
    engine: AsyncEngine,
) -> None:
    wall = FakeClock(start=1_800_000_000.0)
    store = make_store(engine, clock=wall)

    decisions = [await store.take("ip:1.2.3.4", FIVE_PER_MINUTE) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == pytest.approx([4, 3, 2, 1, 0])
    assert decisions[5].retry_after == pytest.approx(12.0)

    wall.advance(11.5)
    refused = await store.take("ip:1.2.3.4", FIVE_PER_MINUTE)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.5)

    wall.advance(0.5)
    assert (await store.take("ip:1.2.3.4", FIVE_PER_MINUTE)).allowed
    assert not (await store.take("ip:1.2.3.4", FIVE_PER_MINUTE)).allowed

    wall.advance(86_400)  # a day idle refills to capacity, no further
    allowed = [(await store.take("ip:1.2.3.4", FIVE_PER_MINUTE)).allowed for _ in range(6)]
    assert allowed == [True] * 5 + [False]
    assert store.available


async def test_the_database_clock_is_used_when_none_is_injected(engine: AsyncEngine) -> None:
    store = make_store(engine)
    slow = Budget.per_window("slow", 3, 3600)
    allowed = [(await store.take("u:7", slow)).allowed for _ in range(4)]
    assert allowed == [True, True, True, False]
    refused = await store.take("u:7", slow)
    assert 1190 < refused.retry_after <= 1200  # one token per 1200 s, barely started


async def test_costs_are_taken_whole_or_not_at_all(engine: AsyncEngine) -> None:
    store = make_store(engine, clock=FakeClock(start=1_800_000_000.0))
    seconds = Budget.per_window("stt", 600, 3600)
    assert (await store.take("u:1", seconds, cost=590)).remaining == pytest.approx(10)
    refused = await store.take("u:1", seconds, cost=20)
    assert not refused.allowed
    assert refused.remaining == pytest.approx(10)
    assert refused.retry_after == pytest.approx(60.0)
    assert (await store.take("u:1", seconds, cost=10)).allowed
    with pytest.raises(ValueError, match="must be in"):
        await store.take("u:1", seconds, cost=601)


async def test_long_keys_are_stored_as_a_digest(engine: AsyncEngine) -> None:
    store = make_store(engine)
    long_key = "c:" + "x" * 500
    assert len(bucket_key(long_key, FIVE_PER_MINUTE)) <= 200
    for _ in range(5):
        assert (await store.take(long_key, FIVE_PER_MINUTE)).allowed
    assert not (await store.take(long_key, FIVE_PER_MINUTE)).allowed


async def test_two_instances_with_separate_engines_enforce_one_budget_under_concurrency(
    migrated_url: str, make_settings: SettingsFactory
) -> None:
    """Two app instances (separate engines, separate memory), 200 concurrent AI calls."""
    settings = make_settings(
        database_url=migrated_url,
        rate_limit_store="postgres",
        rate_limit_ai_calls_per_user_per_hour=50,
        rate_limit_ai_calls_per_instance_per_minute=10_000,
        # The budget is under test, not the timeouts: on a busy machine 200 queued checks
        # must not give up and fall back to per-instance limits (queueing allows 5x this).
        rate_limit_store_timeout_seconds=10,
    )
    engines = [build_engine(settings.database), build_engine(settings.database)]
    limiters = [
        RateLimiter.from_settings(
            settings.limits, speech_max_seconds=settings.stt_max_seconds, engine=e
        )
        for e in engines
    ]
    try:

        async def call(limiter: RateLimiter) -> bool:
            try:
                await limiter.check_ai(user_id=42, address=None)
            except RateLimited:
                return False
            return True

        calls = [call(limiters[index % 2]) for index in range(200)]
        results = await asyncio.wait_for(asyncio.gather(*calls), timeout=60)

        # The refill (50 per hour) adds under 0.1 token over the test: exactly 50.
        assert sum(results) == 50
        first_half = sum(results[0::2]), sum(results[1::2])
        assert all(count > 0 for count in first_half), first_half  # both instances served
        for limiter in limiters:
            assert isinstance(limiter.store, PostgresStore)
            assert limiter.store.available  # no check fell back to per-instance memory
        assert await count_rows(engines[0]) == 1
    finally:
        for limiter in limiters:
            await limiter.aclose()
        for engine in engines:
            await engine.dispose()


async def test_full_buckets_are_purged_in_bounded_batches(engine: AsyncEngine) -> None:
    wall = FakeClock(start=1_800_000_000.0)
    store = make_store(engine, clock=wall, cleanup_batch=4)
    for index in range(10):
        await store.take(f"ip:10.0.0.{index}", FIVE_PER_MINUTE)  # full again after 12 s
    for _ in range(5):
        await store.take("ip:busy", FIVE_PER_MINUTE)  # full again after 60 s

    wall.advance(12.0)
    assert await store.purge_expired() == 4
    assert await store.purge_expired() == 4
    assert await store.purge_expired() == 2
    assert await store.purge_expired() == 0
    assert await count_rows(engine) == 1
    # The bucket still refilling kept its state.
    assert (await store.take("ip:busy", FIVE_PER_MINUTE)).remaining == pytest.approx(0)


async def test_cleanup_runs_in_the_background_every_interval(engine: AsyncEngine) -> None:
    wall = FakeClock(start=1_800_000_000.0)
    ticks = FakeClock()
    store = make_store(engine, clock=wall, monotonic=ticks, cleanup_interval_seconds=60)
    for index in range(3):
        await store.take(f"ip:10.0.0.{index}", FIVE_PER_MINUTE)
    wall.advance(30)
    ticks.advance(61)
    await store.take("ip:trigger", FIVE_PER_MINUTE)  # starts the cleanup
    await store.aclose()  # waits for it
    assert await count_rows(engine) == 1


async def test_a_stalled_database_fails_open_within_the_timeout(
    engine: AsyncEngine, migrated_url: str
) -> None:
    """A check waiting on a locked row gives up after `timeout_seconds`."""
    fallback = MemoryStore(max_keys=100)
    ticks = FakeClock()
    store = make_store(engine, timeout_seconds=0.3, fallback=fallback, monotonic=ticks)
    await store.take("ip:9.9.9.9", FIVE_PER_MINUTE)
    key = bucket_key("ip:9.9.9.9", FIVE_PER_MINUTE)
    dsn = migrated_url
    with psycopg.connect(dsn) as blocker:
        blocker.execute("SELECT 1 FROM rate_limit_buckets WHERE bucket_key = %s FOR UPDATE", [key])
        started = time.perf_counter()
        decision = await store.take("ip:9.9.9.9", FIVE_PER_MINUTE)
        elapsed = time.perf_counter() - started
        blocker.rollback()
    assert decision.allowed
    # Without the timeout the check would wait on the row for ever; the bound is generous
    # so a busy machine cannot fail it.
    assert elapsed < 10, elapsed
    assert not store.available
    assert len(fallback) == 1  # the check was answered by the per-instance store

    # The cancelled check left no broken connection behind: the store recovers.
    ticks.advance(5.0)
    for _ in range(5):  # more checks than the pool has connections
        await store.take("ip:8.8.8.8", FIVE_PER_MINUTE)
    assert store.available
    # The abandoned check was cancelled, not waited for: it may have landed after the
    # lock was released (a token charged twice, never one too few).
    remaining = (await store.take("ip:9.9.9.9", FIVE_PER_MINUTE)).remaining
    assert remaining == pytest.approx(3, abs=0.1) or remaining == pytest.approx(2, abs=0.1)


async def test_unreachable_database_fails_open_with_per_instance_limits_then_recovers(
    throwaway_postgres: ThrowawayPostgres,
    make_settings: SettingsFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = throwaway_postgres.url()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = build_engine(make_settings(database_url=url, db_connect_timeout_seconds=1.0).database)
    ticks = FakeClock()
    store = make_store(engine, timeout_seconds=1.0, retry_interval_seconds=5.0, monotonic=ticks)
    try:
        assert (await store.take("ip:1.1.1.1", FIVE_PER_MINUTE)).allowed  # 4 left in PG

        # A clean shutdown keeps the (unlogged) buckets; a crash would empty them.
        await asyncio.to_thread(throwaway_postgres.stop, "fast")
        started = time.perf_counter()
        with caplog.at_level("WARNING", logger="ballsy.ratelimit"):
            first = await store.take("ip:1.1.1.1", FIVE_PER_MINUTE)
        assert time.perf_counter() - started < 10
        assert first.allowed
        assert not store.available
        assert "unreachable" in caplog.text and "open" in caplog.text
        assert "postgres@" not in caplog.text and "127.0.0.1" not in caplog.text

        # While down, checks skip the database (not one connection attempt) and still
        # limit per instance.
        attempts = _count_connection_attempts(engine)
        rest = [(await store.take("ip:1.1.1.1", FIVE_PER_MINUTE)).allowed for _ in range(5)]
        assert attempts == []
        assert rest == [True] * 4 + [False]

        await asyncio.to_thread(throwaway_postgres.start)
        await asyncio.to_thread(throwaway_postgres.wait_until_up)
        ticks.advance(5.0)
        back = await store.take("ip:1.1.1.1", FIVE_PER_MINUTE)
        assert attempts, "the store reconnects once the retry interval is over"
        assert store.available
        assert back.allowed and back.remaining == pytest.approx(3, abs=0.1)  # PG state kept
    finally:
        await engine.dispose()


async def test_a_paused_server_is_given_up_on_at_the_configured_timeout(
    throwaway_postgres: ThrowawayPostgres, make_settings: SettingsFactory
) -> None:
    """SIGSTOP: the connection stays open and nothing answers, not even the cancel.
    The check must still end at RATE_LIMIT_STORE_TIMEOUT_SECONDS, not when the
    cancelled statement's clean-up gives up."""
    url = throwaway_postgres.url()
    await asyncio.to_thread(migrate.upgrade, url)
    settings = make_settings(
        database_url=url,
        db_connect_timeout_seconds=5.0,
        rate_limit_store="postgres",
        rate_limit_store_timeout_seconds=0.5,
    )
    engine = build_engine(settings.database)
    limiter = RateLimiter.from_settings(
        settings.limits, speech_max_seconds=settings.stt_max_seconds, engine=engine
    )
    try:
        await limiter.check_request("ip:1.1.1.1")  # a pooled connection, open and idle
        paused = throwaway_postgres.pause()
        try:
            started = time.perf_counter()
            await limiter.check_request("ip:1.1.1.1")  # fails open: admitted
            elapsed = time.perf_counter() - started
            started = time.perf_counter()
            await limiter.check_request("ip:1.1.1.1")  # and at once while it stays down
            second = time.perf_counter() - started
        finally:
            throwaway_postgres.resume(paused)
        assert elapsed < 1.4, elapsed  # 0.5 s configured; before, 2.5 s and more
        assert second < 0.2, second
        assert isinstance(limiter.store, PostgresStore) and not limiter.store.available
    finally:
        await limiter.aclose()
        await engine.dispose()


async def test_refunds_return_tokens_up_to_the_capacity(engine: AsyncEngine) -> None:
    clock = FakeClock(start=1_700_000_000.0)
    store = make_store(engine, clock=clock)
    await store.take("u:1", FIVE_PER_MINUTE, cost=4)
    await store.refund("u:1", FIVE_PER_MINUTE, 3)
    assert (await store.take("u:1", FIVE_PER_MINUTE, cost=4)).allowed  # 1 + 3 = 4 left
    await store.refund("u:1", FIVE_PER_MINUTE, 100)  # never beyond the capacity
    after = await store.take("u:1", FIVE_PER_MINUTE)
    assert after.remaining == pytest.approx(4)
    await store.refund("u:unknown", FIVE_PER_MINUTE, 1)  # no bucket: full already
    assert await count_rows(engine) == 1


async def test_unreachable_database_fails_closed_when_configured(
    throwaway_postgres: ThrowawayPostgres, make_settings: SettingsFactory
) -> None:
    url = throwaway_postgres.url()
    await asyncio.to_thread(migrate.upgrade, url)
    settings = make_settings(
        database_url=url,
        db_connect_timeout_seconds=1.0,
        rate_limit_store="postgres",
        rate_limit_fail_open=False,
        rate_limit_store_timeout_seconds=1.0,
    )
    engine = build_engine(settings.database)
    limiter = RateLimiter.from_settings(
        settings.limits, speech_max_seconds=settings.stt_max_seconds, engine=engine
    )
    try:
        await limiter.check_request("ip:1.1.1.1")
        await asyncio.to_thread(throwaway_postgres.stop, "immediate")
        started = time.perf_counter()
        with pytest.raises(DatabaseUnavailable) as refused:
            await limiter.check_request("ip:1.1.1.1")
        assert time.perf_counter() - started < 10
        assert refused.value.code == "database_unavailable"
        assert refused.value.retry_after is not None and refused.value.retry_after >= 1.0
        with pytest.raises(DatabaseUnavailable):  # and at once while it stays down
            await limiter.check_request("ip:2.2.2.2")
    finally:
        await limiter.aclose()
        await engine.dispose()


async def test_the_bucket_table_is_unlogged(engine: AsyncEngine) -> None:
    """No WAL per check: buckets are worth less than a disk flush per request."""
    async with engine.connect() as conn:
        persistence = await conn.scalar(
            text(
                "SELECT CAST(relpersistence AS text) FROM pg_class "
                "WHERE relname = 'rate_limit_buckets'"
            )
        )
    assert persistence == "u"


async def test_the_postgres_and_memory_stores_decide_alike(engine: AsyncEngine) -> None:
    """The same seeded sequence of checks and clock steps gets the same answers."""
    rng = random.Random(20261122)
    wall = FakeClock(start=1_800_000_000.0)
    postgres = make_store(engine, clock=wall)
    memory = MemoryStore(max_keys=100, clock=wall)
    budget = Budget.per_window("mixed", 10, 60)
    answers = {True: 0, False: 0}
    for _ in range(300):
        wall.advance(rng.choice([0.0, 0.0, 0.25, 1.0, 3.0, 7.5]))
        key = rng.choice(["u:1", "u:2", "ip:10.0.0.1"])
        cost = rng.choice([1.0, 1.0, 2.5])
        expected = await memory.take(key, budget, cost=cost)
        actual = await postgres.take(key, budget, cost=cost)
        assert actual.allowed == expected.allowed
        assert actual.remaining == pytest.approx(expected.remaining, abs=1e-6)
        assert actual.retry_after == pytest.approx(expected.retry_after, abs=1e-6)
        answers[actual.allowed] += 1
    assert min(answers.values()) > 30, answers  # both kinds of answer were compared


async def test_checks_queue_for_a_turn_and_only_a_long_queue_degrades(
    engine: AsyncEngine, migrated_url: str
) -> None:
    fallback = MemoryStore(max_keys=100)
    store = make_store(
        engine,
        fallback=fallback,
        max_concurrent_checks=1,
        timeout_seconds=3.0,
        queue_timeout_seconds=0.3,
    )
    await store.take("ip:9.9.9.9", FIVE_PER_MINUTE)
    key = bucket_key("ip:9.9.9.9", FIVE_PER_MINUTE)
    with psycopg.connect(migrated_url) as blocker:
        blocker.execute("SELECT 1 FROM rate_limit_buckets WHERE bucket_key = %s FOR UPDATE", [key])
        holder = asyncio.create_task(store.take("ip:9.9.9.9", FIVE_PER_MINUTE))
        # The holder has the only turn once PostgreSQL shows it waiting on the row.
        await _until_a_backend_waits_on_a_lock(migrated_url)
        started = time.perf_counter()
        queued = await store.take("ip:1.1.1.1", FIVE_PER_MINUTE)
        waited = time.perf_counter() - started
        assert queued.allowed and len(fallback) == 1  # answered per instance
        # It queued for its turn (0.3 s) and then degraded, well before the check's own
        # timeout (3 s) could have ended the wait.
        assert 0.25 < waited < 2.5, waited
        assert store.available  # a long queue is not an outage
        blocker.rollback()
    decision = await asyncio.wait_for(holder, timeout=5)
    assert decision.allowed and decision.remaining == pytest.approx(3, abs=0.1)
