"""What the start-up DDL snapshots save: a new database's schema from the snapshot's DDL
against a run of Alembic's migrations, each in a fresh process, as a start pays it.

    PYTHONPATH=src .venv/bin/python -m bench.bench_schema_start [--runs 7]

SQLite: the server's first start on a new data directory, with the app's own imports
(SQLAlchemy, the models) already loaded, as `ballsy serve` has them when it migrates.
PostgreSQL: the importer's `--migrate` into an empty database (it otherwise never loads
SQLAlchemy or Alembic). Each case reports the median CPU and wall time of the step alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from statistics import median

import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

_SQLITE = """
import json, sys, time
import ballsy.db.models, sqlalchemy.ext.asyncio  # loaded by the app before it migrates
from ballsy.db import migrate
url = sys.argv[1]
cpu, wall = time.process_time(), time.perf_counter()
if sys.argv[2] == "snapshot":
    assert migrate.upgrade_sqlite_if_needed(url)
else:
    migrate.upgrade(url)
print(json.dumps([time.process_time() - cpu, time.perf_counter() - wall]))
"""

_POSTGRES = """
import asyncio, json, sys, time
from ballsy.importer import target
url = sys.argv[1]
async def main():
    conn = await target.connect(url)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        if sys.argv[2] == "snapshot":
            await target.ensure_migrated(conn, url, upgrade=True)
        else:
            from ballsy.db import migrate
            await asyncio.to_thread(migrate.upgrade, url)
        return [time.process_time() - cpu, time.perf_counter() - wall]
    finally:
        await conn.close()
print(json.dumps(asyncio.run(main())))
"""


def _run(code: str, url: str, how: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, url, how], capture_output=True, text=True, check=True
    ).stdout
    cpu, wall = json.loads(out.strip().splitlines()[-1])
    return float(cpu), float(wall)


def _sqlite(runs: int, how: str, root: Path) -> list[tuple[float, float]]:
    return [_run(_SQLITE, f"sqlite:///{root / f'{how}-{i}.db'}", how) for i in range(runs)]


def _postgres(runs: int, how: str) -> list[tuple[float, float]]:
    found = []
    for _ in range(runs):
        name = f"bench_schema_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            found.append(_run(_POSTGRES, f"postgresql://postgres@127.0.0.1:5432/{name}", how))
        finally:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    lines = [
        "| new database | schema from | CPU (median) | wall (median) |",
        "| --- | --- | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for how in ("snapshot", "alembic"):
            samples = _sqlite(args.runs, how, Path(tmp))
            lines.append(
                f"| SQLite (server start) | {how} | {median(s[0] for s in samples) * 1000:.0f} ms"
                f" | {median(s[1] for s in samples) * 1000:.0f} ms |"
            )
    for how in ("snapshot", "alembic"):
        samples = _postgres(args.runs, how)
        lines.append(
            f"| PostgreSQL (importer `--migrate`) | {how} | "
            f"{median(s[0] for s in samples) * 1000:.0f} ms | "
            f"{median(s[1] for s in samples) * 1000:.0f} ms |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
