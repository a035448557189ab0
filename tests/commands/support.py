"""Helpers shared by the command tests: a context with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from ballsy.commands.base import CommandContext

# Sunday 22 November 2026, 15:05 UTC.
FIXED_NOW = datetime(2026, 11, 22, 15, 5, tzinfo=UTC)


def context(
    *,
    now: datetime = FIXED_NOW,
    timezone: str = "UTC",
    last_result: Fraction | int | None = None,
) -> CommandContext:
    """A `CommandContext` for a test; `last_result` may be given as an int."""
    result = Fraction(last_result) if last_result is not None else None
    return CommandContext(now=now, timezone=ZoneInfo(timezone), last_result=result)
