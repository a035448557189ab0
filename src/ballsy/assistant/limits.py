"""The rate-limit hooks the pipeline calls before costly work."""

from __future__ import annotations

from typing import Protocol


class TurnLimits(Protocol):
    async def check_ai(self, user_key: str) -> None:
        """Raise `RateLimited` when this user's or the instance's AI budget is spent."""

    async def check_stt_seconds(self, user_key: str, seconds: float) -> None:
        """Raise `RateLimited` when this user's speech-to-text budget is spent."""


class NoLimits:
    """No budgets (rate limiting switched off)."""

    async def check_ai(self, user_key: str) -> None:
        return None

    async def check_stt_seconds(self, user_key: str, seconds: float) -> None:
        return None
