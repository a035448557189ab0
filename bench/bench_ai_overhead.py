"""What Ballsy adds to the AI's time to first token, seen by a WebSocket client.

A fake provider (tests/fakes, in a child process) answers instantly. We time, at 1 and
10 concurrent clients:
  - through Ballsy: `{"type": "command"}` sent on an authenticated WebSocket of a real
    `ballsy serve` -> the first `reply_delta` received;
  - baselines, in blocks alternating with the turns above, as many clients at once:
    bare httpx asking the fake directly for the same stream; for Gemini also the
    google-genai SDK called directly, as any application on the official SDK would, with
    the same persona, six turns of context and generation settings as Ballsy sends.
Against bare httpx the difference is the socket, the pipeline (memory read from the
database, budgets, prompt) and the provider's client; against the SDK it is what Ballsy
itself adds on top of the client the issue prescribes for Gemini.

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

from bench.bench_llm_provider_overhead import MODEL, baseline_for, messages_with, start_fake
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
            if message["type"] in ("reply_end", "error"):
                break
        if first is not None:
            out.append(first)


async def _direct_client(
    ask: Callable[[], Awaitable[tuple[float, float]]], turns: int, out: list[float]
) -> None:
    for _ in range(turns):
        first, _total = await ask()
        out.append(first)


def sdk_baseline(base_url: str) -> Callable[[], Awaitable[tuple[float, float]]]:
    """google-genai asked directly, plain SDK usage, with the request Ballsy would send."""
    from google import genai
    from google.genai import types

    from ballsy.config import DEFAULT_PERSONA

    client = genai.Client(api_key="bench-key", http_options=types.HttpOptions(base_url=base_url))
    contents: list[types.ContentDict] = [
        {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
        for m in messages_with(6)
        if m.role != "system"
    ]
    config = types.GenerateContentConfig(
        system_instruction=DEFAULT_PERSONA,
        max_output_tokens=256,
        temperature=0.7,
        thinking_config=types.ThinkingConfig(thinking_budget=0),
    )

    async def run() -> tuple[float, float]:
        started = time.perf_counter()
        first = 0.0
        stream = await client.aio.models.generate_content_stream(
            model=MODEL["gemini"], contents=contents, config=config
        )
        async for _chunk in stream:
            first = first or time.perf_counter() - started
        return first, time.perf_counter() - started

    return run


async def _run_all(
    port: int,
    kind: str,
    base_url: str,
    tokens: list[str],
    turns: int,
    through: list[float],
    direct: list[float],
    sdk: list[float],
) -> None:
    """Alternate blocks of turns through Ballsy and straight to the fake (and, for
    Gemini, through the SDK alone), every client at once in each block, so all see the
    same concurrency and the same drift in the shared machine's load."""
    asks = [baseline_for(kind, base_url) for _ in tokens]
    sdk_asks = [sdk_baseline(base_url) for _ in tokens] if kind == "gemini" else []
    sockets = []
    for token in tokens:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/voice/ai-bench", compression=None)
        await ws.send(json.dumps({"type": "hello", "token": token}))
        await ws.recv()
        sockets.append(ws)
    try:
        # Warm-up: caches, connections, and each conversation grows to its full context.
        await asyncio.gather(*(_ballsy_client(ws, WARM_UP, []) for ws in sockets))
        await asyncio.gather(*(_direct_client(ask, WARM_UP, []) for ask in asks + sdk_asks))
        for _ in range(turns // BLOCK):
            await asyncio.gather(*(_ballsy_client(ws, BLOCK, through) for ws in sockets))
            await asyncio.gather(*(_direct_client(ask, BLOCK, direct) for ask in asks))
            await asyncio.gather(*(_direct_client(ask, BLOCK, sdk) for ask in sdk_asks))
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
            sdk: list[float] = []

            asyncio.run(
                _run_all(server.port, kind, base_url, tokens[:clients], turns, through, direct, sdk)
            )
            added = (median(through) - median(direct)) * 1000
            sdk_p50 = f"{median(sdk) * 1000:.2f}" if sdk else "—"
            over_sdk = (median(through) - median(sdk)) * 1000 if sdk else added
            rows.append(
                f"| {kind} | {clients} | {median(direct) * 1000:.2f} | {sdk_p50} | "
                f"{median(through) * 1000:.2f} | {percentile(through, 99) * 1000:.2f} | "
                f"{added:+.2f} | **{over_sdk:+.2f}** |"
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
                "SQLite, budgets, prompt, provider client), against two direct baselines: bare "
                "httpx asking the fake for the same stream, and, for Gemini, the google-genai "
                "SDK called directly with the same persona, six turns of context and settings "
                f"(the client the issue prescribes). {args.turns} turns per client after "
                f"{WARM_UP} warm-up turns (by then each conversation holds the full context of "
                f"6 turns); Ballsy and the baselines alternate in blocks of {BLOCK} turns with "
                "every client at once, so all see the same concurrency and the same machine "
                "load. At 10 clients the direct streams share the benchmark's one Python "
                "process and are slower than ten WebSocket clients, so the difference there "
                "can come out below zero; the 1-client rows are the ones that isolate Ballsy. "
                "The OpenAI-compatible provider speaks HTTP itself, so its two baselines are "
                "the same. The provider overhead section below shows what google-genai costs "
                "per request.",
                "",
                "| provider | clients | direct httpx p50 (ms) | direct google-genai p50 (ms) | "
                "through Ballsy p50 (ms) | through Ballsy p99 (ms) | "
                "Ballsy adds over httpx, p50 (ms) | Ballsy adds over the SDK, p50 (ms) |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
                *rows,
            ]
        )
        + "\n"
    )
    print(report)
    return report


if __name__ == "__main__":
    main()
