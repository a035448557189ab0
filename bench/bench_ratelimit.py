"""The cost of one rate-limit check, per store: in memory and in PostgreSQL.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust):

    PYTHONPATH=src python bench/bench_ratelimit.py [--pg-dsn DSN] [--checks N]

The PostgreSQL figures are sequential checks on a fresh database (created and
dropped here) through the application's engine (`build_engine`, which pings each
connection as it leaves the pool), and through the same engine without that ping;
a bare asyncpg connection running the same statement (the floor under SQLAlchemy);
and the throughput of 5 concurrent checkers. Prints a markdown
section for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db.engine import build_engine
from ballsy.db.url import to_async_url
from ballsy.providers.ratelimit.base import Budget, RateLimitStore
from ballsy.providers.ratelimit.memory import MemoryStore
from ballsy.providers.ratelimit.postgres import TAKE_SQL, PostgresStore, bucket_key

BUDGET = Budget.per_window("requests", 120, 60)
KEYS = 1000


def summary(samples_ns: list[int]) -> tuple[float, float]:
    """Median and 99th percentile, in microseconds."""
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) / 1000, p99 / 1000


async def time_checks(store: RateLimitStore, checks: int) -> list[int]:
    samples: list[int] = []
    for index in range(checks):
        key = f"ip:10.0.{(index % KEYS) >> 8}.{index % 256}"
        started = time.perf_counter_ns()
        await store.take(key, BUDGET)
        samples.append(time.perf_counter_ns() - started)
    return samples


async def concurrent_rate(store: RateLimitStore, checks: int, workers: int) -> float:
    """Checks per second with `workers` checkers at once."""

    async def worker(offset: int) -> None:
        for index in range(offset, checks, workers):
            await store.take(f"ip:10.1.{(index % KEYS) >> 8}.{index % 256}", BUDGET)

    started = time.perf_counter()
    await asyncio.gather(*(worker(offset) for offset in range(workers)))
    return checks / (time.perf_counter() - started)


async def time_raw_asyncpg(url: str, checks: int) -> list[int]:
    """The same statement on one bare asyncpg connection: the floor under SQLAlchemy."""
    conn = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1))
    try:
        statement = await conn.prepare(TAKE_SQL)
        samples: list[int] = []
        for index in range(checks + 200):
            key = bucket_key(f"ip:10.2.{(index % KEYS) >> 8}.{index % 256}", BUDGET)
            started = time.perf_counter_ns()
            await statement.fetchrow(key, BUDGET.capacity, BUDGET.refill_per_second, 1.0, None)
            if index >= 200:  # the first ones warm the server's caches
                samples.append(time.perf_counter_ns() - started)
        return samples
    finally:
        await conn.close()


async def with_engine(
    engine: AsyncEngine, run: Callable[[PostgresStore], Awaitable[list[int]]]
) -> list[int]:
    store = PostgresStore(engine, fail_open=False, fallback=MemoryStore(max_keys=100))
    try:
        await time_checks(store, 200)  # warm the pool and the prepared statements
        return await run(store)
    finally:
        await store.aclose()
        await engine.dispose()


async def bench_postgres(url: str, checks: int) -> dict[str, object]:
    settings = Settings(_env_file=None, environment="test", database_url=url)  # type: ignore[call-arg]
    results: dict[str, object] = {}
    results["app engine (pre-ping)"] = await with_engine(
        build_engine(settings.database), lambda store: time_checks(store, checks)
    )
    no_ping = create_async_engine(
        to_async_url(url), pool_size=3, max_overflow=2, pool_pre_ping=False
    )
    results["engine without pre-ping"] = await with_engine(
        no_ping, lambda store: time_checks(store, checks)
    )
    results["bare asyncpg connection, same statement"] = await time_raw_asyncpg(url, checks)
    store = PostgresStore(
        build_engine(settings.database), fail_open=False, fallback=MemoryStore(max_keys=100)
    )
    results["rate"] = await concurrent_rate(store, checks, workers=5)
    await store.aclose()
    await store._engine.dispose()
    return results


def fresh_database(admin_dsn: str) -> tuple[str, str]:
    name = f"ballsy_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(admin_dsn)
    host, port, user = info.get("host", "127.0.0.1"), info.get("port", "5432"), info["user"]
    return name, f"postgresql://{user}@{host}:{port}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--checks", type=int, default=5000)
    args = parser.parse_args()

    memory = MemoryStore(max_keys=100_000)
    asyncio.run(time_checks(memory, 10_000))  # warm
    memory_samples = asyncio.run(time_checks(memory, args.checks * 10))

    name, url = fresh_database(args.pg_dsn)
    try:
        migrate.upgrade(url)
        pg = asyncio.run(bench_postgres(url, args.checks))
    finally:
        with psycopg.connect(args.pg_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    rows = [("memory", memory_samples)]
    rows += [
        (f"PostgreSQL, {label}", pg[label])
        for label in (
            "app engine (pre-ping)",
            "engine without pre-ping",
            "bare asyncpg connection, same statement",
        )
    ]
    print("## Rate limiting: the cost of one check\n")
    print("| store | checks | median (µs) | p99 (µs) |")
    print("|---|---:|---:|---:|")
    for label, samples in rows:
        assert isinstance(samples, list)
        median, p99 = summary(samples)
        print(f"| {label} | {len(samples)} | {median:.1f} | {p99:.1f} |")
    print(
        f"\nPostgreSQL with 5 concurrent checkers taking 3 turns at once (DB_POOL_SIZE): "
        f"{pg['rate']:.0f} checks/s.\n"
    )
    print(
        f"Sequential checks, {KEYS} distinct keys, budget 120/min; PostgreSQL 15 on "
        f"127.0.0.1 (same machine), Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end "
        "(other work shares the machine).\n"
    )
    print(f"Reproduce: `PYTHONPATH=src python bench/bench_ratelimit.py --checks {args.checks}`")


if __name__ == "__main__":
    sys.exit(main())
