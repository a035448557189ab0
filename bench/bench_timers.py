"""Timers: how late they ring, and what the scheduler's idle poll costs the database.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust):

    PYTHONPATH=src python -m bench.bench_timers [--timers N] [--pending N]

- Ring latency: a signed-in page (WebSocket) on an in-process app sets N timers of 2 s,
  through the instance it is connected to; each `timer_fired` is timed from the item's
  `due_at` to its arrival at the page. On PostgreSQL, a page of the same user on a second
  instance measures the path through another instance. Same process, same clock.
- Idle poll: one sweep with nothing due plus the next-due query (what every instance
  runs every TIMER_POLL_SECONDS) with N pending items of 1,000 users in the table.

Prints a markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert
from tests import pg

from ballsy.app import create_app
from ballsy.assistant.due import DueScheduler
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db.engine import build_engine
from ballsy.db.models import Timer, User
from bench.common import machine


def _settings(url: str, data: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=url,
        data_dir=data,
        stt_enabled=False,
        rate_limit_enabled=False,
        log_level="WARNING",
        trusted_hosts=["testserver"],
    )


def ring_latency(url: str, data: Path, timers: int, instances: int) -> list[list[float]]:
    """Per instance's page: seconds from due to arrival of each of `timers` timers."""
    clients = [TestClient(create_app(_settings(url, data))) for _ in range(instances)]
    for client in clients:
        client.__enter__()
    try:
        session = clients[0].post("/api/session").json()
        auth = {"Authorization": f"Bearer {session['token']}"}
        sockets: list[Any] = []
        for index, client in enumerate(clients):
            ws = client.websocket_connect(f"/ws/voice/bench-{index}").__enter__()
            ws.send_json({"type": "hello", "token": session["token"]})
            ws.receive_json()
            sockets.append(ws)
        for n in range(timers):
            body = {"command": f"set a timer called t{n} for 2 seconds"}
            clients[0].post("/api/command", headers=auth, json=body)
        late: list[list[float]] = [[] for _ in sockets]

        def listen(ws: Any, seen: list[float]) -> None:
            for _ in range(timers):
                message = ws.receive_json()
                arrived = datetime.now(UTC)
                seen.append((arrived - datetime.fromisoformat(message["due_at"])).total_seconds())

        # One reader per page, so each message is timed as it arrives.
        readers = [
            threading.Thread(target=listen, args=(ws, seen))
            for ws, seen in zip(sockets, late, strict=True)
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        for ws in sockets:
            ws.__exit__(None, None, None)
        return late
    finally:
        for client in clients:
            client.__exit__(None, None, None)


async def idle_poll(url: str, data: Path, pending: int, rounds: int) -> list[float]:
    engine = build_engine(_settings(url, data))
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(User), [{"username": f"b{n}"} for n in range(1000)])
            far = datetime.now(UTC) + timedelta(days=1)
            rows = [
                {
                    "user_id": 1 + n % 1000,
                    "kind": "reminder",
                    "timezone": "UTC",
                    "created_at": far,
                    "due_at": far + timedelta(seconds=n),
                }
                for n in range(pending)
            ]
            for start in range(0, len(rows), 1000):
                await conn.execute(insert(Timer), rows[start : start + 1000])

        class NoPages:
            def user_ids(self) -> set[int]:
                return set()

            async def deliver(self, due: Any) -> int:
                return 0

        scheduler = DueScheduler(engine, NoPages())
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            await scheduler.sweep()
            await scheduler._next_delay()
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        await engine.dispose()


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{statistics.median(ordered) * 1000:.0f} / {ordered[-1] * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timers", type=int, default=20)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    lines = [
        "## Timers: ring latency and the idle poll",
        "",
        f"`python -m bench.bench_timers --timers {args.timers} --pending {args.pending}`. "
        f"{machine()}. Shared with other work while measured: compare rows, not machines.",
        "",
        f"Ring latency: {args.timers} timers of 2 s set through instance A; milliseconds "
        "from each item's due time to its `timer_fired` at a page (median / worst). Every "
        "instance sleeps until the soonest due time in the database, so B wakes as A does "
        "(its 0.5 s poll only covers items added after it began waiting).",
        "",
        "| database | page on instance A | page on instance B |",
        "| --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(sqlite_url)
        (a,) = ring_latency(sqlite_url, Path(tmp), args.timers, 1)
        lines.append(f"| SQLite | {_ms(a)} | (one process per SQLite file) |")
        name, pg_url = pg.create_database()
        try:
            migrate.upgrade(pg_url)
            a, b = ring_latency(pg_url, Path(tmp), args.timers, 2)
            lines.append(f"| PostgreSQL | {_ms(a)} | {_ms(b)} |")
        finally:
            pg.drop_database(name)
        lines += [
            "",
            f"Idle poll with {args.pending:,} pending items of 1,000 users: one sweep with "
            "nothing due plus the next-due query, milliseconds (median / worst of "
            f"{args.rounds}); every instance runs it once per TIMER_POLL_SECONDS.",
            "",
            "| database | idle poll |",
            "| --- | --- |",
        ]
        idle_sqlite = f"sqlite:///{Path(tmp) / 'idle.db'}"
        migrate.upgrade(idle_sqlite)
        samples = asyncio.run(idle_poll(idle_sqlite, Path(tmp), args.pending, args.rounds))
        lines.append(f"| SQLite | {_ms(samples)} |")
        name, pg_url = pg.create_database()
        try:
            migrate.upgrade(pg_url)
            samples = asyncio.run(idle_poll(pg_url, Path(tmp), args.pending, args.rounds))
            lines.append(f"| PostgreSQL | {_ms(samples)} |")
        finally:
            pg.drop_database(name)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
