"""The turn writer alone: what one batch of stored turns costs, for two checkouts side by side.

Each round runs every checkout's `TurnWriter` in a fresh process (its own `src` first on
PYTHONPATH), alternately, on a fresh database: N signed-in users each store one local
turn per batch (a new arithmetic memory, checked against the memory it was computed
from, as the pipeline stores a "2+2"), all waiting together, so each batch holds N turns.
Per batch: wall time, the writer process's CPU, the PostgreSQL backends' CPU, and the
round trips to PostgreSQL (counted at the driver: each prepare, execute, executemany or
simple query asyncpg sends and waits for).

    .venv/bin/python -m bench.bench_turn_writer --sources /work/main/src,src
        [--databases sqlite,postgres] [--batch 10,100] [--batches 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import machine, median

ROOT = Path(__file__).resolve().parent.parent
# asyncpg protocol calls that each send a request and wait for its answer.
ROUND_TRIPS = frozenset(
    {"prepare", "bind_execute", "bind_execute_many", "bind", "execute", "query", "close_statement"}
)


class _CountingProtocol:
    """Stands in for an asyncpg connection's protocol, counting its round trips."""

    def __init__(self, inner: Any, counts: Counter[str]) -> None:
        self._inner = inner
        self._counts = counts

    def __getattr__(self, name: str) -> Any:
        if name in ROUND_TRIPS:
            self._counts[name] += 1
        return getattr(self._inner, name)


def _backend_cpu(pids: list[int]) -> float:
    """CPU seconds the given server processes have used (user + system)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


async def _measure(url: str, users: int, batches: int) -> dict[str, float]:
    import psycopg
    from sqlalchemy import event

    from ballsy.config import Settings
    from ballsy.db import repositories as repo
    from ballsy.db.engine import build_engine, build_sessionmaker
    from ballsy.db.turn_store import TurnWriter

    settings = Settings(_env_file=None, environment="test")  # type: ignore[call-arg]
    engine = build_engine(settings.database, url=url)
    counts: Counter[str] = Counter()
    postgres = engine.dialect.name == "postgresql"
    if postgres:

        def count(dbapi_connection: Any, _record: Any) -> None:
            raw = dbapi_connection._connection
            raw._protocol = _CountingProtocol(raw._protocol, counts)

        event.listen(engine.sync_engine, "connect", count)
    async with build_sessionmaker(engine)() as session:
        ids = [
            (await repo.create_anonymous_user(session, token_hash=f"{i:064d}")).id
            for i in range(users)
        ]
        await session.commit()
    writer = TurnWriter(engine, idle_gap=timedelta(minutes=30))
    start = datetime.now(UTC)
    memory: dict[int, tuple[str | None, str | None]] = dict.fromkeys(ids, (None, None))

    async def batch(n: int) -> None:
        def turn(user_id: int) -> Any:
            return repo.TurnRecord(
                user_id=user_id,
                turn_id=f"{user_id}-{n}",
                command="2+2",
                response="4",
                source="local",
                family="arithmetic",
                action=None,
                action_data=None,
                interrupted=False,
                created_at=start + timedelta(milliseconds=n),
                first_text_ms=0.1,
                total_ms=0.2,
            )

        before = writer.batches
        await asyncio.gather(
            *(writer.store(turn(u), last_result="4/1", expected=memory[u]) for u in ids)
        )
        assert writer.batches == before + 1, "each round must be one batch"
        for u in ids:
            memory[u] = ("4/1", None)

    for n in range(20):  # warm-up: connections, prepared statements, compiled cache
        await batch(n)
    pids: list[int] = []
    if postgres:
        with psycopg.connect(url.replace("+asyncpg", ""), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'ballsy'"
            ).fetchall()
            pids = [row[0] for row in rows]
    counts.clear()
    server_before = _backend_cpu(pids)
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for n in range(20, 20 + batches):
        await batch(n)
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    server = _backend_cpu(pids) - server_before
    await writer.aclose()
    await engine.dispose()
    return {
        "wall_ms": 1000 * wall / batches,
        "cpu_ms": 1000 * cpu / batches,
        "server_cpu_ms": 1000 * server / batches,
        "round_trips": sum(counts.values()) / batches,
    }


def _worker(args: argparse.Namespace) -> None:
    from tests import pg

    from ballsy.db import migrate

    if args.database == "postgres":
        name, url = pg.create_database(pg.ADMIN_DSN)
    else:
        folder = tempfile.mkdtemp(prefix="ballsy-bench-writer-")
        name, url = "", f"sqlite:///{folder}/ballsy.db"
    try:
        migrate.upgrade(url)
        print(json.dumps(asyncio.run(_measure(url, args.batch[0], args.batches))))
    finally:
        if name:
            pg.drop_database(name, pg.ADMIN_DSN)


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=lambda s: s.split(","), default=["src"])
    parser.add_argument("--databases", type=lambda s: s.split(","), default=["sqlite", "postgres"])
    parser.add_argument("--batch", type=lambda s: [int(x) for x in s.split(",")], default=[10, 100])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return ""
    machine_line = machine()
    results: dict[tuple[str, int, str], list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for database in args.databases:
            for size in args.batch:
                for source in args.sources:
                    env = {**os.environ, "PYTHONPATH": f"{Path(source).resolve()}:{ROOT}"}
                    out = subprocess.run(
                        [
                            *(sys.executable, "-m", "bench.bench_turn_writer", "--worker"),
                            *("--database", database, "--batch", str(size)),
                            *("--batches", str(args.batches)),
                        ],
                        env=env,
                        cwd=ROOT,
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    line = out.stdout.strip().splitlines()[-1]
                    results.setdefault((database, size, source), []).append(json.loads(line))
    lines = [
        f"Machine: {machine_line}",
        "",
        "| database | turns per batch | code | wall ms per batch | writer CPU ms per batch "
        "| PostgreSQL CPU ms per batch | round trips per batch |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for (database, size, source), runs in results.items():

        def mid(key: str, runs: list[dict[str, float]] = runs) -> float:
            return median([run[key] for run in runs])

        server = f"{mid('server_cpu_ms'):.2f}" if database == "postgres" else "–"
        trips = f"{mid('round_trips'):.1f}" if database == "postgres" else "–"
        lines.append(
            f"| {database} | {size} | {source} | {mid('wall_ms'):.2f} | {mid('cpu_ms'):.2f} "
            f"| {server} | {trips} |"
        )
    lines.append("")
    lines.append(f"Median of {args.rounds} rounds of {args.batches} batches each.")
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    main()
