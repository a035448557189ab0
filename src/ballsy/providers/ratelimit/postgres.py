"""Token buckets in PostgreSQL: one budget shared by every instance of the service.

Use it on Cloud Run with more than one instance (RATE_LIMIT_STORE=postgres). Each
check is one statement, `INSERT … ON CONFLICT … DO UPDATE … RETURNING`: PostgreSQL
locks the bucket's row for the update, so concurrent checks from any number of
instances queue on that row and none can spend a token twice (no read-modify-write
race). The refill is computed inside the statement from the stored timestamp and
the database's clock (`clock_timestamp()`), so instances with skewed clocks agree;
tests pass a clock instead.

A bucket that has refilled completely is the same as no bucket: its row records when
that happens (`expires_at`) and a bounded `DELETE … SKIP LOCKED` removes such rows
every `cleanup_interval_seconds`, in the background.

Checks take turns: at most `max_concurrent_checks` hold a connection at once
(RateLimiter uses DB_POOL_SIZE, leaving the overflow to the application), and a
burst queues for its turn rather than timing out inside the pool. Only a queue
longer than `queue_timeout_seconds` degrades the checks still waiting.

The deadline is kept on this side: each statement runs in a task of its own, and a
check that has no answer within `timeout_seconds` stops waiting for it at once,
whatever the connection is doing (a server that stops answering, e.g. paused or
behind a dead network path, can hold a cancelled query's clean-up for seconds).
The abandoned task is cancelled and finishes in the background.

If the database does not answer within `timeout_seconds`, the check fails open or
closed (RATE_LIMIT_FAIL_OPEN): open means the request goes on, still limited per
instance by an in-memory fallback store, so one client cannot flood an instance
while the database is down; closed means `DatabaseUnavailable` (HTTP 503). After a
failure the database is left alone for `retry_interval_seconds`, so a dead database
costs each request nothing rather than a timeout each.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ballsy.errors import DatabaseUnavailable
from ballsy.providers.ratelimit.base import Budget, Decision, RateLimitStore
from ballsy.providers.ratelimit.memory import MemoryStore, validate_cost

logger = logging.getLogger("ballsy.ratelimit")

Clock = Callable[[], float]

# The bucket key column is VARCHAR(200); longer keys are replaced by a digest.
_MAX_KEY_CHARS = 200

# One check. The CTE `p` fixes the parameters and the time once; the update
# computes the level the bucket has refilled to (never beyond capacity, never from
# a negative elapsed time when another instance's write landed first) and takes
# `cost` tokens only when the level covers it (to within 1e-9, the rounding of the
# float arithmetic on timestamps). `last_allowed` carries that decision
# back through RETURNING, which sees only the new row.
# Parameters, in asyncpg's numbered style: $1 key, $2 capacity, $3 refill per
# second, $4 cost, $5 the time (NULL: the database's clock). It runs through
# `exec_driver_sql`, which skips SQLAlchemy's compilation step on every check.
TAKE_SQL = """
WITH p AS (
    SELECT CAST($1 AS text) AS key,
           CAST($2 AS float8) AS capacity,
           CAST($3 AS float8) AS rate,
           CAST($4 AS float8) AS cost,
           COALESCE(CAST($5 AS timestamptz), clock_timestamp()) AS now
)
INSERT INTO rate_limit_buckets AS b (bucket_key, tokens, last_allowed, updated_at, expires_at)
SELECT p.key, p.capacity - p.cost, true, p.now,
       p.now + make_interval(secs => p.cost / p.rate)
FROM p
ON CONFLICT (bucket_key) DO UPDATE
SET (tokens, last_allowed, updated_at, expires_at) = (
    SELECT d.after, d.allowed, s.now,
           s.now + make_interval(secs => (p.capacity - d.after) / p.rate)
    FROM p,
    LATERAL (
        SELECT GREATEST(b.updated_at, p.now) AS now,
               LEAST(p.capacity, b.tokens + p.rate * GREATEST(
                   CAST(EXTRACT(EPOCH FROM p.now - b.updated_at) AS float8), 0)) AS level
    ) AS s,
    LATERAL (
        SELECT s.level + 1e-9 >= p.cost AS allowed,
               CASE WHEN s.level + 1e-9 >= p.cost THEN GREATEST(s.level - p.cost, 0)
                    ELSE s.level END AS after
    ) AS d
)
RETURNING tokens, last_allowed
"""

# A refund: the bucket's refilled level plus `amount`, never beyond capacity. A bucket
# with no row is full already. Parameters: $1 key, $2 capacity, $3 refill per second,
# $4 amount, $5 the time (NULL: the database's clock).
REFUND_SQL = """
WITH p AS (
    SELECT CAST($1 AS text) AS key,
           CAST($2 AS float8) AS capacity,
           CAST($3 AS float8) AS rate,
           CAST($4 AS float8) AS amount,
           COALESCE(CAST($5 AS timestamptz), clock_timestamp()) AS now
), s AS (
    SELECT b.bucket_key, GREATEST(b.updated_at, p.now) AS now,
           LEAST(p.capacity, b.tokens + p.amount + p.rate * GREATEST(
               CAST(EXTRACT(EPOCH FROM p.now - b.updated_at) AS float8), 0)) AS level
    FROM rate_limit_buckets AS b, p
    WHERE b.bucket_key = p.key
    FOR UPDATE OF b
)
UPDATE rate_limit_buckets AS b
SET tokens = s.level, updated_at = s.now,
    expires_at = s.now + make_interval(secs => (p.capacity - s.level) / p.rate)
