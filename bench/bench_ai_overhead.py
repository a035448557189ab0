"""What Ballsy adds to the AI's time to first token, seen by a WebSocket client.

A fake provider (tests/fakes, in a child process) answers instantly. We time, at 1 and
10 concurrent clients:
  - through Ballsy: `{"type": "command"}` sent on an authenticated WebSocket of a real
    `ballsy serve` -> the first `reply_delta` received;
  - the baseline: bare httpx asking the fake directly for the same stream, as many
    clients at once, in blocks alternating with the turns above.
The difference is Ballsy's overhead: the socket, the pipeline (memory read from the
database, budgets, prompt), and the provider's client (for Gemini, the google-genai SDK).

    .venv/bin/python -m bench.bench_ai_overhead [--turns 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import websockets
from tests.servers import BallsyProcess

from bench.bench_llm_provider_overhead import MODEL, baseline_for, start_fake
from bench.common import machine, median, percentile

BLOCK = 10  # turns per client in each alternating block
WARM_UP = 8  # turns per client before measuring: the context reaches its 6 turns


async def _ballsy_client(ws: Any, turns: int, out: list[float]) -> None:
    for _ in range(turns):
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "command", "command": "tell me something nice"}))
        first: float | None = None
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "reply_delta" and first is None:
                first = time.perf_counter() - started
            if message["type"] in ("command_response", "error"):
                break
        if first is not None:
            out.append(first)


async def _direct_client(
    ask: Callable[[], Awaitable[tuple[float, float]]], turns: int, out: list[float]
) -> None:
    for _ in range(turns):
        first, _total = await ask()
        out.append(first)


async def _run_both(
    port: int,
    kind: str,
    base_url: str,
    tokens: list[str],
    turns: int,
    through: list[float],
    direct: list[float],
) -> None:
    """Alternate blocks of turns through Ballsy and straight to the fake, every client
    at once in each block, so both see the same concurrency and the same drift in the
    shared machine's load."""
    asks = [baseline_for(kind, base_url) for _ in tokens]
    sockets = []
    for token in tokens:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/voice/ai-bench", compression=None)
        await ws.send(json.dumps({"type": "hello", "token": token}))
        await ws.recv()
        sockets.append(ws)
    try:
        # Warm-up: caches, connections, and each conversation grows to its full context.
        await asyncio.gather(*(_ballsy_client(ws, WARM_UP, []) for ws in sockets))
        await asyncio.gather(*(_direct_client(ask, WARM_UP, []) for ask in asks))
        for _ in range(turns // BLOCK):
            await asyncio.gather(*(_ballsy_client(ws, BLOCK, through) for ws in sockets))
            await asyncio.gather(*(_direct_client(ask, BLOCK, direct) for ask in asks))
    finally:
        for ws in sockets:
            await ws.close()


def _env(kind: str, base_url: str) -> dict[str, str]:
    common = {"STT_ENABLED": "false", "RATE_LIMIT_ENABLED": "false", "LOG_LEVEL": "WARNING"}
    if kind == "gemini":
        return {
            **common,
            "AI_PROVIDER": "gemini",
            "GEMINI_API_KEY": "bench-key",
            "GEMINI_MODEL": MODEL[kind],
            "GOOGLE_GEMINI_BASE_URL": base_url,
        }
    return {
        **common,
        "AI_PROVIDER": "openai",
        "OPENAI_BASE_URL": base_url,
        "OPENAI_MODEL": MODEL[kind],
    }


def measure(kind: str, turns: int, data_dir: str) -> list[str]:
    child, base_url = start_fake(kind, 3)
    server = BallsyProcess({**_env(kind, base_url), "DATA_DIR": f"{data_dir}/{kind}"}).start()
    rows = []
    try:
        server.wait_healthy()
        with httpx.Client(base_url=server.base_url) as client:
            tokens = [client.post("/api/session").json()["token"] for _ in range(10)]
        for clients in (1, 10):
            through: list[float] = []
            direct: list[float] = []

            asyncio.run(
                _run_both(server.port, kind, base_url, tokens[:clients], turns, through, direct)
            )
            added = (median(through) - median(direct)) * 1000
            rows.append(
                f"| {kind} | {clients} | {median(direct) * 1000:.2f} | "
                f"{median(through) * 1000:.2f} | {percentile(through, 99) * 1000:.2f} | "
                f"**{added:+.2f}** |"
            )
    finally:
        server.kill()
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
    return rows


def main() -> str:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure("openai", args.turns, tmp) + measure("gemini", args.turns, tmp)
    report = (
        "\n".join(
            [
                "## AI: what Ballsy adds to the time to first token",
                "",
                f"Machine: {machine()}.",
                f"Command: `.venv/bin/python -m bench.bench_ai_overhead --turns {args.turns}`",
                "",
                "A fake provider answers instantly (3 chunks). Time to first token seen by a "
                "WebSocket client through `ballsy serve` (authenticated user: memory read from "
                "SQLite, budgets, prompt, provider client) against bare httpx asking the fake "
                f"directly, {args.turns} turns per client after {WARM_UP} warm-up turns (by "
                "then each conversation holds the full context of 6 turns). The two "
                f"alternate in blocks of {BLOCK} turns with every client at once, so both "
                "see the same concurrency and the same machine load. At 10 clients the ten "
                "direct httpx streams share the benchmark's one Python process and are slower "
                "than ten WebSocket clients, so the difference there can come out below zero; "
                "the 1-client row is the one that isolates Ballsy. For Gemini, the provider "
                "overhead section below shows how much of it is the google-genai SDK.",
                "",
                "| provider | clients | direct first token p50 (ms) | through Ballsy p50 (ms) | "
                "through Ballsy p99 (ms) | Ballsy adds, p50 (ms) |",
                "| --- | ---: | ---: | ---: | ---: | ---: |",
                *rows,
            ]
        )
        + "\n"
    )
    print(report)
    return report


if __name__ == "__main__":
    main()
