"""OpenAI-compatible specifics: servers that differ in small ways."""

from __future__ import annotations

import pytest

from ballsy.providers.llm.base import AIError, ChatMessage, GenerationParams, ReplyStats
from ballsy.providers.llm.openai_compat import OpenAICompatProvider
from tests.fakes import FakeOpenAI, Raw, Reply
from tests.providers.llm.conftest import FAST

HELLO = [ChatMessage("user", "hello")]


async def reply(provider: OpenAICompatProvider, stats: ReplyStats | None = None) -> list[str]:
    stats = stats or ReplyStats()
    return [c async for c in provider.stream(HELLO, GenerationParams(), stats)]


async def test_server_refusing_stream_options_is_asked_again_without_them() -> None:
    with FakeOpenAI(reject_stream_options=True) as fake:
        provider = OpenAICompatProvider(base_url=fake.base_url, model="m", limits=FAST)
        fake.script(Reply(chunks=["a"]), Reply(chunks=["b"]))
        stats = ReplyStats()
        assert await reply(provider, stats) == ["a"]
        assert await reply(provider) == ["b"]
        await provider.aclose()
        sent = [r.json() for r in fake.requests]
        assert "stream_options" in sent[0]
        assert all("stream_options" not in body for body in sent[1:])
        assert len(sent) == 3  # one refusal, then never again
        assert stats.input_tokens is None  # unknown, not invented


async def test_no_key_sends_no_authorization() -> None:
    with FakeOpenAI() as fake:
        provider = OpenAICompatProvider(base_url=fake.base_url + "/", model="m", limits=FAST)
        assert await reply(provider) == ["Hello", " from", " the fake."]
        await provider.aclose()
        assert "authorization" not in fake.requests[0].headers
        assert fake.requests[0].path == "/v1/chat/completions"


async def test_sse_comments_events_and_empty_deltas_are_ignored() -> None:
    with FakeOpenAI() as fake:
        fake.script(
            Raw(
                [
                    '{"choices":[{"index":0,"delta":{"role":"assistant"}}]}',
                    '{"choices":[{"index":0,"delta":{"content":""}}]}',
                    '{"choices":[{"index":0,"delta":{"content":"Hi"}}]}',
                    '{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}',
                ]
            )
        )
        provider = OpenAICompatProvider(base_url=fake.base_url, model="m", limits=FAST)
        stats = ReplyStats()
        assert await reply(provider, stats) == ["Hi"]
        assert stats.finish_reason == "length"
        await provider.aclose()


async def test_error_inside_the_stream_before_text_is_retried() -> None:
    with FakeOpenAI() as fake:
        fake.script(Raw(['{"error": {"message": "engine overloaded"}}']), Reply(chunks=["ok"]))
        provider = OpenAICompatProvider(base_url=fake.base_url, model="m", limits=FAST)
        stats = ReplyStats()
        assert await reply(provider, stats) == ["ok"]
        assert stats.attempts == 2
        await provider.aclose()


@pytest.mark.parametrize("base_url", ["ftp://example", "localhost:11434/v1"])
def test_base_url_must_be_http(base_url: str) -> None:
    with pytest.raises(AIError) as caught:
        OpenAICompatProvider(base_url=base_url, model="m")
    assert caught.value.kind == "config" and "OPENAI_BASE_URL" in caught.value.message
