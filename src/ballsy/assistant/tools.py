"""Tools the AI may call (function calling), one shape for every capability.

A capability (timers, reminders, weather, memory, open, search) describes each action
it offers the AI as a `Tool`: a name, a sentence saying when to use it, a JSON Schema
for its arguments, and an async handler. `ToolBox` holds the tools one assistant
offers; the AI providers turn `ToolBox.declarations()` into their own tool format
(Gemini function declarations, OpenAI-compatible `tools`), and the pipeline runs the
handler the model asks for, then hands the result back to the model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ballsy.providers.llm.base import ToolSpec


class ToolError(Exception):
    """A tool call that cannot be carried out; the message is safe to show the model."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Who asked, and when and where they are (the user's time zone)."""

    user_id: int | None
    now: datetime
    zone: ZoneInfo
    turn_id: str
    # Where the asker is, when known: a place name from settings, or coordinates the
    # browser shared with the user's consent (latitude, longitude).
    place: str | None = None
    location: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool did: text for the model to phrase an answer from, and optionally an
    action and data for the page (as local commands return them)."""

    text: str
    action: str | None = None
    data: dict[str, Any] | None = None


Handler = Callable[[ToolContext, dict[str, Any]], Awaitable[ToolResult]]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    # JSON Schema of the arguments: {"type": "object", "properties": {...}, "required": [...]}
    parameters: dict[str, Any]
    handler: Handler
    # Only signed-in users may call it (it reads or writes their stored data).
    needs_user: bool = False


@dataclass(slots=True)
class ToolBox:
    """The tools one assistant offers, by name."""

    tools: dict[str, Tool] = field(default_factory=dict)

    def add(self, *tools: Tool | Iterable[Tool]) -> None:
        for item in tools:
            for tool in [item] if isinstance(item, Tool) else list(item):
                if tool.name in self.tools:
                    raise ValueError(f"two tools are named {tool.name!r}")
                self.tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    def declarations(self) -> list[dict[str, Any]]:
        """Name, description and parameters of each tool, provider-neutral."""
        return [
            {"name": t.name, "description": t.description, "parameters": t.parameters}
            for t in self.tools.values()
        ]

    def specs(self) -> list[ToolSpec]:
        """The declarations as the AI providers take them."""
        return [ToolSpec(t.name, t.description, t.parameters) for t in self.tools.values()]

    def __bool__(self) -> bool:
        return bool(self.tools)
