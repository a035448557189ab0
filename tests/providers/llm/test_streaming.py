"""The shared driver's rules, checked with in-process attempts (no network)."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import AsyncGenerator

import pytest

from ballsy.providers.llm.base import AIError, ReplyStats
from ballsy.providers.llm.http import parse_retry_after
from ballsy.providers.llm.streaming import (
    RetryableError,
    StreamLimits,
    backoff_delay,
    redact,
    stream_with_retries,
)

LIMITS = StreamLimits(first_token_timeout_s=0.2, total_timeout_s=1.0, backoff_base_s=0.01)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    limits = StreamLimits(backoff_base_s=0.1, backoff_max_s=0.3)
    rng = random.Random(7)
    for retry, ceiling in [(1, 0.1), (2, 0.2), (3, 0.3), (6, 0.3)]:
        delays = [backoff_delay(retry, limits, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


@pytest.mark.parametrize(
    ("header", "expected"), [("3", 3.0), ("0.5", 0.5), ("-2", 0.0), ("soon", None), (None, None)]
)
def test_retry_after_header(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_as_a_date() -> None:
    header = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = parse_retry_after(header)
    assert seconds is not None and 25 <= seconds <= 31


def test_redact_replaces_every_secret() -> None:
    assert redact("a KEY b KEY", ["KEY", None, ""]) == "a [redacted] b [redacted]"


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        StreamLimits(total_timeout_s=0)
    with pytest.raises(ValueError):
        StreamLimits(max_retries=-1)


async def test_failure_after_text_is_final_and_text_is_never_repeated() -> None:
    calls = 0

    async def attempt() -> AsyncGenerator[str, None]:
        nonlocal calls
        calls += 1
        yield "said once"
        raise RetryableError("unavailable", "connection lost")

    stats = ReplyStats()
    got: list[str] = []
    with pytest.raises(AIError) as caught:
        async for chunk in stream_with_retries(attempt, limits=LIMITS, stats=stats, provider="t"):
            got.append(chunk)
    assert type(caught.value) is AIError and caught.value.kind == "unavailable"
    assert got == ["said once"] and calls == 1


async def test_every_attempt_is_closed() -> None:
    closed: list[int] = []

    def make() -> AsyncGenerator[str, None]:
        number = len(closed) + 1

        async def attempt() -> AsyncGenerator[str, None]:
            try:
                if number < 3:
                    raise RetryableError("unavailable", "try again")
                yield "a"
                yield "b"
            finally:
                closed.append(number)

        return attempt()

    stream = stream_with_retries(make, limits=LIMITS, stats=ReplyStats(), provider="t")
    assert await anext(stream) == "a"
    await stream.aclose()
    assert closed == [1, 2, 3]
