"""Service benchmarks: local commands over HTTP and WebSocket, cold start, memory.

Runs the real `ballsy serve` (uvicorn, embedded SQLite, every turn stored for an
authenticated user) and, as the ceiling, a bare FastAPI app answering the same
shapes with nothing behind it — in the same run, on the same machine. The load
client is a light asyncio client in this process (raw HTTP/1.1 keep-alive; the
`websockets` library), so client and server share the machine's cores as they
did when the prototype's figures were taken.

    .venv/bin/python -m bench.bench_service [--seconds 5] [--only cold-start]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import websockets
from tests.pg import free_port
from tests.servers import BallsyProcess, cpu_seconds, listening_pids

from bench.common import (
    compile_bytecode,
    machine,
    median,
    percentile,
    read_http_response,
    rss_mb,
)

COMMANDS = [
    "hello",
    "what is 7 times 8",
    "what time is it",
    "open youtube",
    "directions to the train station",
    "how are you",
]
SERVICE_ENV = {
    "STT_ENABLED": "false",
    "RATE_LIMIT_ENABLED": "false",
    "LOG_LEVEL": "WARNING",
    "AI_PROVIDER": "none",
}


@dataclass
class LoadResult:
    label: str
    concurrency: int
    count: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def row(self) -> str:
        return (
            f"| {self.label} | {self.concurrency} | {self.rate:,.0f} | "
            f"{median(self.latencies) * 1000:.2f} | {percentile(self.latencies, 99) * 1000:.2f}"
            f" | {self.errors} |"
        )


# --- load clients ---------------------------------------------------------------------------


async def _http_worker(
    port: int, token: str | None, deadline: float, out: LoadResult, index: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    requests = []
    for command in COMMANDS:
        body = json.dumps({"command": command}).encode()
        requests.append(
            (
                f"POST /api/command HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\n{auth}"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
    turn = index
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(requests[turn % len(requests)])
            turn += 1
            if await read_http_response(reader):
                out.count += 1
                out.latencies.append(time.perf_counter() - started)
            else:
                out.errors += 1
    finally:
        writer.close()


async def _ws_worker(
    port: int, token: str | None, deadline: float, out: LoadResult, index: int
) -> None:
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/voice/bench-{index}", compression=None, max_queue=None
    ) as ws:
        if token:
            await ws.send(json.dumps({"type": "hello", "token": token}))
            await ws.recv()
        frames = [json.dumps({"command": c}) for c in COMMANDS]
        turn = index
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await ws.send(frames[turn % len(frames)])
            turn += 1
            reply = json.loads(await ws.recv())
            if reply.get("type") == "command_response":
                out.count += 1
                out.latencies.append(time.perf_counter() - started)
            else:
                out.errors += 1


async def run_load(
    kind: str, port: int, tokens: list[str | None], concurrency: int, seconds: float, label: str
) -> LoadResult:
    worker = _http_worker if kind == "http" else _ws_worker
    warm = LoadResult(label, concurrency, 0, 0, 0, [])
    warm_deadline = time.perf_counter() + 0.5
    await asyncio.gather(
        *(worker(port, tokens[i], warm_deadline, warm, i) for i in range(concurrency))
    )
    result = LoadResult(label, concurrency, 0, 0, seconds, [])
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(worker(port, tokens[i], deadline, result, i) for i in range(concurrency))
    )
    return result


# --- servers --------------------------------------------------------------------------------


def start_bare(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--no-proxy-headers",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                assert proc.pid in listening_pids(port)
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError("bare app did not start")


def sessions(port: int, count: int) -> list[str | None]:
    tokens: list[str | None] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(count):
            tokens.append(client.post("/api/session").json()["token"])
    return tokens


def stored_turns(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "ballsy.db") as conn:
        return int(conn.execute("SELECT count(*) FROM command_history").fetchone()[0])


# --- the measurements -----------------------------------------------------------------------


def throughput(seconds: float, root: Path) -> list[str]:
    rows: list[str] = []
    data_dir = root / "throughput"
    server = BallsyProcess({**SERVICE_ENV, "DATA_DIR": str(data_dir)}).start()
    bare_port = free_port()
    bare = start_bare(bare_port)
    try:
        server.wait_healthy()
        tokens = sessions(server.port, 10)
        expected = 0
        for kind in ("http", "ws"):
            for concurrency in (1, 10):
                ballsy = asyncio.run(
                    run_load(
                        kind,
                        server.port,
                        tokens,
                        concurrency,
                        seconds,
                        f"Ballsy {kind.upper()} (stored)",
                    )
                )
                expected += ballsy.count
                ceiling = asyncio.run(
                    run_load(
                        kind,
                        bare_port,
                        [None] * 10,
                        concurrency,
                        seconds,
                        f"bare FastAPI {kind.upper()}",
                    )
                )
                rows += [ballsy.row(), ceiling.row()]
        stored = stored_turns(data_dir)
        rows.append("")
        rows.append(
            f"Turns stored in SQLite during the run: {stored:,} "
            f"(at least the {expected:,} measured; warm-up turns are stored too)."
        )
    finally:
        server.kill()
        bare.kill()
        bare.wait(timeout=10)
    return rows


def interpreter_start(runs: int) -> tuple[float, float]:
    """Median seconds and CPU seconds for `python -c pass`: what Ballsy cannot go below."""
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return median(times), median(cpu)


def cold_start(runs: int, root: Path) -> list[str]:
    compile_bytecode()
    first_run: list[float] = []
    warm_runs: list[float] = []
    first_cpu: list[float] = []
    warm_cpu: list[float] = []
    for index in range(runs):
        data_dir = root / f"cold-{index}"
        for times, cpu in ((first_run, first_cpu), (warm_runs, warm_cpu)):
            server = BallsyProcess({**SERVICE_ENV, "DATA_DIR": str(data_dir)}).start()
            try:
                times.append(server.wait_healthy())
                assert server.proc is not None
                cpu.append(cpu_seconds(server.proc.pid))
            finally:
                server.kill()
    floor, floor_cpu = interpreter_start(runs)
    return [
        f"| fresh data directory (creates and migrates SQLite) | {median(first_run):.2f} s | "
        f"{max(first_run):.2f} s | {median(first_cpu):.2f} s |",
        f"| existing database (the usual restart) | {median(warm_runs):.2f} s | "
        f"{max(warm_runs):.2f} s | {median(warm_cpu):.2f} s |",
        f"| the interpreter alone (`python -c pass`, the floor) | {floor:.2f} s | | "
        f"{floor_cpu:.2f} s |",
    ]


async def _turns(port: int, token: str, count: int, clients: int = 10) -> None:
    per_client = count // clients

    async def one(index: int) -> None:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/voice/mem-{index}", compression=None
        ) as ws:
            await ws.send(json.dumps({"type": "hello", "token": token}))
            await ws.recv()
            for turn in range(per_client):
                await ws.send(json.dumps({"command": COMMANDS[turn % len(COMMANDS)]}))
                await ws.recv()

    await asyncio.gather(*(one(i) for i in range(clients)))


async def _hold_idle(port: int, count: int) -> int:
    sockets = []
    try:
        for index in range(count):
            sockets.append(
                await websockets.connect(
                    f"ws://127.0.0.1:{port}/ws/voice/idle-{index}", compression=None
                )
            )
        await asyncio.sleep(3)
        alive = 0
        for ws in sockets:
            await ws.send(json.dumps({"type": "ping"}))
        for ws in sockets:
            if json.loads(await asyncio.wait_for(ws.recv(), 10)).get("type") == "pong":
                alive += 1
        return alive
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def memory(root: Path) -> list[str]:
    data_dir = root / "memory"
    server = BallsyProcess(
        {**SERVICE_ENV, "DATA_DIR": str(data_dir), "RATE_LIMIT_WS_PER_INSTANCE": "5000"}
    ).start()
    try:
        server.wait_healthy()
        assert server.proc is not None
        pid = server.proc.pid
        time.sleep(0.5)
        idle = rss_mb(pid)
        token = sessions(server.port, 1)[0]
        assert token is not None
        asyncio.run(_turns(server.port, token, 1_000))
        after_1k = rss_mb(pid)
        asyncio.run(_turns(server.port, token, 9_000))
        after_10k = rss_mb(pid)
        alive = asyncio.run(_hold_idle(server.port, 1_000))
        holding = rss_mb(pid)
        growth = (after_10k - after_1k) / after_1k * 100
        return [
            f"| idle, after start | {idle:.0f} MB |",
            f"| after 1,000 stored turns | {after_1k:.0f} MB |",
            f"| after 10,000 stored turns | {after_10k:.0f} MB ({growth:+.1f}% from 1,000) |",
            f"| holding 1,000 idle WebSockets ({alive} answered a ping after 3 s) | "
            f"{holding:.0f} MB |",
        ]
    finally:
        server.kill()


COLD_START_HEAD = [
    "Cold start: process start to the first 200 on `/health` (median and worst of {runs}), "
    "Ballsy's modules compiled to bytecode as in the container image. CPU is the server "
    "process's own CPU time up to that answer (median): it moves far less than the wall "
    "clock with the neighbours' load.",
    "",
    "| case | median | worst | CPU |",
    "| --- | ---: | ---: | ---: |",
]


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--cold-runs", type=int, default=5, help="starts per cold-start case")
    parser.add_argument(
        "--only", choices=["all", "cold-start"], default="all", help="run one part only"
    )
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    cold_head = [line.format(runs=args.cold_runs) for line in COLD_START_HEAD]
    if args.only == "cold-start":
        with tempfile.TemporaryDirectory() as tmp:
            lines = [
                "## Service: cold start",
                "",
                f"Machine: {machine()}.",
                "Command: `.venv/bin/python -m bench.bench_service --only cold-start"
                f" --cold-runs {args.cold_runs}`",
                "",
                *cold_head,
                *cold_start(args.cold_runs, Path(tmp)),
            ]
        report = "\n".join(lines) + "\n"
        print(report)
        return report
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lines = [
            "## Service: local commands, cold start, memory",
            "",
            f"Machine: {machine()}.",
            f"Command: `.venv/bin/python -m bench.bench_service --seconds {args.seconds:g}`",
            "",
            "Locally answered commands (a rotating mix of greeting, arithmetic, time, open, "
            "directions, small talk); every Ballsy turn is stored (conversation, two messages, "
            "history row) in the embedded SQLite database for an authenticated user. The bare "
            "FastAPI app answers the same shapes with nothing behind them: the ceiling on this "
            f"machine. {args.seconds:g} s per row after a 0.5 s warm-up.",
            "",
            "| server | clients | turns/s | p50 ms | p99 ms | errors |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *throughput(args.seconds, root),
            "",
            *cold_head,
            *cold_start(args.cold_runs, root),
            "",
            "Resident memory of the server process (speech model not loaded: `STT_ENABLED=false`;"
            " see the speech benchmark for the model's own memory).",
            "",
            "| state | RSS |",
            "| --- | ---: |",
            *memory(root),
        ]
    report = "\n".join(lines) + "\n"
    print(report)
    return report


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
