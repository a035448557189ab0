"""Soak: many signed-in WebSockets, each asking now and then, for a minute.

`ballsy serve` on SQLite (or PostgreSQL with --postgres); N signed-in users, one socket
each, each sending a locally answered command every 2–5 s (random, seeded). Reports the
turn latency percentiles, errors, the server's resident memory before and after, and
checks every acknowledged turn is stored.

    .venv/bin/python -m bench.bench_soak [--sockets 1000] [--seconds 60] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import websockets
from tests.pg import ADMIN_DSN, create_database, drop_database
from tests.servers import BallsyProcess, cpu_seconds

from bench.common import compile_bytecode, machine, median, percentile, rss_mb

# The measured minute starts once every socket is open and signed in (hello answered);
# opening and signing in 1,000 sockets is not part of it. Each socket then waits 2–5 s
# (random) before every turn, its first included, so the load is what the issue describes
# from the first second: about sockets / 3.5 turns per second. Latencies after
# STEADY_AFTER_S are also reported apart.
STEADY_AFTER_S = 10.0
ENV = {
    "STT_ENABLED": "false",
    "RATE_LIMIT_ENABLED": "false",
    "LOG_LEVEL": "WARNING",
    "AI_PROVIDER": "none",
}


async def _sessions(base: str, count: int) -> list[str]:
    """One session per socket, ten sign-ups at a time (a burst of sign-ups can wait out
    the database pool on a loaded machine; sign-up is not what the soak measures)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        tokens: list[str] = []
        for start in range(0, count, 10):
            replies = await asyncio.gather(
                *(client.post("/api/session") for _ in range(min(10, count - start)))
            )
            for reply in replies:
                if not reply.is_success:
                    raise SystemExit(f"/api/session answered {reply.status_code}: {reply.text}")
                tokens.append(reply.json()["token"])
        return tokens


