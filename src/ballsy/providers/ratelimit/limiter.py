"""The rate-limit policy: which budgets exist, who they belong to, what a refusal says.

One `RateLimiter` per process, built by `RateLimiter.from_settings`. Budgets and where
they live:

| budget                          | key                 | store                     |
|---------------------------------|---------------------|---------------------------|
| HTTP requests per minute        | client (user or IP) | shared (memory or PG)     |
| AI calls per user per hour      | client              | shared                    |
| speech seconds per user per hour| client              | shared                    |
| AI calls per instance per minute| this instance       | memory, always            |
| WebSocket messages per minute   | connection          | memory (a socket lives on |
|                                 |                     | one instance)             |
| concurrent WebSockets           | client, instance    | counters in memory        |

Keys: an authenticated user is `u:<id>` (from their bearer token, never from a
`user_id` the client wrote in a path or body: a new number must not buy a fresh
budget); everyone else is `ip:<address>` (see `api/client_ip.py`), with IPv6
addresses grouped by their /64 network, which one subscriber usually holds whole.

Every refusal raises `ballsy.errors.RateLimited` (code `rate_limited`) with a
message for people and `retry_after` in seconds.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from ballsy.config import ConfigError, Settings
from ballsy.errors import RateLimited
from ballsy.providers.ratelimit.base import Budget, RateLimitStore
from ballsy.providers.ratelimit.memory import MemoryStore
from ballsy.providers.ratelimit.postgres import PostgresStore

if TYPE_CHECKING:
    from ballsy.metrics import Metrics

Clock = Callable[[], float]

# A refused WebSocket has no bucket to say when a slot frees; this is a hint.
WS_SLOT_RETRY_AFTER_SECONDS = 5.0
# The per-connection budgets need few keys: bounded by recently open sockets.
_LOCAL_MIN_KEYS = 1000


def user_key(user_id: int) -> str:
    """The key of an authenticated user (the id comes from their token)."""
    return f"u:{user_id}"


def ip_key(address: str) -> str:
    """The key of an unauthenticated client; IPv6 addresses share their /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address[:64]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"ip:{ip}"


def normalise_key(key: str) -> str:
    """`key` with an `ip:` address normalised by `ip_key`, so every caller agrees."""
    if key.startswith("ip:"):
        return ip_key(key[3:])
    return key


def client_key(*, authenticated_user_id: int | None, client_ip: str) -> str:
    """`u:<id>` for a user authenticated by token, else `ip:<address>`.

    Pass only an id proven by a token: legacy tokenless requests carry a `user_id`
    the client chose, and must be keyed by their address.
    """
    if authenticated_user_id is not None:
        return user_key(authenticated_user_id)
    return ip_key(client_ip)


def _seconds(value: float) -> str:
    whole = max(1, math.ceil(value))
    return "1 second" if whole == 1 else f"{whole} seconds"


class WebSocketSlot:
    """One admitted WebSocket; `release()` (or leaving the `with` block) frees it."""

    __slots__ = ("_limiter", "client_key", "released")

    def __init__(self, limiter: RateLimiter | None, client_key: str) -> None:
        self._limiter = limiter
        self.client_key = client_key
        self.released = False

    def release(self) -> None:
        """Free the slot; calling it again does nothing."""
        if self.released:
            return
        self.released = True
        if self._limiter is not None:
            self._limiter._release_ws(self.client_key)

    def __enter__(self) -> WebSocketSlot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class FloodStrikes:
    """Counts refused messages on one WebSocket, to close a connection that floods.

    Each refused message gets an `error` reply (a warning) while `refused()` returns
    False; once more than `max_warnings` refusals come in a row it returns True, and
    the caller closes the socket with code 1008 (policy violation). An admitted
    message, meaning the client waited for its budget, clears the count.
    """

    CLOSE_CODE = 1008

    __slots__ = ("max_warnings", "strikes")

    def __init__(self, max_warnings: int) -> None:
        self.max_warnings = max_warnings
        self.strikes = 0

    def refused(self) -> bool:
        """Record a refused message; True when the connection must be closed."""
        self.strikes += 1
        return self.strikes > self.max_warnings

    def admitted(self) -> None:
        self.strikes = 0


