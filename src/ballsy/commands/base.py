"""The vocabulary of local commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class CommandContext:
    """What a command may know: the time (aware), the user's zone and last result."""

    now: datetime
    timezone: ZoneInfo
    last_result: Fraction | None = None


@dataclass(frozen=True, slots=True)
class LocalReply:
    """An answer Ballsy gives itself.

    `family` names the command that answered (greeting, arithmetic, clock, …) for
    history and metrics. When `result_changed` is true, `last_result` is the new
    arithmetic memory to store.
    """

    text: str
    family: str
    action: str | None = None
    data: dict[str, Any] | None = None
    result_changed: bool = False
    last_result: Fraction | None = None


@dataclass(frozen=True, slots=True)
class NeedsAI:
    """A command that needs the AI model.

    `kind` is "lookup" for who/what-is questions (a one-sentence answer, with the
    `search` fallback when the answer hedges) and "chat" for everything else.
    `subject` is what a web search should look for if the AI cannot answer.
    `is_person` marks "who is" lookups, whose answers are held to a stricter
    standard by `hedging.is_uncertain`.
    """

    prompt: str
    kind: Literal["lookup", "chat"]
    subject: str
    family: str = "ai"
    is_person: bool = False


@dataclass(frozen=True, slots=True)
class NeedsTool:
    """A command Ballsy understood itself but that needs a service to answer ("what's
    the weather in Lyon"): the pipeline runs the named tool with these arguments and
    says its result, without the AI."""

    tool: str
    arguments: dict[str, Any]
    family: str
