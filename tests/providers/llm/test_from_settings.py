"""Providers built from settings, the way `ballsy.wiring` builds them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ballsy.config import Settings
from ballsy.providers.llm.base import AIError, ChatMessage, GenerationParams, ReplyStats
from ballsy.providers.llm.gemini import GeminiProvider
from ballsy.providers.llm.openai_compat import OpenAICompatProvider
from ballsy.providers.llm.streaming import StreamLimits
from tests.fakes import FakeGemini, FakeOpenAI, Reply
from tests.providers.llm.conftest import GEMINI_KEY, GEMINI_MODEL, OPENAI_KEY, OPENAI_MODEL

HELLO = [ChatMessage("user", "hello")]
MakeSettings = Callable[..., Settings]


def test_limits_come_from_the_ai_settings(make_settings: MakeSettings) -> None:
    limits = StreamLimits.from_settings(
        make_settings(
            ai_connect_timeout_seconds=1.5,
            ai_first_token_timeout_seconds=3,
            ai_total_timeout_seconds=9,
            ai_max_retries=4,
        ).ai
    )
    assert (limits.connect_timeout_s, limits.first_token_timeout_s) == (1.5, 3)
    assert (limits.total_timeout_s, limits.max_retries) == (9, 4)


async def test_gemini_from_settings_with_the_sdk_base_url_variable(
    make_settings: MakeSettings, fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.base_url)
    fake_gemini.script(Reply(chunks=["wired"]))
    settings = make_settings(gemini_api_key=GEMINI_KEY, gemini_model=GEMINI_MODEL)
    provider = GeminiProvider.from_settings(settings.ai, project=None)
    try:
        got = [c async for c in provider.stream(HELLO, GenerationParams(), ReplyStats())]
    finally:
        await provider.aclose()
    assert got == ["wired"]
    assert provider.limits.first_token_timeout_s == settings.ai_first_token_timeout_seconds


async def test_gemini_key_wins_over_vertex(make_settings: MakeSettings) -> None:
    settings = make_settings(gemini_api_key=GEMINI_KEY, google_genai_use_vertexai=True)
    provider = GeminiProvider.from_settings(settings.ai, project=None)
    assert "api_key" in repr(provider)
    await provider.aclose()


async def test_openai_from_settings(make_settings: MakeSettings, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(
        openai_base_url=fake_openai.base_url, openai_model=OPENAI_MODEL, openai_api_key=OPENAI_KEY
    )
    provider = OpenAICompatProvider.from_settings(settings.ai)
    try:
        got = [c async for c in provider.stream(HELLO, GenerationParams(), ReplyStats())]
    finally:
        await provider.aclose()
    assert got == ["Hello", " from", " the fake."]
    assert fake_openai.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"


def test_openai_from_settings_needs_url_and_model(make_settings: MakeSettings) -> None:
    with pytest.raises(AIError) as caught:
        OpenAICompatProvider.from_settings(make_settings(openai_model="m").ai)
    assert caught.value.kind == "not_configured"