FROM s, p
WHERE b.bucket_key = s.bucket_key
"""

# Bounded cleanup of full buckets. SKIP LOCKED leaves rows a check holds alone;
# deleting a full bucket changes nothing, as a missing bucket starts full.
_PURGE_SQL = text(
    """
DELETE FROM rate_limit_buckets
WHERE bucket_key IN (
    SELECT bucket_key FROM rate_limit_buckets
    WHERE expires_at <= COALESCE(CAST(:now AS timestamptz), clock_timestamp())
    ORDER BY expires_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
"""
)

_DB_ERRORS = (SQLAlchemyError, OSError, TimeoutError)

_T = TypeVar("_T")


class _Unavailable(Exception):
    """The store could not answer this check (down, too slow, or too busy)."""


def bucket_key(key: str, budget: Budget) -> str:
    """The row key for `key` under `budget`, at most 200 characters."""
    joined = f"{budget.name}:{key}"
    if len(joined) <= _MAX_KEY_CHARS:
        return joined
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{budget.name}:sha256:{digest}"


class PostgresStore(RateLimitStore):
    """Token buckets in the `rate_limit_buckets` table, shared by all instances."""

    name = "postgres"

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        fail_open: bool,
        fallback: MemoryStore,
        timeout_seconds: float = 1.0,
        max_concurrent_checks: int = 3,
        queue_timeout_seconds: float | None = None,
        retry_interval_seconds: float = 5.0,
        cleanup_interval_seconds: float = 60.0,
        cleanup_batch: int = 1000,
        clock: Clock | None = None,
        monotonic: Clock = time.monotonic,
    ) -> None:
        """At most `max_concurrent_checks` checks hold a connection at once (the
        rest of the pool stays free for the application); the others queue here for
        up to `queue_timeout_seconds` (default 5 × `timeout_seconds`), so a burst is
        served in turn instead of timing out inside the pool. `timeout_seconds`
        bounds one check once it has its turn.

        `clock` (Unix seconds) replaces the database's clock; for tests.
        `monotonic` times the retry and cleanup intervals.
        """
        # One statement is atomic on its own: without BEGIN/COMMIT a check is one
        # round trip instead of three. The copy shares the application's pool.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._fail_open = fail_open
        self._fallback = fallback
        self._timeout = timeout_seconds
        self._turns = asyncio.Semaphore(max_concurrent_checks)
        self._queue_timeout = (
            5 * timeout_seconds if queue_timeout_seconds is None else queue_timeout_seconds
        )
        self._busy_logged_at: float | None = None
        self._retry_interval = retry_interval_seconds
        self._cleanup_interval = cleanup_interval_seconds
        self._cleanup_batch = cleanup_batch
        self._clock = clock
        self._monotonic = monotonic
        self._down_until: float | None = None
        self._next_cleanup = monotonic() + cleanup_interval_seconds
        self._cleanup_task: asyncio.Task[int] | None = None
        self._abandoned: set[asyncio.Future[Any]] = set()

    @property
    def available(self) -> bool:
        """False while the database is being left alone after a failure."""
        return self._down_until is None

    async def take(self, key: str, budget: Budget, *, cost: float = 1.0) -> Decision:
        validate_cost(budget, cost)
        if self._is_down():
            return await self._degraded(key, budget, cost)
        try:
            decision = await self._run(self._take(key, budget, cost))
        except _Unavailable:
            return await self._degraded(key, budget, cost)
        self._maybe_cleanup()
        return decision

    async def refund(self, key: str, budget: Budget, amount: float) -> None:
        if not amount > 0:
            return
        if self._is_down():
            await self._fallback.refund(key, budget, amount)
            return
        try:
            await self._run(self._refund(key, budget, amount))
        except _Unavailable:
            await self._fallback.refund(key, budget, amount)

    async def _run(self, statement: Coroutine[Any, Any, _T]) -> _T:
        """Run `statement` in its turn, within the deadline; `_Unavailable` otherwise.

        The deadline is kept here, not by cancelling the statement: the caller stops
        waiting after `timeout_seconds` whatever the connection does, and the
        statement's task is cancelled and left to finish in the background.
        """
        try:
            async with asyncio.timeout(self._queue_timeout):
                await self._turns.acquire()
        except TimeoutError:
            statement.close()
            self._log_busy()
            raise _Unavailable from None
        if self._is_down():  # it failed for another check while this one queued
            self._turns.release()
            statement.close()
            raise _Unavailable
        task = asyncio.ensure_future(statement)
        try:
            done, _ = await asyncio.wait({task}, timeout=self._timeout)
        except asyncio.CancelledError:
            self._abandon(task)
            raise
        finally:
            self._turns.release()
        if not done:
            self._abandon(task)
            self._mark_down(TimeoutError())
            raise _Unavailable
        try:
            return task.result()
        except _DB_ERRORS as exc:
            self._mark_down(exc)
            raise _Unavailable from None

    def _abandon(self, task: asyncio.Future[Any]) -> None:
        """Cancel a statement nobody waits for any more; keep it referenced until done."""
        task.cancel()
        self._abandoned.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: nobody is left to be told

    def _is_down(self) -> bool:
        if self._down_until is None:
            return False
        if self._monotonic() < self._down_until:
            return True
        self._down_until = None
        return False

    async def _take(self, key: str, budget: Budget, cost: float) -> Decision:
        params = (
            bucket_key(key, budget),
            budget.capacity,
            budget.refill_per_second,
            cost,
            self._now(),
        )
        async with self._engine.connect() as conn:
            row: tuple[Any, ...] = tuple((await conn.exec_driver_sql(TAKE_SQL, params)).one())
        tokens, allowed = float(row[0]), bool(row[1])
        if allowed:
            return Decision(allowed=True, remaining=tokens, retry_after=0.0)
        retry_after = (cost - tokens) / budget.refill_per_second
        return Decision(allowed=False, remaining=tokens, retry_after=retry_after)

    async def _refund(self, key: str, budget: Budget, amount: float) -> None:
        params = (
            bucket_key(key, budget),
            budget.capacity,
            budget.refill_per_second,
            amount,
            self._now(),
        )
        async with self._engine.connect() as conn:
            await conn.exec_driver_sql(REFUND_SQL, params)

    def _now(self) -> datetime | None:
        if self._clock is None:
            return None
        return datetime.fromtimestamp(self._clock(), UTC)

    def _mark_down(self, exc: BaseException) -> None:
        # The exception's text may carry a host or user name; the type is enough.
        logger.warning(
            "rate limit store unreachable; failing %s for %.0f s",
            "open (per-instance limits)" if self._fail_open else "closed",
            self._retry_interval,
            extra={"error_type": type(exc).__name__, "store": self.name},
        )
        self._down_until = self._monotonic() + self._retry_interval

    def _log_busy(self) -> None:
        now = self._monotonic()
        if self._busy_logged_at is not None and now - self._busy_logged_at < self._retry_interval:
            return
        self._busy_logged_at = now
        logger.warning(
            "rate limit store too slow for the load; failing %s for queued checks",
            "open (per-instance limits)" if self._fail_open else "closed",
            extra={"store": self.name},
        )

    async def _degraded(self, key: str, budget: Budget, cost: float) -> Decision:
        if self._fail_open:
            return await self._fallback.take(key, budget, cost=cost)
        until = self._down_until if self._down_until is not None else self._monotonic()
        wait = max(0.0, until - self._monotonic())
        raise DatabaseUnavailable(
            "Rate limiting is temporarily unavailable; please try again shortly.",
            retry_after=max(wait, 1.0),
        )

    def _maybe_cleanup(self) -> None:
        now = self._monotonic()
        if now < self._next_cleanup:
            return
        if self._cleanup_task is not None and not self._cleanup_task.done():
            return
        self._next_cleanup = now + self._cleanup_interval
        self._cleanup_task = asyncio.create_task(self._cleanup_quietly())

    async def _cleanup_quietly(self) -> int:
        try:
            return await self.purge_expired()
        except _DB_ERRORS as exc:
            logger.warning(
                "rate limit cleanup failed",
                extra={"error_type": type(exc).__name__, "store": self.name},
            )
            return 0

    async def purge_expired(self) -> int:
        """Delete up to `cleanup_batch` full buckets; return how many were deleted."""
        params: dict[str, Any] = {"now": self._now(), "batch": self._cleanup_batch}
        async with asyncio.timeout(max(self._timeout, 5.0)), self._engine.connect() as conn:
            result = await conn.execute(_PURGE_SQL, params)
        deleted = int(getattr(result, "rowcount", 0) or 0)
        if deleted:
            logger.debug("rate limit buckets purged", extra={"deleted": deleted})
        return deleted

    async def aclose(self) -> None:
        """Wait for a running cleanup and abandoned statements; the engine belongs to
        the caller."""
        task = self._cleanup_task
        if task is not None and not task.done():
            try:
                async with asyncio.timeout(2.0):
                    await task
            except TimeoutError:
                task.cancel()
        if self._abandoned:
            await asyncio.wait(set(self._abandoned), timeout=2.0)
