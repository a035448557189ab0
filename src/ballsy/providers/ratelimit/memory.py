"""Token buckets in this process's memory: the default store, one budget per instance.

Use it on a laptop or with a single Cloud Run instance. With more than one instance
each keeps its own buckets, so a client's real budget is multiplied by the number of
instances: use the PostgreSQL store there.

Memory is bounded: at most `max_keys` buckets are kept. The dictionary is kept in
least-recently-used order, so the bucket at its head is the one idle longest; each
check drops a few head buckets that have refilled completely (a full bucket is the
same as no bucket), and when the dictionary is still full the least recently used
bucket is evicted. Every check is O(1) and never awaits, so it is atomic on the
event loop.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from ballsy.providers.ratelimit.base import Budget, Decision, RateLimitStore

Clock = Callable[[], float]

# How many idle buckets one check may drop from the head: enough to keep up with
# the rate at which buckets are created, without making any one check slow.
_SWEEP_PER_CHECK = 2
# Refills are float arithmetic: 12 s at 1/12 token per second may sum to 0.9999…
TOLERANCE = 1e-9


class _Bucket:
    """The level of one bucket at `updated`, and when it will be full again."""

    __slots__ = ("full_at", "tokens", "updated")

    def __init__(self, tokens: float, updated: float, full_at: float) -> None:
        self.tokens = tokens
        self.updated = updated
        self.full_at = full_at


def validate_cost(budget: Budget, cost: float) -> None:
    """Refuse a cost no bucket of `budget` could ever pay (a programming error)."""
    if not 0 < cost <= budget.capacity:
        raise ValueError(
            f"cost {cost} for budget {budget.name!r} must be in (0, {budget.capacity}]"
        )


class MemoryStore(RateLimitStore):
    """Token buckets in a bounded, least-recently-used dictionary."""

    name = "memory"

    def __init__(self, *, max_keys: int, clock: Clock = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, key: str, budget: Budget, *, cost: float = 1.0) -> Decision:
        return self.take_now(key, budget, cost=cost)

    def take_now(self, key: str, budget: Budget, *, cost: float = 1.0) -> Decision:
        """`take` without the coroutine, for callers that are not async."""
        validate_cost(budget, cost)
        now = self._clock()
        self._sweep(now)
        bucket_key = f"{budget.name}\x00{key}"
        bucket = self._buckets.get(bucket_key)
        if bucket is None:
            level = budget.capacity
            bucket = _Bucket(level, now, now)
            self._make_room()
            self._buckets[bucket_key] = bucket
        else:
            elapsed = max(0.0, now - bucket.updated)
            level = min(budget.capacity, bucket.tokens + elapsed * budget.refill_per_second)
            self._buckets.move_to_end(bucket_key)
        allowed = level + TOLERANCE >= cost
        if allowed:
            level = max(0.0, level - cost)
        bucket.tokens = level
        bucket.updated = now
        bucket.full_at = now + (budget.capacity - level) / budget.refill_per_second
        if allowed:
            return Decision(allowed=True, remaining=level, retry_after=0.0)
        return Decision(
            allowed=False,
            remaining=level,
            retry_after=(cost - level) / budget.refill_per_second,
        )

    async def refund(self, key: str, budget: Budget, amount: float) -> None:
        self.refund_now(key, budget, amount)

    def refund_now(self, key: str, budget: Budget, amount: float) -> None:
        """`refund` without the coroutine. A bucket no longer kept was full already."""
        if not amount > 0:
            return
        now = self._clock()
        bucket = self._buckets.get(f"{budget.name}\x00{key}")
        if bucket is None:
            return
        elapsed = max(0.0, now - bucket.updated)
        level = min(budget.capacity, bucket.tokens + elapsed * budget.refill_per_second + amount)
        bucket.tokens = level
        bucket.updated = now
        bucket.full_at = now + (budget.capacity - level) / budget.refill_per_second

    def _sweep(self, now: float) -> None:
        """Drop up to a few idle buckets from the head once they are full again."""
        for _ in range(_SWEEP_PER_CHECK):
            if not self._buckets:
                return
            head_key = next(iter(self._buckets))
            if self._buckets[head_key].full_at > now:
                return
            del self._buckets[head_key]

    def _make_room(self) -> None:
        while len(self._buckets) >= self.max_keys:
            self._buckets.popitem(last=False)
