"""Tool calls that go wrong become results the model reads, never a failed turn."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ballsy.assistant.tool_runner import ToolLimits, ToolRunner
from ballsy.assistant.tools import Tool, ToolBox, ToolContext, ToolError, ToolResult
from ballsy.metrics import Metrics
from ballsy.providers.llm.base import ToolCall

SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


async def _echo(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    return ToolResult(f"user {ctx.user_id} said {arguments.get('word')}", "open_url", {"u": 1})


async def _refuse(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    raise ToolError("Say which timer.")


async def _crash(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    raise RuntimeError("secret internals")


async def _hang(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def _long(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    return ToolResult("x" * 10_000)


def runner(metrics: Metrics | None = None) -> ToolRunner:
    box = ToolBox()
    box.add(
        Tool("echo", "echo", SCHEMA, _echo),
        [
            Tool("mine", "a user's data", SCHEMA, _echo, needs_user=True),
            Tool("refuse", "refuses", SCHEMA, _refuse),
            Tool("crash", "crashes", SCHEMA, _crash),
            Tool("hang", "never ends", SCHEMA, _hang),
            Tool("long", "says a lot", SCHEMA, _long),
        ],
    )
    limits = ToolLimits(timeout_s=0.2, max_calls_per_round=2, max_result_chars=50)
    return ToolRunner(box, limits, metrics)


def ctx(user_id: int | None) -> ToolContext:
    return ToolContext(user_id, datetime(2026, 12, 3, tzinfo=UTC), ZoneInfo("UTC"), "turn")


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(f"id-{name}", name, arguments)


@pytest.mark.parametrize(
    ("name", "user_id", "text"),
    [
        ("echo", None, "user None said hi"),
        ("mine", 7, "user 7 said hi"),
        (
            "mine",
            None,
            "Not available: this needs a signed-in user, and this client has no account.",
        ),
        ("refuse", None, "Say which timer."),
        ("crash", None, "The crash tool failed."),
        ("hang", None, "The hang tool took too long and was stopped."),
        ("nope", None, "There is no tool named 'nope'."),
        ("long", None, "x" * 50),
    ],
)
async def test_every_call_ends_in_a_result(name: str, user_id: int | None, text: str) -> None:
    result = await runner().run(call(name, word="hi"), ctx(user_id))
    assert result.text == text


async def test_a_round_is_bounded_in_calls() -> None:
    results = await runner().run_round([call("echo"), call("echo"), call("echo")], ctx(1))
    assert [r.text for _, r in results] == [
        "user 1 said None",
        "user 1 said None",
        "Not run: too many tool calls at once.",
    ]


def test_two_tools_cannot_share_a_name() -> None:
    box = ToolBox()
    box.add(Tool("echo", "echo", SCHEMA, _echo))
    with pytest.raises(ValueError, match="two tools"):
        box.add(Tool("echo", "again", SCHEMA, _echo))


async def test_outcomes_are_counted_without_the_models_made_up_names() -> None:
    metrics = Metrics()
    tools = runner(metrics)
    for name in ("echo", "crash", "hang", "refuse", "made_up_1", "made_up_2"):
        await tools.run(call(name), ctx(None))
    await tools.run(call("mine"), ctx(None))

    def count(tool: str, outcome: str) -> float | None:
        return metrics.registry.get_sample_value(
            "ballsy_tool_calls_total", {"tool": tool, "outcome": outcome}
        )

    assert count("echo", "ok") == 1
    assert count("crash", "error") == 1
    assert count("hang", "timeout") == 1
    assert count("refuse", "refused") == 1
    assert count("mine", "refused") == 1
    assert count("unknown", "unknown") == 2
    assert count("made_up_1", "unknown") is None