async def _soak(
    port: int, pid: int, tokens: list[str], seconds: float, seed: int
) -> dict[str, object]:
    rng = random.Random(seed)
    latencies: list[float] = []
    steady: list[float] = []  # turns sent after the opening burst
    errors: list[str] = []
    acknowledged: list[str] = []  # the commands whose reply arrived
    connected = 0
    all_open = asyncio.Event()
    start_at: list[float] = []
    opened: dict[str, float] = {}  # the server's CPU seconds and RSS once all are open

    async def user(index: int) -> None:
        nonlocal connected
        url = f"ws://127.0.0.1:{port}/ws/voice/soak-{index}"
        try:
            async with websockets.connect(url, open_timeout=60, compression=None) as ws:
                await ws.send(json.dumps({"type": "hello", "token": tokens[index]}))
                hello = json.loads(await ws.recv())
                if hello.get("type") != "hello" or not hello.get("user_id"):
                    errors.append(f"hello: {hello}")
                    return
                connected += 1
                if connected == len(tokens):
                    start_at.append(time.perf_counter())
                    opened.update(cpu=cpu_seconds(pid), rss=rss_mb(pid))
                    all_open.set()
                await asyncio.wait_for(all_open.wait(), timeout=120)
                deadline = start_at[0] + seconds
                n = 0
                while True:
                    await asyncio.sleep(rng.uniform(2, 5))
                    if time.perf_counter() >= deadline:
                        break
                    n += 1
                    started = time.perf_counter()
                    await ws.send(json.dumps({"command": f"{index} + {n}"}))
                    reply = json.loads(await ws.recv())
                    if reply.get("type") == "command_response":
                        latencies.append(time.perf_counter() - started)
                        acknowledged.append(f"{index} + {n}")
                        if started - start_at[0] >= STEADY_AFTER_S:
                            steady.append(latencies[-1])
                    else:
                        errors.append(str(reply.get("code")))
        except (OSError, websockets.WebSocketException, TimeoutError) as exc:
            errors.append(type(exc).__name__)

    await asyncio.gather(*(user(i) for i in range(len(tokens))))
    # Not every socket signed in: the errors say why; the rates are then over no time.
    wall = time.perf_counter() - start_at[0] if start_at else float("nan")
    return {
        "latencies": latencies,
        "steady": steady,
        "errors": errors,
        "acknowledged": acknowledged,
        "connected": connected,
        "wall": wall,
        "cpu": cpu_seconds(pid) - opened.get("cpu", 0.0),
        "rss_open": opened.get("rss", 0.0),
    }


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    compile_bytecode()
    lines = [
        "## Soak: signed-in WebSockets asking every 2–5 s",
        "",
        f"Command: `.venv/bin/python -m bench.bench_soak --sockets {args.sockets} "
        f"--seconds {args.seconds:g}{' --postgres' if args.postgres else ''}`",
        "",
        f"Machine: {machine()}.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="ballsy-soak-") as tmp:
        env = dict(ENV)
        name = None
        if args.postgres:
            from ballsy.db import migrate

            name, url = create_database(ADMIN_DSN)
            migrate.upgrade(url)
            env["DATABASE_URL"] = url
        else:
            env["DATA_DIR"] = str(Path(tmp) / "data")
        server = BallsyProcess(env).start()
        try:
            server.wait_healthy(timeout=60)
            assert server.proc is not None
            pid = server.proc.pid
            tokens = asyncio.run(_sessions(server.base_url, args.sockets))
            rss_before = rss_mb(pid)
            result = asyncio.run(_soak(server.port, pid, tokens, args.seconds, args.seed))
            rss_after = rss_mb(pid)
            query = "SELECT command FROM command_history"
            if args.postgres:
                with psycopg.connect(env["DATABASE_URL"]) as conn:
                    stored = {str(row[0]) for row in conn.execute(query)}
            else:
                with sqlite3.connect(Path(env["DATA_DIR"]) / "ballsy.db") as conn:
                    stored = {str(row[0]) for row in conn.execute(query)}
        finally:
            server.kill()
            if name:
                drop_database(name, ADMIN_DSN)
    latencies = result["latencies"]
    errors = result["errors"]
    steady = result["steady"]
    assert isinstance(latencies, list) and isinstance(errors, list) and isinstance(steady, list)
    acknowledged = result["acknowledged"]
    assert isinstance(acknowledged, list)
    missing = sorted(set(acknowledged) - stored)
    if missing:
        print("acknowledged but not stored:", missing[:20])
    if errors:
        print("errors (first distinct):", sorted(set(map(str, errors)))[:10])
    wall, cpu, rss_open = (float(result[key]) for key in ("wall", "cpu", "rss_open"))  # type: ignore[arg-type]
    lines += [
        "| database | sockets open | turns | turns/s | p50 ms | p99 ms | max ms "
        f"| p50 / p99 ms after {STEADY_AFTER_S:g} s | errors "
        "| server CPU | RSS: before the sockets → all open → end (MB) | stored |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {'PostgreSQL' if args.postgres else 'SQLite'} | {result['connected']} | "
        f"{len(latencies):,} | {len(latencies) / wall:,.0f} | {median(latencies) * 1000:.1f} | "
        f"{percentile(latencies, 99) * 1000:.1f} | {max(latencies, default=0) * 1000:.1f} | "
        f"{median(steady) * 1000:.1f} / {percentile(steady, 99) * 1000:.1f} | "
        f"{len(errors)} | {100 * cpu / wall:.0f}% of a core | {rss_before:.0f} → "
        f"{rss_open:.0f} → {rss_after:.0f} | "
        f"{len(stored):,} ({f'{len(missing)} acknowledged MISSING' if missing else 'all'}) |",
        "",
        f"Target (issue 16): no errors and p99 under 100 ms: "
        f"{'met' if not errors and percentile(latencies, 99) < 0.1 else 'NOT met'}. "
        "The minute is measured from the moment every socket is open and signed in; "
        "server CPU is over that minute.",
    ]
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    main()
