"""What the AI providers add per reply and per chunk, against an instant fake server.

The fake (tests/fakes) runs in a child process so it does not share our GIL. For each
provider and reply length we time, over many replies:
  - the provider: `provider.stream()` with Ballsy's retry/timeout driver;
  - a baseline: bare httpx reading the same SSE stream and decoding each JSON chunk.
The difference is the provider's own overhead (the SDK's parsing for Gemini, our driver).

Run:  python -m bench.bench_llm_provider_overhead [--replies 60]   (from the repository root)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from ballsy.providers.llm.base import ChatMessage, GenerationParams, LLMProvider, ReplyStats
from ballsy.providers.llm.gemini import GeminiProvider
from ballsy.providers.llm.openai_compat import OpenAICompatProvider

ROOT = Path(__file__).resolve().parent.parent
MODULE = "bench.bench_llm_provider_overhead"
CONTEXT_TURN = (
    ChatMessage("user", "What is the tallest mountain in the Alps?"),
    ChatMessage(
        "assistant", "Mont Blanc, at about 4,800 metres. It sits on the French-Italian border."
    ),
)


def messages_with(context_turns: int) -> list[ChatMessage]:
    """The persona, `context_turns` earlier turns, and the new question: a real turn's shape."""
    from ballsy.config import DEFAULT_PERSONA

    return [
        ChatMessage("system", DEFAULT_PERSONA),
        *(message for _ in range(context_turns) for message in CONTEXT_TURN),
        ChatMessage("user", "Say something."),
    ]


MODEL = {"gemini": "gemini-2.5-flash-lite", "openai": "llama3.2"}


def serve(kind: str, chunks: int) -> None:
    """Child process: run a fake answering `chunks` chunks instantly until stdin closes."""
    from tests.fakes import FakeGemini, FakeOpenAI, Reply

    fake = (FakeGemini if kind == "gemini" else FakeOpenAI)().start()
    fake.default = Reply(chunks=["word "] * chunks)
    print(fake.base_url, flush=True)
    sys.stdin.read()
    fake.stop()


def provider_for(kind: str, base_url: str) -> LLMProvider:
    if kind == "gemini":
        return GeminiProvider(model=MODEL[kind], api_key="bench-key", base_url=base_url)
    return OpenAICompatProvider(base_url=base_url, model=MODEL[kind])


async def through_provider(
    provider: LLMProvider, messages: list[ChatMessage]
) -> tuple[float, float]:
    started = time.perf_counter()
    first = 0.0
    async for _chunk in provider.stream(messages, GenerationParams(), ReplyStats()):
        first = first or time.perf_counter() - started
    return first, time.perf_counter() - started


def baseline_for(kind: str, base_url: str) -> Callable[[], Awaitable[tuple[float, float]]]:
    client = httpx.AsyncClient()
    if kind == "gemini":
        url = f"{base_url}/v1beta/models/{MODEL[kind]}:streamGenerateContent?alt=sse"
        body: dict[str, object] = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
    else:
        url = f"{base_url}/chat/completions"
        body = {"model": MODEL[kind], "messages": [], "stream": True}

    async def run() -> tuple[float, float]:
        started = time.perf_counter()
        first = 0.0
        async with client.stream("POST", url, json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    first = first or time.perf_counter() - started
        return first, time.perf_counter() - started

    return run


async def measure(
    run: Callable[[], Awaitable[tuple[float, float]]], replies: int
) -> tuple[float, float]:
    for _ in range(5):
        await run()
    firsts, totals = [], []
    for _ in range(replies):
        first, total = await run()
        firsts.append(first)
        totals.append(total)
    return statistics.median(firsts) * 1000, statistics.median(totals) * 1000


def start_fake(kind: str, chunks: int) -> tuple[subprocess.Popen[str], str]:
    """A fake provider in a child process; returns it and its base URL (loopback only)."""
    child = subprocess.Popen(
        [sys.executable, "-m", MODULE, "--serve", kind, str(chunks)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    base_url = child.stdout.readline().strip()
    if not base_url.startswith("http://127.0.0.1:"):  # never talk to a real provider
        child.kill()
        raise SystemExit(f"the fake {kind} server did not start (got {base_url!r})")
    return child, base_url


async def bench(replies: int) -> list[str]:
    rows = []
    for kind in ("gemini", "openai"):
        for chunks, context in ((1, 0), (1, 6), (100, 0)):
            child, base_url = start_fake(kind, chunks)
            assert child.stdin is not None
            messages = messages_with(context)
            try:
                provider = provider_for(kind, base_url)
                p_first, p_total = await measure(
                    lambda p=provider, m=messages: through_provider(p, m),  # type: ignore[misc]
                    replies,
                )
                b_first, b_total = await measure(baseline_for(kind, base_url), replies)
                await provider.aclose()
            finally:
                child.stdin.close()
                child.wait(10)
            per_chunk = (
                ((p_total - p_first) - (b_total - b_first)) / (chunks - 1) * 1000
                if chunks > 1
                else float("nan")
            )
            rows.append(
                f"| {kind} | {chunks} | {context} | {b_first:.2f} | {p_first:.2f} "
                f"| {p_first - b_first:+.2f} "
                f"| {b_total:.2f} | {p_total:.2f} | {per_chunk:.0f} |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replies", type=int, default=60)
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "CHUNKS"))
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    rows = asyncio.run(bench(args.replies))
    print("## AI provider overhead (fake provider answering instantly)\n")
    print(
        f"Medians over {args.replies} replies; baseline = bare httpx reading the same SSE "
        "stream. Context = earlier turns sent with the persona and the new question (Ballsy "
        "sends up to 6): google-genai converts every message of a request into its own "
        "models and back, so its cost grows with the context.\n"
    )
    print(
        "| provider | chunks | context turns | baseline first (ms) | provider first (ms) "
        "| added (ms) "
        "| baseline total (ms) | provider total (ms) | added per chunk (µs) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nCommand: `python -m bench.bench_llm_provider_overhead --replies {args.replies}`")


if __name__ == "__main__":
    main()
