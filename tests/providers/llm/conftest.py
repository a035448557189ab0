"""Providers under test, each wired to its own fake server on 127.0.0.1.

`case` runs a test once per provider: the real `google-genai` SDK against `FakeGemini`
and the OpenAI-compatible provider against `FakeOpenAI`. Timeouts are short so every
fault test finishes in about a second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ballsy.providers.llm.base import LLMProvider
from ballsy.providers.llm.gemini import GeminiProvider
from ballsy.providers.llm.openai_compat import OpenAICompatProvider
from ballsy.providers.llm.streaming import StreamLimits
from tests.fakes import FakeGemini, FakeOpenAI
from tests.fakes._server import FakeHttpServer

GEMINI_KEY = "AIzaSy-test-gemini-key-0123456789abcdef"
OPENAI_KEY = "sk-test-openai-key-0123456789abcdef"
GEMINI_MODEL = "gemini-2.5-flash-lite"
OPENAI_MODEL = "llama3.2:3b"

# Fast retries, so fault tests end quickly; timeouts with room for a busy machine, so a
# reply that succeeds never times out. Tests of the timeouts themselves pass `SHORT`.
FAST = StreamLimits(
    connect_timeout_s=3.0,
    first_token_timeout_s=3.0,
    total_timeout_s=10.0,
    max_retries=2,
    backoff_base_s=0.02,
    backoff_max_s=0.05,
)
# For tests that make a timeout fire: each fake stall they script lasts far longer (5-10 s).
SHORT = StreamLimits(
    connect_timeout_s=1.0,
    first_token_timeout_s=0.4,
    total_timeout_s=2.0,
    max_retries=2,
    backoff_base_s=0.02,
    backoff_max_s=0.05,
)


@dataclass
class Case:
    """A provider kind with its fake; `make()` builds a provider talking to the fake."""

    kind: str
    fake: FakeHttpServer
    key: str
    build: Callable[..., LLMProvider]
    built: list[LLMProvider] = field(default_factory=list)

    def make(self, **overrides: Any) -> LLMProvider:
        provider = self.build(**overrides)
        self.built.append(provider)
        return provider


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini(api_key=GEMINI_KEY, known_models={GEMINI_MODEL}) as fake:
        yield fake


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=OPENAI_KEY, known_models={OPENAI_MODEL}) as fake:
        yield fake


def gemini_case(fake: FakeGemini) -> Case:
    def build(**overrides: Any) -> LLMProvider:
        args: dict[str, Any] = {
            "model": GEMINI_MODEL,
            "api_key": GEMINI_KEY,
            "base_url": fake.base_url,
            "limits": FAST,
        }
        args.update(overrides)
        return GeminiProvider(**args)

    return Case("gemini", fake, GEMINI_KEY, build)


def openai_case(fake: FakeOpenAI) -> Case:
    def build(**overrides: Any) -> LLMProvider:
        args: dict[str, Any] = {
            "model": OPENAI_MODEL,
            "api_key": OPENAI_KEY,
            "base_url": fake.base_url,
            "limits": FAST,
        }
        args.update(overrides)
        return OpenAICompatProvider(**args)

    return Case("openai", fake, OPENAI_KEY, build)


@pytest.fixture(params=["gemini", "openai"])
async def case(request: pytest.FixtureRequest) -> AsyncIterator[Case]:
    if request.param == "gemini":
        built = gemini_case(request.getfixturevalue("fake_gemini"))
    else:
        built = openai_case(request.getfixturevalue("fake_openai"))
    yield built
    for provider in built.built:
        await provider.aclose()
