"""What Ballsy adds to the AI's time to first token, seen by a WebSocket client.

A fake provider (tests/fakes, in a child process) answers instantly. We time, at 1 and
10 concurrent clients:
  - through Ballsy: `{"type": "command"}` sent on an authenticated WebSocket of a real
    `ballsy serve` -> the first `reply_delta` received;
  - the baseline: bare httpx asking the fake directly for the same stream.
The difference is Ballsy's overhead: the socket, the pipeline (memory read from the
database, budgets, prompt), and the provider's client (for Gemini, the google-genai SDK).

    .venv/bin/python -m bench.bench_ai_overhead [--turns 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx
import websockets
from tests.servers import BallsyProcess

from bench.bench_llm_provider_overhead import MODEL, baseline_for, start_fake
from bench.common import machine, median, percentile


async def _ballsy_client(port: int, token: str, turns: int, out: list[float]) -> None:
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/voice/ai-bench", compression=None
    ) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token}))
        await ws.recv()
        for turn in range(turns + 3):
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "command", "command": "tell me something nice"}))
            first: float | None = None
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "reply_delta" and first is None:
                    first = time.perf_counter() - started
                if message["type"] in ("command_response", "error"):
                    break
            if turn >= 3 and first is not None:  # the first turns warm the caches
                out.append(first)


async def _baseline_client(kind: str, base_url: str, turns: int, out: list[float]) -> None:
    run = baseline_for(kind, base_url)
    for turn in range(turns + 3):
        first, _total = await run()
        if turn >= 3:
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
    await asyncio.gather(*(_ballsy_client(port, token, turns, through) for token in tokens))
    await asyncio.gather(*(_baseline_client(kind, base_url, turns, direct) for _ in tokens))


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
                f"directly, {args.turns} turns per client after 3 warm-up turns.",
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
