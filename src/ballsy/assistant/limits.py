"""The rate-limit hook the pipeline calls before costly work.

The limiter always exists; when rate limiting is off it admits everything, so the
pipeline never asks whether limits are on.
"""

from __future__ import annotations

from typing import Protocol


class TurnLimits(Protocol):
    async def check_ai(self, *, user_id: int | None, address: str | None) -> None:
        """Raise `RateLimited` when the caller's, its address's or the instance's AI
        budget is spent."""
