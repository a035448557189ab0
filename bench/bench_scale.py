"""Stored turns per second: Ballsy (signed-in users, every turn stored) against the
prototype (stores nothing), side by side in one run, on SQLite and PostgreSQL.

The prototype is installed from its repository into a virtual environment of its own
(its code is extracted to a temporary folder, never into this checkout) and served by
uvicorn; Ballsy is the real `ballsy serve`. Both answer the same locally computed
command ("2+2": the prototype's arithmetic, no AI) over both doors, to the same client
in this process (raw HTTP/1.1 keep-alive; the `websockets` library), interleaved:
prototype, Ballsy, prototype, Ballsy... so a change in the machine's load hits both.

    .venv/bin/python -m bench.bench_scale [--seconds 3] [--rounds 2] [--clients 10,100]
        [--databases sqlite,postgres] [--prototype-git DIR] [--prototype-venv DIR]
    .venv/bin/python -m bench.bench_scale --profile [--door ws|http] [--seconds 4]
        (where Ballsy's CPU goes per turn over one door, no prototype)

Each turn Ballsy acknowledges is checked to be in its database at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import websockets
from tests.pg import ADMIN_DSN, create_database, drop_database, free_port
from tests.servers import BallsyProcess, cpu_seconds, listening_pids

from bench.common import (
    compile_bytecode,
    machine,
    median,
    percentile,
    read_http_response,
)

PROTOTYPE_GIT = "/work/.mirror/ethicalzeus07+ballsy-voice-assistant/repo"
PROTOTYPE_COMMIT = "53a7354"
PROTOTYPE_DEPS = [
    "fastapi",
    "uvicorn[standard]",
    "flask",
    "python-dotenv",
    "google-genai",
    "SpeechRecognition",
    "pydantic",
    "python-multipart",
    "websockets",
    "jinja2",
    "sqlalchemy",
    "psycopg2-binary",
    "alembic",
]
# Answered locally by both: the prototype's arithmetic branch and Ballsy's.
COMMAND = "2+2"
BALLSY_ENV = {
    "STT_ENABLED": "false",
    "RATE_LIMIT_ENABLED": "false",
    "LOG_LEVEL": "WARNING",
    "AI_PROVIDER": "none",
}
# Targets: Ballsy / prototype turns per second, per database and door.
TARGETS = {("sqlite", "ws"): 2.0, ("sqlite", "http"): 1.2, ("postgres", "ws"): 1.0}
TARGET_P99_MS = 25.0  # SQLite, 10 clients


@dataclass
class Load:
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu_s: float = 0.0  # the server process's CPU during the measured window

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


# --- the client ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """How to talk to one server."""

    name: str
    port: int
    tokens: list[str | None]
    prototype: bool
    pid: int | None = None

    def http_request(self, index: int) -> bytes:
        payload: dict[str, object] = {"command": COMMAND}
        auth = ""
        if self.prototype:
            payload["user_id"] = index + 1
        else:
            auth = f"Authorization: Bearer {self.tokens[index]}\r\n"
        body = json.dumps(payload).encode()
        return (
            f"POST /api/command HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{auth}Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def ws_path(self, index: int) -> str:
        return f"/ws/voice/{index + 1}"


async def _http_client(target: Target, index: int, deadline: float, out: Load) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    request = target.http_request(index)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            if await read_http_response(reader):
                out.count += 1
                out.latencies.append(time.perf_counter() - started)
            else:
                out.errors += 1
    finally:
        writer.close()


async def _ws_client(target: Target, index: int, deadline: float, out: Load) -> None:
    url = f"ws://127.0.0.1:{target.port}{target.ws_path(index)}"
    async with websockets.connect(url, compression=None, max_queue=None) as ws:
        token = target.tokens[index]
        if token:
            await ws.send(json.dumps({"type": "hello", "token": token}))
            await ws.recv()
        frame = json.dumps({"command": COMMAND})
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await ws.send(frame)
            reply = json.loads(await ws.recv())
            if reply.get("type") == "command_response":
                out.count += 1
                out.latencies.append(time.perf_counter() - started)
            else:
                out.errors += 1


async def _load(
    target: Target, door: str, clients: int, seconds: float, pid: int | None = None
) -> Load:
    client = _http_client if door == "http" else _ws_client
    warm = Load()
    warm_deadline = time.perf_counter() + min(0.5, seconds / 4)
    await asyncio.gather(*(client(target, i, warm_deadline, warm) for i in range(clients)))
    out = Load(seconds=seconds)
    cpu = cpu_seconds(pid) if pid else 0.0
    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(client(target, i, deadline, out) for i in range(clients)))
    out.cpu_s = cpu_seconds(pid) - cpu if pid else 0.0
    return out


# --- the prototype -----------------------------------------------------------------------


def install_prototype(git_dir: Path, venv: Path, workdir: Path) -> Path:
    """Extract the prototype at PROTOTYPE_COMMIT into `workdir`; make sure `venv` holds
    its dependencies (installed from PyPI once). Returns the extracted tree."""
    tree = workdir / "prototype"
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", f"--git-dir={git_dir}", "archive", PROTOTYPE_COMMIT],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True, timeout=120)
    marker = venv / ".prototype-deps"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", *PROTOTYPE_DEPS], check=True, timeout=900
        )
        marker.write_text("\n".join(PROTOTYPE_DEPS))
    return tree


def start_prototype(tree: Path, venv: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "DATABASE_URL": f"sqlite:///{tree / 'prototype.db'}",
        # Its limiter keeps 10 timestamps per user, so any limit above 10 never refuses.
        "MAX_REQUESTS_PER_MINUTE": "1000000",
        "MAX_SESSIONS": "100000",
        "ENVIRONMENT": "development",
    }
    proc = subprocess.Popen(
        [
            str(venv / "bin" / "python"),
            "-m",
            "uvicorn",
            "src.backend.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the prototype exited with {proc.returncode}")
            try:
                reply = client.post(
                    f"http://127.0.0.1:{port}/api/command", json={"command": COMMAND}
                )
                if reply.status_code == 200 and reply.json()["response"] == "4":
                    assert proc.pid in listening_pids(port)
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise TimeoutError("the prototype did not start")


# --- Ballsy ----------------------------------------------------------------------------------


def signed_in(port: int, count: int) -> list[str | None]:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        return [client.post("/api/session").json()["token"] for _ in range(count)]


def stored_count(database: str, location: str) -> int:
    if database == "sqlite":
        with sqlite3.connect(Path(location) / "ballsy.db") as conn:
            return int(conn.execute("SELECT count(*) FROM command_history").fetchone()[0])
    with psycopg.connect(location) as conn:
        row = conn.execute("SELECT count(*) FROM command_history").fetchone()
        assert row is not None
        return int(row[0])


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Row:
    database: str
    door: str
    clients: int
    prototype: list[Load]
    ballsy: list[Load]

    @staticmethod
    def _summary(loads: list[Load]) -> tuple[float, float, float, int, float]:
        latencies = [x for load in loads for x in load.latencies]
        rate = median([load.rate for load in loads])
        errors = sum(load.errors for load in loads)
        turns = sum(load.count for load in loads)
        cpu_ms = 1000 * sum(load.cpu_s for load in loads) / turns if turns else float("nan")
        return rate, median(latencies) * 1000, percentile(latencies, 99) * 1000, errors, cpu_ms

    def markdown(self) -> str:
        p_rate, p_p50, p_p99, p_err, p_cpu = self._summary(self.prototype)
        b_rate, b_p50, b_p99, b_err, b_cpu = self._summary(self.ballsy)
        ratio = b_rate / p_rate if p_rate else float("nan")
        target = TARGETS.get((self.database, self.door), 1.0)
        verdicts = [f"≥{target:g}x: {'met' if ratio >= target else 'NOT met'}"]
        if self.database == "sqlite" and self.clients == 10:
            verdicts.append(
                f"p99 <{TARGET_P99_MS:g} ms: {'met' if b_p99 < TARGET_P99_MS else 'NOT met'}"
            )
        return (
            f"| {self.database} | {self.door.upper()} | {self.clients} | {p_rate:,.0f} | "
            f"{p_p50:.1f} / {p_p99:.1f} | {b_rate:,.0f} | {b_p50:.1f} / {b_p99:.1f} | "
            f"**{ratio:.2f}x** | {'; '.join(verdicts)} | {p_cpu:.2f} / {b_cpu:.2f} "
            f"| {p_err} / {b_err} |"
        )


def run(args: argparse.Namespace) -> list[str]:
    compile_bytecode()
    header = [
        "## Stored turns against the prototype (group commit)",
        "",
        f"Command: `.venv/bin/python -m bench.bench_scale --seconds {args.seconds:g} "
        f"--rounds {args.rounds} --clients {','.join(map(str, args.clients))} "
        f"--databases {','.join(args.databases)}`",
        "",
        "Ballsy: `ballsy serve`, signed-in users (one per client), every turn stored; the "
        "prototype (commit 53a7354, its own virtual environment) stores nothing. Command "
        f"`{COMMAND}`, answered locally by both. Same client, interleaved rounds.",
        "",
        f"Machine: {machine()}",
        "",
        "```",
        "\n".join(
            subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:10]
        ),
        "```",
        "",
    ]
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ballsy-scale-") as tmp:
        root = Path(tmp)
        tree = install_prototype(Path(args.prototype_git), Path(args.prototype_venv), root)
        proto_port = free_port()
        prototype = start_prototype(tree, Path(args.prototype_venv), proto_port)
        try:
            proto = Target("prototype", proto_port, [None] * max(args.clients), True, prototype.pid)
            for database in args.databases:
                rows += _database_rows(database, args, root, proto, notes)
        finally:
            prototype.kill()
            prototype.wait(timeout=10)
    loads = os.getloadavg()
    table = [
        "| database | door | clients | prototype turns/s | prototype p50 / p99 ms "
        "| Ballsy turns/s (stored) | Ballsy p50 / p99 ms | Ballsy / prototype | target "
        "| server CPU ms per turn (prototype / Ballsy) | errors (prototype / Ballsy) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *(row.markdown() for row in rows),
    ]
    footer = [
        "",
        f"{args.rounds} interleaved rounds of {args.seconds:g} s per cell (turns/s: the "
        f"median round; latencies: all rounds). Load average at the end: "
        f"{loads[0]:.2f} {loads[1]:.2f} {loads[2]:.2f}.",
        *notes,
    ]
    return header + table + footer


def _database_rows(
    database: str, args: argparse.Namespace, root: Path, proto: Target, notes: list[str]
) -> list[Row]:
    env = dict(BALLSY_ENV)
    dropped: str | None = None
    if database == "sqlite":
        location = str(root / "ballsy-data")
        env["DATA_DIR"] = location
    else:
        from ballsy.db import migrate

        dropped, location = create_database(args.postgres_dsn)
        migrate.upgrade(location)
        env["DATABASE_URL"] = location
        env["DB_POOL_SIZE"] = str(args.pool_size)
    server = BallsyProcess(env).start()
    rows: list[Row] = []
    try:
        server.wait_healthy(timeout=60)
        ballsy = Target("Ballsy", server.port, signed_in(server.port, max(args.clients)), False)
        assert server.proc is not None
        server_pid, proto_pid = server.proc.pid, proto.pid
        acknowledged = 0
        for clients in args.clients:
            for door in ("http", "ws"):
                row = Row(database, door, clients, [], [])
                for _ in range(args.rounds):
                    row.prototype.append(
                        asyncio.run(_load(proto, door, clients, args.seconds, proto_pid))
                    )
                    load = asyncio.run(_load(ballsy, door, clients, args.seconds, server_pid))
                    row.ballsy.append(load)
                    acknowledged += load.count
                rows.append(row)
                print(row.markdown(), file=sys.stderr, flush=True)
        stored = stored_count(database, location)
        notes.append(
            f"{database}: {stored:,} turns stored, at least the {acknowledged:,} acknowledged "
            f"in the measured windows (warm-up turns are stored too): "
            f"{'ok' if stored >= acknowledged else 'MISSING TURNS'}."
        )
    finally:
        server.kill()
        if dropped:
            drop_database(dropped, args.postgres_dsn)
    return rows


# `ballsy serve` with cProfile switched on and off by signals, so only the measured
# window is profiled (not start-up); it counts the event-loop thread's own CPU time
# (`time.thread_time`), not waiting, and not the database writer's thread.
_PROFILED_SERVE = """
import cProfile, signal, sys, time
OUT = sys.argv[1]
profiler = cProfile.Profile(time.thread_time)
def stop(*_):
    profiler.disable()
    profiler.dump_stats(OUT)
    open(OUT + ".done", "w").close()
signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
signal.signal(signal.SIGUSR2, stop)
from ballsy.cli import main
sys.argv = ["ballsy", "serve"]
main()
"""

# Where a turn's CPU goes, by the code's home: Ballsy's own by package folder, the
# rest by a part of the file's path (first match wins).
_BALLSY_GROUPS: tuple[tuple[str, str], ...] = (
    ("commands/", "Ballsy: local commands (understanding and answering `2+2`)"),
    ("api/", "Ballsy: doors (middleware, dependencies, socket loop, wire format)"),
    ("", "Ballsy: pipeline, turn writer hand-off, metrics"),
)
_OTHER_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("FastAPI, Starlette, pydantic", ("/fastapi/", "/starlette/", "/pydantic", "/anyio/")),
    ("uvicorn and websockets (HTTP and WebSocket protocol)", ("/uvicorn/", "/websockets/")),
    ("event loop, tasks, threads", ("/asyncio/", "/uvloop/", "threading", "/concurrent/")),
    ("SQLAlchemy and drivers (timer sweeps)", ("/sqlalchemy/", "/aiosqlite/", "/sqlite3/")),
    ("prometheus_client", ("/prometheus_client/",)),
)
_OTHER = "other (C built-ins, rest of the standard library)"


def _profile_group(filename: str, ballsy_root: str) -> str:
    if filename.startswith(ballsy_root):
        inner = filename[len(ballsy_root) :]
        return next(name for prefix, name in _BALLSY_GROUPS if inner.startswith(prefix))
    return next(
        (name for name, parts in _OTHER_GROUPS if any(p in filename for p in parts)), _OTHER
    )


def _profile_shares(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Self time grouped by where the code lives."""
    import ballsy  # the package the server ran: the same PYTHONPATH

    root = f"{Path(ballsy.__file__).parent}/"
    totals = {name: 0.0 for _, name in _BALLSY_GROUPS} | {n: 0.0 for n, _ in _OTHER_GROUPS}
    totals[_OTHER] = 0.0
    for (filename, _line, _name), values in stats.stats.items():  # type: ignore[attr-defined]
        totals[_profile_group(filename, root)] += values[2]
    total = sum(totals.values())
    return [(name, 100 * value / total) for name, value in totals.items() if total]


