"""Function calling through each provider, against its fake server: the real
`google-genai` SDK with `FakeGemini`, the OpenAI-compatible provider with `FakeOpenAI`."""

from __future__ import annotations

import base64
import json
from typing import Any

from ballsy.providers.llm.base import (
    ChatMessage,
    GenerationParams,
    ReplyStats,
    ToolCall,
    ToolSpec,
)
from ballsy.providers.llm.openai_compat import OpenAICompatProvider
from tests.fakes import FakeOpenAI, Raw, Reply
from tests.providers.llm.conftest import FAST, OPENAI_KEY, OPENAI_MODEL, Case

WEATHER = ToolSpec(
    name="weather",
    description="The weather forecast for a place and day.",
    parameters={
        "type": "object",
        "properties": {"place": {"type": "string"}, "day": {"type": "string"}},
        "required": [],
    },
)


def field(body: dict[str, Any], camel: str) -> Any:
    """A field of a Google API JSON body: the API (proto3 JSON) takes either the
    lowerCamelCase name or the snake_case one, and the SDK sends some fields each way."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return body[camel] if camel in body else body[snake]


ASK = [ChatMessage("system", "You are Ballsy."), ChatMessage("user", "Will it rain in Lyon?")]


async def test_the_model_calls_a_tool_and_answers_from_its_result(case: Case) -> None:
    case.fake.script(
        Reply(chunks=[], tool_calls=[("weather", {"place": "Lyon", "day": "tomorrow"})]),
        Reply(chunks=["Yes, ", "bring an umbrella."]),
    )
    provider = case.make()

    first = [
        c
        async for c in provider.stream_with_tools(ASK, GenerationParams(), ReplyStats(), [WEATHER])
    ]
    assert len(first) == 1 and isinstance(first[0], ToolCall)
    call = first[0]
    assert (call.name, call.arguments) == ("weather", {"place": "Lyon", "day": "tomorrow"})

    answered = [
        *ASK,
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "Lyon tomorrow: rain, 12 °C.", tool_call=call),
    ]
    second = [
        c
        async for c in provider.stream_with_tools(
            answered, GenerationParams(), ReplyStats(), [WEATHER]
        )
    ]
    assert second == ["Yes, ", "bring an umbrella."]

    offered, followed = (r.json() for r in case.fake.requests)
    if case.kind == "gemini":
        declared = field(offered["tools"][0], "functionDeclarations")[0]
        assert declared["name"] == "weather"
        assert field(declared, "parametersJsonSchema") == WEATHER.parameters
        model_turn, result_turn = followed["contents"][-2:]
        sent_call = model_turn["parts"][-1]
        assert model_turn["role"] == "model"
        assert field(sent_call, "functionCall")["name"] == "weather"
        # Gemini 3 refuses a call sent back without the signature it came with.
        assert base64.b64decode(field(sent_call, "thoughtSignature")) == b"sig-0-weather"
        response = field(result_turn["parts"][0], "functionResponse")
        assert result_turn["role"] == "user"
        assert response["name"] == "weather"
        assert response["response"] == {"output": "Lyon tomorrow: rain, 12 °C."}
    else:
        declared = offered["tools"][0]
        assert declared["type"] == "function"
        assert declared["function"]["name"] == "weather"
        assert declared["function"]["parameters"] == WEATHER.parameters
        assistant, tool = followed["messages"][-2:]
        assert assistant["tool_calls"][0]["id"] == call.call_id == "call_0"
        assert assistant["tool_calls"][0]["function"]["name"] == "weather"
        assert tool == {
            "role": "tool",
            "tool_call_id": "call_0",
            "content": "Lyon tomorrow: rain, 12 °C.",
        }


async def test_text_before_a_call_streams_and_two_calls_come_back_in_order(case: Case) -> None:
    case.fake.script(
        Reply(
            chunks=["Let me check. "], tool_calls=[("weather", {"place": "Paris"}), ("weather", {})]
        )
    )
    got = [
        c
        async for c in case.make().stream_with_tools(
            ASK, GenerationParams(), ReplyStats(), [WEATHER]
        )
    ]
    assert got[0] == "Let me check. "
    calls = [c for c in got[1:] if isinstance(c, ToolCall)]
    assert [c.arguments for c in calls] == [{"place": "Paris"}, {}]
    assert len({c.call_id for c in calls}) == 2


async def test_without_tools_nothing_is_declared(case: Case) -> None:
    case.fake.script(Reply(chunks=["Hi."]))
    got = [c async for c in case.make().stream(ASK, GenerationParams(), ReplyStats())]
    assert got == ["Hi."]
    assert "tools" not in case.fake.requests[0].json()


async def test_openai_tool_calls_without_indexes_are_told_apart(fake_openai: FakeOpenAI) -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    fake_openai.script(
        Raw(
            [
                chunk(
                    {
                        "tool_calls": [
                            {"id": "a", "function": {"name": "weather", "arguments": "{}"}}
                        ]
                    }
                ),
                chunk(
                    {
                        "tool_calls": [
                            {"id": "b", "function": {"name": "search", "arguments": '{"query"'}}
                        ]
                    }
                ),
                chunk({"tool_calls": [{"function": {"arguments": ': "x"}'}}]}, "tool_calls"),
            ]
        )
    )
    provider = OpenAICompatProvider(
        base_url=fake_openai.base_url, model=OPENAI_MODEL, api_key=OPENAI_KEY, limits=FAST
    )
    try:
        got = [
            c
            async for c in provider.stream_with_tools(
                ASK, GenerationParams(), ReplyStats(), [WEATHER]
            )
        ]
    finally:
        await provider.aclose()
    assert got == [ToolCall("a", "weather", {}), ToolCall("b", "search", {"query": "x"})]


def test_gemini_sends_one_rounds_results_together_in_one_user_turn() -> None:
    from ballsy.providers.llm.gemini import to_gemini

    first, second = ToolCall("1", "weather", {}), ToolCall("2", "search", {"query": "x"})
    _system, contents = to_gemini(
        [
            *ASK,
            ChatMessage("assistant", "Checking. ", tool_calls=(first, second)),
            ChatMessage("tool", "sunny", tool_call=first),
            ChatMessage("tool", "searched", tool_call=second),
        ]
    )
    model_turn, results = contents[-2:]
    assert model_turn["role"] == "model"
    assert [sorted(p) for p in model_turn["parts"]] == [
        ["text"],
        ["function_call"],
        ["function_call"],
    ]
    assert results["role"] == "user"
    assert [p["function_response"]["response"] for p in results["parts"]] == [
        {"output": "sunny"},
        {"output": "searched"},
    ]
