"""Run the tools the AI asks for, so that no tool can break a turn.

Every call ends in a `ToolResult` the model can read: an unknown tool, a tool that needs
a signed-in user called by a tokenless client, bad arguments, a timeout or a crash each
become a short sentence saying so (the model then tells the user), never an exception
out of the pipeline. Calls run one after another, each bounded in time, and a round is
bounded in the number of calls it may make.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ballsy.assistant.tools import ToolBox, ToolContext, ToolError, ToolResult
from ballsy.metrics import Metrics
from ballsy.providers.llm.base import ToolCall

log = logging.getLogger("ballsy.assistant.tools")


@dataclass(frozen=True, slots=True)
class ToolLimits:
    """Bounds on function calling in one turn."""

    max_rounds: int = 3  # model -> tools -> model rounds before it must answer in words
    max_calls_per_round: int = 4
    timeout_s: float = 8.0  # per call
    max_result_chars: int = 2000  # what is handed back to the model

    def __post_init__(self) -> None:
        if self.max_rounds < 0 or self.max_calls_per_round < 1 or self.timeout_s <= 0:
            raise ValueError("tool limits must be positive")


class ToolRunner:
    def __init__(
        self, toolbox: ToolBox, limits: ToolLimits | None = None, metrics: Metrics | None = None
    ) -> None:
        self.toolbox = toolbox
        self.limits = limits or ToolLimits()
        self.metrics = metrics

    def _count(self, tool: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.tool_calls.labels(tool, outcome).inc()

    async def run_round(
        self, calls: list[ToolCall], ctx: ToolContext
    ) -> list[tuple[ToolCall, ToolResult]]:
        """Each call with its result; calls beyond the round's bound are refused."""
        results: list[tuple[ToolCall, ToolResult]] = []
        for index, call in enumerate(calls):
            if index >= self.limits.max_calls_per_round:
                result = ToolResult("Not run: too many tool calls at once.")
            else:
                result = await self.run(call, ctx)
            results.append((call, result))
        return results

    async def run(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        tool = self.toolbox.get(call.name)
        if tool is None:
            self._count("unknown", "unknown")  # the model's made-up names stay out of labels
            return ToolResult(f"There is no tool named {call.name[:64]!r}.")
        if tool.needs_user and ctx.user_id is None:
            self._count(tool.name, "refused")
            return ToolResult(
                "Not available: this needs a signed-in user, and this client has no account."
            )
        outcome = "ok"
        try:
            async with asyncio.timeout(self.limits.timeout_s):
                result = await tool.handler(ctx, call.arguments)
        except ToolError as exc:
            outcome = "refused"
            result = ToolResult(str(exc))
        except TimeoutError:
            outcome = "timeout"
            log.warning("tool timed out", extra={"tool": tool.name})
            result = ToolResult(f"The {tool.name} tool took too long and was stopped.")
        except Exception:
            # A bug in one tool costs this call, not the turn (and never its details).
            outcome = "error"
            log.exception("tool failed", extra={"tool": tool.name})
            result = ToolResult(f"The {tool.name} tool failed.")
        self._count(tool.name, outcome)
        log.info("tool called", extra={"tool": tool.name, "tool_outcome": outcome})
        text = result.text[: self.limits.max_result_chars]
        return ToolResult(text, result.action, result.data)
