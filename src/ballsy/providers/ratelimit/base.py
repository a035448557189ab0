"""The rate-limit store interface: atomic token-bucket checks keyed by identity."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Budget:
    """A token bucket: `capacity` tokens, refilled at `refill_per_second`."""

    name: str
    capacity: float
    refill_per_second: float

    @classmethod
    def per_window(cls, name: str, count: int, window_seconds: float) -> Budget:
        return cls(name=name, capacity=float(count), refill_per_second=count / window_seconds)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: float
    retry_after: float  # seconds until `cost` tokens are available; 0 when allowed


class RateLimitStore(ABC):
    name: str = "base"

    @abstractmethod
    async def take(self, key: str, budget: Budget, *, cost: float = 1.0) -> Decision:
        """Atomically take `cost` tokens from `key`'s bucket for `budget`, if available."""

    @abstractmethod
    async def refund(self, key: str, budget: Budget, amount: float) -> None:
        """Give `amount` tokens back to `key`'s bucket (never beyond its capacity):
        the unused part of a reservation taken with `take`."""

    async def aclose(self) -> None:
        """Release resources at shutdown."""
