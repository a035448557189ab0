"""The provider contract, run over every provider against its fake server."""

from __future__ import annotations

import asyncio
import contextlib
import time

from ballsy.providers.llm.base import ChatMessage, GenerationParams, LLMProvider, ReplyStats
from tests.fakes import Reply
from tests.providers.llm.conftest import Case

MESSAGES = [
    ChatMessage("system", "You are Ballsy. One sentence."),
    ChatMessage("user", "What is two plus two?"),
    ChatMessage("assistant", "Four."),
    ChatMessage("user", "And times three?"),
]
PROMPT_GONE_S = 0.5  # how soon the fake must see the connection closed


async def collect(provider: LLMProvider, stats: ReplyStats | None = None) -> list[str]:
    stats = stats if stats is not None else ReplyStats()
    return [chunk async for chunk in provider.stream(MESSAGES, GenerationParams(), stats)]


async def test_streams_chunks_in_order_with_usage_and_timing(case: Case) -> None:
    chunks = ["Twelve", ",", " big", " brother", "."]
    case.fake.script(Reply(chunks=chunks, first_delay=0.05, chunk_delay=0.01, input_tokens=42))
    stats = ReplyStats()
    started = time.monotonic()

    got = await collect(case.make(), stats)

    assert got == chunks
    assert stats.input_tokens == 42
    assert stats.output_tokens == len(chunks)
    assert stats.attempts == 1
    assert stats.model
    assert stats.finish_reason in {"STOP", "stop"}
    assert stats.time_to_first_token_s is not None and stats.total_s is not None
    assert 0.05 <= stats.time_to_first_token_s <= stats.total_s
    assert stats.total_s >= 0.05 + 0.01 * (len(chunks) - 1)
    assert stats.total_s <= time.monotonic() - started
    assert len(case.fake.requests) == 1
    assert case.fake.wait_for_completed(1.0)


async def test_sends_persona_history_and_parameters(case: Case) -> None:
    case.fake.script(Reply())
    provider = case.make()
    stats = ReplyStats()
    params = GenerationParams(max_output_tokens=64, temperature=0.2)
    _ = [c async for c in provider.stream(MESSAGES, params, stats)]

    body = case.fake.requests[0].json()
    if case.kind == "gemini":
        assert body["systemInstruction"]["parts"][0]["text"] == MESSAGES[0].content
        assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
        assert body["contents"][-1]["parts"][0]["text"] == MESSAGES[-1].content
        config = body["generationConfig"]
        assert config["maxOutputTokens"] == 64 and config["temperature"] == 0.2
        thinking = config["thinkingConfig"]
        assert thinking.get("thinkingBudget", thinking.get("thinking_budget")) == 0
    else:
        assert body["messages"] == [{"role": m.role, "content": m.content} for m in MESSAGES]
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        assert body["max_tokens"] == 64 and body["temperature"] == 0.2


async def test_cancelling_the_consumer_closes_the_connection(case: Case) -> None:
    case.fake.script(Reply(chunks=["tick"] * 200, chunk_delay=0.02))
    got: list[str] = []
    first = asyncio.Event()

    async def consume() -> None:
        async for chunk in case.make().stream(MESSAGES, GenerationParams(), ReplyStats()):
            got.append(chunk)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    cancelled_at = time.monotonic()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    assert await case.fake.await_disconnect(PROMPT_GONE_S)
    gone = case.fake.disconnects[0]
    assert gone.client_closed_at is not None
    assert gone.client_closed_at - cancelled_at < PROMPT_GONE_S
    assert not gone.completed
    assert 1 <= len(got) < 200


async def test_leaving_early_with_aclose_closes_the_connection(case: Case) -> None:
    case.fake.script(Reply(chunks=["tock"] * 200, chunk_delay=0.02))
    stream = case.make().stream(MESSAGES, GenerationParams(), ReplyStats())
    async with contextlib.aclosing(stream):  # type: ignore[type-var]
        async for _chunk in stream:
            break
        left_at = time.monotonic()

    assert await case.fake.await_disconnect(PROMPT_GONE_S)
    closed_at = case.fake.disconnects[0].client_closed_at
    assert closed_at is not None and closed_at - left_at < PROMPT_GONE_S


async def test_cancel_during_a_stall_before_the_first_token(case: Case) -> None:
    case.fake.script(Reply(first_delay=10))
    task = asyncio.create_task(collect(case.make()))
    while not case.fake.requests:
        await asyncio.sleep(0.005)
    cancelled_at = time.monotonic()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert await case.fake.await_disconnect(PROMPT_GONE_S)
    closed_at = case.fake.disconnects[0].client_closed_at
    assert closed_at is not None and closed_at - cancelled_at < PROMPT_GONE_S


async def test_provider_serves_again_after_a_cancelled_reply(case: Case) -> None:
    provider = case.make()
    case.fake.script(Reply(chunks=["x"] * 100, chunk_delay=0.02), Reply(chunks=["again"]))
    stream = provider.stream(MESSAGES, GenerationParams(), ReplyStats())
    async with contextlib.aclosing(stream):  # type: ignore[type-var]
        await anext(stream)
    assert await collect(provider) == ["again"]


async def test_concurrent_replies_do_not_mix(case: Case) -> None:
    provider = case.make()
    case.fake.script(*[Reply(chunks=[f"r{i}-a", f"r{i}-b"], chunk_delay=0.01) for i in range(5)])
    results = await asyncio.gather(*[collect(provider) for _ in range(5)])
    for got in results:
        assert len(got) == 2 and got[0].split("-")[0] == got[1].split("-")[0]
    assert sorted(r[0] for r in results) == sorted(f"r{i}-a" for i in range(5))


async def test_plain_break_still_closes_the_connection_promptly(case: Case) -> None:
    """Callers should use `aclosing`, but a bare `break` must not leave a socket open:
    our generator owns the HTTP response, so when it is dropped, asyncio's async-generator
    finalizer closes it (the SDK's own nested generators would wait for the GC)."""
    case.fake.script(Reply(chunks=["tick"] * 200, chunk_delay=0.02))
    async for _chunk in case.make().stream(MESSAGES, GenerationParams(), ReplyStats()):
        break
    left_at = time.monotonic()
    assert await case.fake.await_disconnect(PROMPT_GONE_S)
    closed_at = case.fake.disconnects[0].client_closed_at
    assert closed_at is not None and closed_at - left_at < PROMPT_GONE_S
