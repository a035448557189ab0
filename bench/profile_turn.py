"""Where a stored turn's CPU goes: the profile behind the service benchmark's numbers.

Runs the assistant pipeline in process (no HTTP) for a local command of an
authenticated user — load the user's state, route, store the turn — on SQLite and on
PostgreSQL, and prints CPU per turn with the share of the main costs from cProfile.

    .venv/bin/python -m bench.profile_turn [--turns 400]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from ballsy.assistant.identity import Identity, hash_token
from ballsy.assistant.pipeline import TurnRequest
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db import repositories as repo
from ballsy.wiring import build_services
from bench.common import machine

COMMANDS = ["hello", "what is 7 times 8", "what time is it"]
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _turns(settings: Settings, turns: int) -> tuple[float, float, pstats.Stats]:
    services = build_services(settings)
    try:
        async with services.sessions() as session:
            user = await repo.create_anonymous_user(session, token_hash=hash_token("bench"))
            await session.commit()
        identity = Identity.user(user.id)

        async def turn(index: int) -> None:
            request = TurnRequest(identity, COMMANDS[index % len(COMMANDS)])
            async for _event in services.assistant.run_turn(request):
                pass

        for index in range(50):
            await turn(index)
        cpu, wall = time.process_time(), time.perf_counter()
        for index in range(turns):
            await turn(index)
        cpu_ms = (time.process_time() - cpu) / turns * 1000
        wall_ms = (time.perf_counter() - wall) / turns * 1000
        profiler = cProfile.Profile()
        profiler.enable()
        for index in range(turns // 2):
            await turn(index)
        profiler.disable()
        return cpu_ms, wall_ms, pstats.Stats(profiler)
    finally:
        await services.aclose()


def _shares(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Self time grouped by where the code lives."""
    groups = {
        "SQLAlchemy": 0.0,
        "database driver (aiosqlite/asyncpg, sqlite3)": 0.0,
        "event loop and threads": 0.0,
        "Ballsy (pipeline, commands)": 0.0,
        "other": 0.0,
    }
    total = 0.0
    for (filename, _line, _name), (_cc, _nc, self_time, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        total += self_time
        if "sqlalchemy" in filename:
            groups["SQLAlchemy"] += self_time
        elif any(d in filename for d in ("aiosqlite", "asyncpg", "sqlite3")):
            groups["database driver (aiosqlite/asyncpg, sqlite3)"] += self_time
        elif any(
            d in filename
            for d in ("asyncio", "selectors", "threading", "queue", "<built-in method select")
        ):
            groups["event loop and threads"] += self_time
        elif "ballsy" in filename:
            groups["Ballsy (pipeline, commands)"] += self_time
        elif filename == "~":
            groups["event loop and threads"] += self_time
        else:
            groups["other"] += self_time
    return [(name, 100 * value / total) for name, value in groups.items() if total]


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=400)
    args = parser.parse_args()
    rows, shares = [], []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'profile.db'}"
        migrate.upgrade(sqlite_url)
        name = f"ballsy_profile_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        pg_url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        try:
            migrate.upgrade(pg_url)
            for label, url in (
                ("SQLite (aiosqlite)", sqlite_url),
                ("PostgreSQL (asyncpg)", pg_url),
            ):
                settings = Settings(
                    _env_file=None,
                    environment="test",
                    database_url=url,  # type: ignore[call-arg]
                    stt_enabled=False,
                    rate_limit_enabled=False,
                    log_level="WARNING",
                )
                cpu, wall, stats = asyncio.run(_turns(settings, args.turns))
                rows.append(f"| {label} | {cpu:.2f} | {wall:.2f} | {1000 / cpu:,.0f} |")
                shares.append((label, _shares(stats)))
        finally:
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    lines = [
        "## Profile: where a stored turn's time goes",
        "",
        f"Machine: {machine()}.",
        f"Command: `.venv/bin/python -m bench.profile_turn --turns {args.turns}`",
        "",
        "The pipeline in process, one authenticated user, local commands (no HTTP, no "
        "socket): read the user's state (1 statement), route (pure Python), store the turn "
        "(conversation touch, two messages, history row, user update, commit).",
        "",
        "| database | CPU ms per turn | wall ms per turn | turns/s one core could do |",
        "| --- | ---: | ---: | ---: |",
        *rows,
        "",
        "Share of profiled self time:",
        "",
        "| where | " + " | ".join(label for label, _ in shares) + " |",
        "| --- | " + " | ".join("---:" for _ in shares) + " |",
    ]
    for index, (group, _) in enumerate(shares[0][1]):
        lines.append(f"| {group} | " + " | ".join(f"{s[1][index][1]:.0f}%" for s in shares) + " |")
    report = "\n".join(lines) + "\n"
    print(report)
    return report


if __name__ == "__main__":
    main()
