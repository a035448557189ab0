"""Gemini specifics: how the SDK is configured and what it sends."""

from __future__ import annotations

import json

import google.auth.compute_engine._metadata
import pytest
from google.genai import types
from google.oauth2.credentials import Credentials

from ballsy.providers.llm.base import AIError, ChatMessage, GenerationParams, ReplyStats
from ballsy.providers.llm.gemini import GeminiProvider, thinking_config_for, to_gemini
from tests.fakes import FakeGemini, Raw, Reply
from tests.providers.llm.conftest import FAST, GEMINI_KEY, GEMINI_MODEL

HELLO = [ChatMessage("user", "hello")]


@pytest.mark.parametrize(
    ("model", "budget", "level"),
    [
        ("gemini-2.5-flash-lite", 0, None),
        ("gemini-2.5-flash", 0, None),
        ("models/gemini-2.5-flash", 0, None),
        ("gemini-2.5-pro", 128, None),
        ("gemini-3-flash-preview", None, types.ThinkingLevel.MINIMAL),
        ("gemini-3-pro-preview", None, types.ThinkingLevel.LOW),
    ],
)
def test_thinking_is_minimal_for_each_family(model: str, budget: int, level: object) -> None:
    config = thinking_config_for(model)
    assert config is not None
    assert config.thinking_budget == budget
    assert config.thinking_level == level


def test_older_models_get_no_thinking_config() -> None:
    assert thinking_config_for("gemini-2.0-flash") is None


def test_messages_map_to_system_instruction_and_roles() -> None:
    system, contents = to_gemini(
        [
            ChatMessage("system", "persona"),
            ChatMessage("user", "q1"),
            ChatMessage("assistant", "a1"),
            ChatMessage("user", "q2"),
        ]
    )
    assert system == "persona"
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert [c["parts"] for c in contents] == [[{"text": "q1"}], [{"text": "a1"}], [{"text": "q2"}]]


def test_a_reply_needs_a_turn() -> None:
    with pytest.raises(ValueError, match="at least one"):
        to_gemini([ChatMessage("system", "persona only")])


def test_no_key_and_no_vertex_is_not_configured() -> None:
    with pytest.raises(AIError) as caught:
        GeminiProvider(model=GEMINI_MODEL)
    assert caught.value.kind == "not_configured"
    assert "GEMINI_API_KEY" in caught.value.message


async def test_base_url_from_the_sdk_environment_variable(
    fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.base_url)
    provider = GeminiProvider(model=GEMINI_MODEL, api_key=GEMINI_KEY, limits=FAST)
    try:
        got = [c async for c in provider.stream(HELLO, GenerationParams(), ReplyStats())]
    finally:
        await provider.aclose()
    assert "".join(got) == "Hello from the fake."
    request = fake_gemini.requests[0]
    assert request.path.endswith(f"/models/{GEMINI_MODEL}:streamGenerateContent")
    assert request.query == "alt=sse"
    assert request.headers["x-goog-api-key"] == GEMINI_KEY


async def test_vertex_ai_with_service_account_credentials(fake_gemini: FakeGemini) -> None:
    fake_gemini.api_key = None  # Vertex authenticates with a bearer token instead
    provider = GeminiProvider(
        model="gemini-2.5-flash",
        vertexai=True,
        project="ballsy-prod",
        location="europe-west1",
        base_url=fake_gemini.base_url,
        credentials=Credentials(token="ya29.test-token"),
        limits=FAST,
    )
    fake_gemini.known_models = {"gemini-2.5-flash"}
    fake_gemini.script(Reply(chunks=["from", " vertex"]))
    try:
        got = [c async for c in provider.stream(HELLO, GenerationParams(), ReplyStats())]
    finally:
        await provider.aclose()
    assert got == ["from", " vertex"]
    request = fake_gemini.requests[0]
    assert request.path == (
        "/v1beta1/projects/ballsy-prod/locations/europe-west1/publishers/google/models/"
        "gemini-2.5-flash:streamGenerateContent"
    )
    assert request.headers["authorization"] == "Bearer ya29.test-token"
    assert "x-goog-api-key" not in request.headers


async def test_thought_parts_are_not_spoken(fake_gemini: FakeGemini) -> None:
    thought = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "hmm...", "thought": True}]}}
        ],
        "usageMetadata": {"promptTokenCount": 3, "thoughtsTokenCount": 5},
    }
    answer = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "Yes."}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {
            "promptTokenCount": 3,
            "candidatesTokenCount": 1,
            "thoughtsTokenCount": 5,
        },
    }
    fake_gemini.script(Raw([json.dumps(thought), json.dumps(answer)]))
    provider = GeminiProvider(
        model=GEMINI_MODEL, api_key=GEMINI_KEY, base_url=fake_gemini.base_url, limits=FAST
    )
    stats = ReplyStats()
    try:
        got = [c async for c in provider.stream(HELLO, GenerationParams(), stats)]
    finally:
        await provider.aclose()
    assert got == ["Yes."]
    assert stats.output_tokens == 6 and stats.extra["thoughts_tokens"] == "5"


async def test_repr_names_the_model_not_the_key() -> None:
    provider = GeminiProvider(model=GEMINI_MODEL, api_key=GEMINI_KEY, base_url="http://127.0.0.1:9")
    assert GEMINI_KEY not in repr(provider)
    assert GEMINI_MODEL in repr(provider)
    await provider.aclose()


def test_vertex_without_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    # google-auth reads NO_GCE_CHECK once at import: skip its metadata-server probe
    # (seconds of retries), and point it nowhere real in case it probes anyway.
    monkeypatch.setattr(google.auth.compute_engine._metadata, "_NO_GCE_CHECK", True)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    monkeypatch.setenv("CLOUDSDK_CONFIG", "/nonexistent")
    with pytest.raises(AIError) as caught:
        GeminiProvider(model=GEMINI_MODEL, vertexai=True)
    assert caught.value.kind == "config"
    assert "credentials" in caught.value.message
