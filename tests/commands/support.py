"""Helpers shared by the command tests: a context with a fixed clock, a timed call."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from typing import TypeVar
from zoneinfo import ZoneInfo

from ballsy.commands.base import CommandContext

TIME_LIMIT_S = 0.05
T = TypeVar("T")

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


def timed(call: Callable[[], T]) -> T:
    """Call and hold it to `TIME_LIMIT_S`.

    The calls are pure, so a slow one is measured twice more and the fastest of
    the three counts: a scheduler pause on a shared machine passes, real work
    (slow every time) does not.
    """
    fastest = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        result = call()
        fastest = min(fastest, time.perf_counter() - started)
        if fastest < TIME_LIMIT_S:
            return result
    raise AssertionError(f"took {fastest * 1000:.1f} ms at best")
