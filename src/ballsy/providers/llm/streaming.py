"""Shared streaming machinery: timeouts, retries before the first token, timing.

Each provider supplies one *attempt*: an async generator that makes one HTTP request and
yields non-empty text chunks, raising `RetryableError` for failures worth another try
(429, 5xx, network) and `AIError` for the rest. `stream_with_retries` runs attempts:

- a first-token timeout bounds the wait for the first text of each attempt and is not
  retried (a stalled provider must not cost the user retries x timeout);
- the total timeout bounds the whole reply, retries and backoff included;
- retries (exponential backoff with jitter, honouring a provider's retry-after) happen only
  before any text was yielded, so streamed text is never duplicated;
- every exit (end, error, cancellation, `aclose()`) closes the attempt, and with it the
  HTTP response, at once.

Timeouts are applied to each `await`, never across a `yield`: a timer spanning a yield
would fire inside the consumer's code.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from ballsy.config_groups import AISettings
from ballsy.providers.llm.base import AIError, AIErrorKind, ReplyStats

logger = logging.getLogger("ballsy.providers.llm")


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """Time and retry bounds for one reply."""

    connect_timeout_s: float = 5.0
    first_token_timeout_s: float = 8.0
    total_timeout_s: float = 25.0
    max_retries: int = 2
    backoff_base_s: float = 0.25
    backoff_max_s: float = 2.0

    @classmethod
    def from_settings(cls, ai: AISettings) -> StreamLimits:
        return cls(
            connect_timeout_s=ai.ai_connect_timeout_seconds,
            first_token_timeout_s=ai.ai_first_token_timeout_seconds,
            total_timeout_s=ai.ai_total_timeout_seconds,
            max_retries=ai.ai_max_retries,
        )

    def __post_init__(self) -> None:
        if min(self.connect_timeout_s, self.first_token_timeout_s, self.total_timeout_s) <= 0:
            raise ValueError("AI timeouts must be positive")
        if self.max_retries < 0 or self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ValueError("AI retry settings must not be negative")


class RetryableError(AIError):
    """A failure another attempt may cure (429, 5xx, network), if no text was sent yet."""

    def __init__(
        self, kind: AIErrorKind, message: str, *, retry_after_s: float | None = None
    ) -> None:
        super().__init__(kind, message)
        self.retry_after_s = retry_after_s


# What an attempt yields: text chunks, or with function calling also `ToolCall`s.
Chunk = TypeVar("Chunk")


def backoff_delay(retry_number: int, limits: StreamLimits, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: half fixed, half random, capped."""
    ceiling = min(limits.backoff_max_s, limits.backoff_base_s * 2.0 ** (retry_number - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret in `text`; used on anything upstream that we repeat."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


async def stream_with_retries(
    attempt: Callable[[], AsyncGenerator[Chunk, None]],
    *,
    limits: StreamLimits,
    stats: ReplyStats,
    provider: str,
    rng: random.Random | None = None,
) -> AsyncGenerator[Chunk, None]:
    """Yield the reply's chunks from attempts, applying the module's rules."""
    loop = asyncio.get_running_loop()
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    started = loop.time()
    deadline = started + limits.total_timeout_s
    try:
        retry_number = 0
        while True:
            stats.attempts = retry_number + 1
            chunks = attempt()
            try:
                first_deadline = min(deadline, loop.time() + limits.first_token_timeout_s)
                try:
                    first = await _next(chunks, first_deadline, "no first token")
                except RetryableError as exc:
                    retry_number += 1
                    delay = _retry_delay(exc, retry_number, limits, deadline - loop.time(), rng)
                    if delay is None:
                        raise AIError(exc.kind, exc.message) from None
                    logger.info(
                        "ai_retry",
                        extra={
                            "provider": provider,
                            "kind": exc.kind,
                            "attempt": stats.attempts,
                            "delay_s": round(delay, 3),
                        },
                    )
                    await chunks.aclose()
                    await asyncio.sleep(delay)
                    continue
                if first is None:
                    raise AIError("empty", "the model returned no text")
                stats.time_to_first_token_s = loop.time() - started
                yield first
                async for chunk in _rest(chunks, deadline):
                    yield chunk
                return
            finally:
                await chunks.aclose()
    finally:
        stats.total_s = loop.time() - started


async def _rest(
    chunks: AsyncGenerator[Chunk, None], deadline: float
) -> AsyncGenerator[Chunk, None]:
    """The chunks after the first; failures are final (text was already sent)."""
    while True:
        try:
            chunk = await _next(chunks, deadline, "the reply did not finish")
        except RetryableError as exc:
            raise AIError(exc.kind, f"{exc.message} (after the reply started)") from None
        if chunk is None:
            return
        yield chunk


async def _next(chunks: AsyncGenerator[Chunk, None], deadline: float, what: str) -> Chunk | None:
    """The next chunk before `deadline` (loop time), or None at the end."""
    try:
        async with asyncio.timeout_at(deadline):
            return await anext(chunks)
    except StopAsyncIteration:
        return None
    except TimeoutError:
        raise AIError("timeout", f"{what} in time") from None


def _retry_delay(
    exc: RetryableError,
    retry_number: int,
    limits: StreamLimits,
    time_left: float,
    rng: random.Random,
) -> float | None:
    """How long to wait before the next attempt, or None to give up now."""
    if retry_number > limits.max_retries:
        return None
    delay = backoff_delay(retry_number, limits, rng)
    if exc.retry_after_s is not None:
        delay = max(delay, exc.retry_after_s)
    # A wait that would spend the rest of the reply's budget helps nobody.
    if delay >= time_left:
        return None
    return delay
