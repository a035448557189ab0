"""The in-memory store: exact budgets, refills on an injected clock, bounded memory."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from ballsy.providers.ratelimit.base import Budget
from ballsy.providers.ratelimit.memory import MemoryStore
from tests.providers.ratelimit.clock import FakeClock

FIVE_PER_MINUTE = Budget.per_window("test", 5, 60)  # one token every 12 s


async def test_the_sixth_action_in_a_window_is_refused_with_when_to_retry() -> None:
    store = MemoryStore(max_keys=100, clock=FakeClock())
    decisions = [await store.take("ip:1.2.3.4", FIVE_PER_MINUTE) for _ in range(6)]

    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert decisions[5].retry_after == pytest.approx(12.0)
    assert decisions[0].retry_after == 0.0


async def test_refills_on_time_and_never_beyond_capacity() -> None:
    clock = FakeClock()
    store = MemoryStore(max_keys=100, clock=clock)
    for _ in range(5):
        assert (await store.take("k", FIVE_PER_MINUTE)).allowed

    clock.advance(11.9)
    refused = await store.take("k", FIVE_PER_MINUTE)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.1)

    clock.advance(0.1)
    assert (await store.take("k", FIVE_PER_MINUTE)).allowed
    assert not (await store.take("k", FIVE_PER_MINUTE)).allowed

    clock.advance(3600)  # an hour idle refills to capacity, not to 300 tokens
    allowed = [(await store.take("k", FIVE_PER_MINUTE)).allowed for _ in range(6)]
    assert allowed == [True] * 5 + [False]


async def test_keys_and_budgets_are_separate() -> None:
    store = MemoryStore(max_keys=100, clock=FakeClock())
    other_budget = Budget.per_window("other", 5, 60)
    for _ in range(5):
        await store.take("a", FIVE_PER_MINUTE)
    assert not (await store.take("a", FIVE_PER_MINUTE)).allowed
    assert (await store.take("b", FIVE_PER_MINUTE)).allowed
    assert (await store.take("a", other_budget)).allowed


async def test_a_cost_takes_that_many_tokens_and_an_impossible_cost_is_an_error() -> None:
    seconds = Budget.per_window("stt", 600, 3600)
    store = MemoryStore(max_keys=100, clock=FakeClock())
    assert (await store.take("u:1", seconds, cost=590)).remaining == pytest.approx(10)
    refused = await store.take("u:1", seconds, cost=20)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(10 / (600 / 3600))
    with pytest.raises(ValueError, match="must be in"):
        await store.take("u:1", seconds, cost=601)
    with pytest.raises(ValueError, match="must be in"):
        await store.take("u:1", seconds, cost=0)


async def test_the_least_recently_used_bucket_is_evicted_at_the_bound() -> None:
    store = MemoryStore(max_keys=3, clock=FakeClock())
    for key in ("a", "b", "c"):
        await store.take(key, FIVE_PER_MINUTE)
    await store.take("a", FIVE_PER_MINUTE)  # "b" is now the least recently used
    await store.take("d", FIVE_PER_MINUTE)

    assert len(store) == 3
    assert (await store.take("a", FIVE_PER_MINUTE)).remaining == 2  # kept: third take
    assert (await store.take("b", FIVE_PER_MINUTE)).remaining == 4  # evicted: starts full


async def test_idle_buckets_that_refilled_are_dropped_without_waiting_for_the_bound() -> None:
    clock = FakeClock()
    store = MemoryStore(max_keys=1000, clock=clock)
    for index in range(100):
        await store.take(f"ip:{index}", FIVE_PER_MINUTE)
    assert len(store) == 100

    clock.advance(12.0)  # one token taken refills in 12 s: every bucket is full again
    for _ in range(60):  # each check sweeps a couple of idle buckets
        await store.take("ip:active", FIVE_PER_MINUTE)
        clock.advance(0.001)
    assert len(store) < 100 - 60


def test_memory_stays_bounded_under_100000_distinct_clients() -> None:
    """100,000 clients (a spray of forged or rotating addresses) cannot grow memory."""
    bound = 10_000
    store = MemoryStore(max_keys=bound, clock=FakeClock())
    budget = Budget.per_window("requests", 120, 60)

    def spray(start: int, stop: int) -> None:
        for index in range(start, stop):
            store.take_now(f"ip:10.{index >> 16}.{(index >> 8) & 255}.{index & 255}", budget)

    gc.collect()
    tracemalloc.start()
    try:
        spray(0, bound)
        at_bound, _ = tracemalloc.get_traced_memory()
        # Once keys churn, the dictionary's table settles at its working size.
        spray(bound, 2 * bound)
        settled, _ = tracemalloc.get_traced_memory()
        spray(2 * bound, 100_000)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(store) == bound
    per_key = at_bound / bound
    assert per_key < 400, f"{per_key:.0f} bytes per bucket"
    # The last 80,000 new clients added nothing beyond allocator noise.
    assert after < settled * 1.02 + 32 * 1024, (settled, after)
    assert peak < at_bound * 1.5, (at_bound, peak)