class RateLimiter:
    """Every budget Ballsy enforces, checked by the API and the assistant pipeline."""

    def __init__(
        self,
        settings: Settings,
        store: RateLimitStore,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        """`store` holds the shared budgets; `clock` drives the in-memory ones."""
        self.enabled = settings.rate_limit_enabled
        self.store = store
        self.flood_warnings = settings.rate_limit_ws_flood_warnings
        # Per-connection buckets; sized so live sockets are never evicted.
        self._local = MemoryStore(
            max_keys=max(_LOCAL_MIN_KEYS, 2 * settings.rate_limit_ws_per_instance), clock=clock
        )
        # A store of its own, so no flood of other keys can ever evict it.
        self._instance = MemoryStore(max_keys=1, clock=clock)
        self.requests = Budget.per_window("requests", settings.rate_limit_requests_per_minute, 60)
        self.ws_messages = Budget.per_window(
            "ws_messages", settings.rate_limit_ws_messages_per_minute, 60
        )
        self.ai_per_user = Budget.per_window(
            "ai_user", settings.rate_limit_ai_calls_per_user_per_hour, 3600
        )
        self.ai_per_instance = Budget.per_window(
            "ai_instance", settings.rate_limit_ai_calls_per_instance_per_minute, 60
        )
        self.stt_seconds = Budget.per_window(
            "stt_seconds", settings.rate_limit_stt_seconds_per_user_per_hour, 3600
        )
        self.ws_per_client = settings.rate_limit_ws_per_client
        self.ws_per_instance = settings.rate_limit_ws_per_instance
        self._ws_open: dict[str, int] = {}
        self._ws_total = 0
        # Refusals per budget since start, and how many were already exported.
        self.refusals: dict[str, int] = {}
        self._exported: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, engine: AsyncEngine | None = None) -> RateLimiter:
        """The limiter with the store RATE_LIMIT_STORE names.

        `engine` is the application's engine, required for the PostgreSQL store.
        """
        fallback = MemoryStore(max_keys=settings.rate_limit_max_keys)
        store: RateLimitStore
        if settings.rate_limit_store == "postgres":
            if engine is None:
                raise ConfigError("RATE_LIMIT_STORE=postgres needs the database engine")
            if engine.dialect.name != "postgresql":
                raise ConfigError("RATE_LIMIT_STORE=postgres needs DATABASE_URL to be PostgreSQL")
            store = PostgresStore(
                engine,
                fail_open=settings.rate_limit_fail_open,
                fallback=fallback,
                timeout_seconds=settings.rate_limit_store_timeout_seconds,
                # Leave the pool's overflow to the application's own queries.
                max_concurrent_checks=settings.db_pool_size,
            )
        else:
            store = fallback
        return cls(settings, store)

    # --- budgets ----------------------------------------------------------------
    async def check_request(self, client_key: str) -> None:
        """One HTTP request by `client_key`; raises `RateLimited` when over budget."""
        await self._take(
            self.store,
            normalise_key(client_key),
            self.requests,
            message="Too many requests; slow down.",
        )

    async def check_ws_message(self, connection_id: str) -> None:
        """One message on WebSocket `connection_id`; raises `RateLimited` when over budget."""
        await self._take(
            self._local,
            connection_id,
            self.ws_messages,
            message="You are sending messages too quickly.",
        )

    async def check_ai(self, user_key: str) -> None:
        """One AI call for `user_key`: the user's budget, then this instance's.

        The user's budget is checked first, so a client over its own budget never
        spends the instance's (which protects the provider's quota for everyone).
        """
        await self._take(
            self.store,
            normalise_key(user_key),
            self.ai_per_user,
            message="You have used your assistant replies for now.",
        )
        await self._take(
            self._instance,
            "instance",
            self.ai_per_instance,
            message="The assistant is busy right now.",
        )

    async def check_stt_seconds(self, user_key: str, seconds: float) -> None:
        """`seconds` of audio to transcribe for `user_key`.

        A clip longer than the whole budget costs the whole budget (it is admitted
        only when the bucket is full), so a long clip is never refused forever.
        """
        if not seconds > 0:
            return
        cost = min(float(seconds), self.stt_seconds.capacity)
        await self._take(
            self.store,
            normalise_key(user_key),
            self.stt_seconds,
            cost=cost,
            message="You have used your speech recognition time for now.",
        )

    async def _take(
        self,
        store: RateLimitStore,
        key: str,
        budget: Budget,
        *,
        message: str,
        cost: float = 1.0,
    ) -> None:
        if not self.enabled:
            return
        decision = await store.take(key, budget, cost=cost)
        if not decision.allowed:
            self._count_refusal(budget.name)
            raise RateLimited(
                f"{message} Try again in {_seconds(decision.retry_after)}.",
                retry_after=decision.retry_after,
            )

    # --- concurrent WebSockets ---------------------------------------------------
    def acquire_ws(self, client_key: str) -> WebSocketSlot:
        """Admit one more WebSocket for `client_key`, or raise `RateLimited`.

        The counts are per instance, which is what Cloud Run's concurrency limits.
        Release the slot when the socket closes (`with limiter.acquire_ws(k):`).
        """
        client_key = normalise_key(client_key)
        if not self.enabled:
            return WebSocketSlot(None, client_key)
        if self._ws_total >= self.ws_per_instance:
            self._count_refusal("ws_per_instance")
            raise RateLimited(
                "The server has too many open connections; "
                f"try again in {_seconds(WS_SLOT_RETRY_AFTER_SECONDS)}.",
                retry_after=WS_SLOT_RETRY_AFTER_SECONDS,
            )
        if self._ws_open.get(client_key, 0) >= self.ws_per_client:
            self._count_refusal("ws_per_client")
            raise RateLimited(
                f"Too many open connections from you (at most {self.ws_per_client}); "
                "close one first.",
                retry_after=WS_SLOT_RETRY_AFTER_SECONDS,
            )
        self._ws_open[client_key] = self._ws_open.get(client_key, 0) + 1
        self._ws_total += 1
        return WebSocketSlot(self, client_key)

    def release_ws(self, slot: WebSocketSlot) -> None:
        """Free `slot` (the same as `slot.release()`); idempotent."""
        slot.release()

    def _release_ws(self, client_key: str) -> None:
        remaining = self._ws_open.get(client_key, 0) - 1
        if remaining > 0:
            self._ws_open[client_key] = remaining
        else:
            self._ws_open.pop(client_key, None)
        self._ws_total = max(0, self._ws_total - 1)

    @property
    def open_websockets(self) -> int:
        return self._ws_total

    # --- observability -------------------------------------------------------------
    def _count_refusal(self, budget: str) -> None:
        self.refusals[budget] = self.refusals.get(budget, 0) + 1

    def export_metrics(self, metrics: Metrics) -> None:
        """Add refusals since the last export to `ballsy_rate_limit_refusals_total`."""
        for budget, count in list(self.refusals.items()):
            delta = count - self._exported.get(budget, 0)
            if delta > 0:
                metrics.rate_limited.labels(budget).inc(delta)
            self._exported[budget] = count

    def flood_strikes(self) -> FloodStrikes:
        """A strike counter for one new WebSocket connection."""
        return FloodStrikes(self.flood_warnings)

    async def aclose(self) -> None:
        await self.store.aclose()