def profile(args: argparse.Namespace) -> list[str]:
    """Ballsy's event-loop thread under cProfile while it serves 10 signed-in clients
    on SQLite over one door: where a stored turn's CPU goes."""
    import signal

    door = args.door
    with tempfile.TemporaryDirectory(prefix="ballsy-scale-profile-") as tmp:
        out = Path(tmp) / "serve.prof"
        done = Path(f"{out}.done")
        server = BallsyProcess({**BALLSY_ENV, "DATA_DIR": str(Path(tmp) / "data")})
        server.proc = subprocess.Popen(
            [sys.executable, "-c", _PROFILED_SERVE, str(out)],
            env=server.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server.started_at = time.perf_counter()
        try:
            server.wait_healthy(timeout=90)
            target = Target("Ballsy", server.port, signed_in(server.port, 10), False)
            asyncio.run(_load(target, door, 10, 1.0))  # warm up, unprofiled
            server.proc.send_signal(signal.SIGUSR1)
            load = asyncio.run(_load(target, door, 10, args.seconds))
            server.proc.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 60
            while not done.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            server.kill()
        stats = pstats.Stats(str(out))
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    by_self = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]  # type: ignore[attr-defined]
    lines = [
        f"Profile: Ballsy serving 10 signed-in {door.upper()} clients on SQLite for "
        f"{args.seconds:g} s ({load.count:,} turns measured; the event-loop thread's CPU "
        "while they ran, under cProfile: read the shares, not the rate).",
        "",
        "| where (self time) | share |",
        "|---|---:|",
        *(f"| {name} | {share:.0f}% |" for name, share in _profile_shares(stats)),
        "",
        "| function (self time) | share |",
        "|---|---:|",
    ]
    for (filename, line, name), values in by_self:
        short = "/".join(Path(filename).parts[-2:]) if filename != "~" else ""
        lines.append(f"| `{short}:{line}({name})` | {100 * values[2] / total:.1f}% |")
    return lines


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--clients", type=lambda s: [int(x) for x in s.split(",")], default=[10, 100]
    )
    parser.add_argument("--databases", type=lambda s: s.split(","), default=["sqlite", "postgres"])
    parser.add_argument("--prototype-git", default=PROTOTYPE_GIT)
    parser.add_argument(
        "--prototype-venv",
        default=str(Path.home() / ".cache" / "ballsy-bench" / "prototype-venv"),
    )
    parser.add_argument("--postgres-dsn", default=ADMIN_DSN)
    parser.add_argument("--pool-size", type=int, default=3)
    parser.add_argument(
        "--profile", action="store_true", help="only profile Ballsy's turns over one door"
    )
    parser.add_argument("--door", choices=["ws", "http"], default="ws", help="with --profile")
    args = parser.parse_args()
    text = "\n".join(profile(args) if args.profile else run(args))
    print(text)
    return text


if __name__ == "__main__":
    main()
