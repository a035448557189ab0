"""The rate-limit policy: which budgets exist, who they belong to, what a refusal says.

One `RateLimiter` per process, built by `RateLimiter.from_settings` from the
rate-limit settings group (`RateLimitSettings`); it always exists, and
RATE_LIMIT_ENABLED=false is its one "off" switch (every check then admits).
Budgets and where they live:

| budget                                  | key                  | store                 |
|-----------------------------------------|----------------------|-----------------------|
| HTTP requests per minute                | caller (user or IP)  | shared (memory or PG) |
| new sessions per address per hour       | address              | shared                |
| new sessions per instance per minute    | this instance        | memory, always        |
| new conversations per user per hour     | caller               | shared                |
| AI calls per user per hour              | caller               | shared                |
| AI calls per address per hour           | address              | shared                |
| AI calls per instance per minute        | this instance        | memory, always        |
| speech seconds per user per hour        | caller               | shared                |
| speech seconds per address per hour     | address              | shared                |
| WebSocket messages per minute           | caller (after hello) | shared                |
| WebSocket messages per address per min. | address              | shared                |
| open WebSockets                         | address, user, inst. | counters in memory    |

"Caller" is the signed-in user (`u:<id>`), else the address (`ip:<address>`); see
`keys.py`. The per-address budgets sit above the per-user ones, so creating new
anonymous users from one address never buys a fresh AI, speech or message budget:
they are set higher than the per-user ones (a household shares one address) but
bound what any one address can spend, however many sessions it opens. Message
budgets follow the caller, not the connection, so reconnecting buys nothing.

An AI call is one turn the AI answers, charged once before its first provider request
however many tool rounds follow: the budgets count what users ask, which they can
predict. A turn makes at most 1 + AI_TOOL_MAX_ROUNDS provider requests, so the
per-instance budget bounds the provider's requests at that multiple.

Speech is paid before it runs: `reserve_speech` takes the most an utterance may
cost (STT_MAX_SECONDS, longer audio is refused by the model) from both speech
budgets, and `SpeechReservation.settle` gives back what the transcript shows was
not used (at least `speech.MIN_SPEECH_CHARGE_SECONDS` is kept per attempt).

Every refusal raises `ballsy.errors.RateLimited` (code `rate_limited`) with a
message for people and `retry_after` in seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from ballsy.config_groups import ConfigError, RateLimitSettings
from ballsy.errors import RateLimited
from ballsy.providers.ratelimit.base import Budget, RateLimitStore
from ballsy.providers.ratelimit.keys import ip_key, limit_key, normalise_key
from ballsy.providers.ratelimit.memory import MemoryStore
from ballsy.providers.ratelimit.postgres import PostgresStore
from ballsy.providers.ratelimit.sockets import FloodStrikes, OpenSockets, WebSocketSlot
from ballsy.providers.ratelimit.speech import Charge, SpeechReservation, refund_quietly

if TYPE_CHECKING:
    from ballsy.metrics import Metrics

Clock = Callable[[], float]

# A refused WebSocket has no bucket to say when a slot frees; this is a hint.
WS_SLOT_RETRY_AFTER_SECONDS = 5.0
# The in-memory budgets need few keys: the instance's own.
_LOCAL_MIN_KEYS = 16


def pool_size(engine: AsyncEngine) -> int:
    """The connections the engine's pool keeps (a PostgreSQL engine's QueuePool)."""
    size = getattr(engine.sync_engine.pool, "size", None)
    return int(size()) if callable(size) else 1


def _seconds(value: float) -> str:
    whole = max(1, math.ceil(value))
    return "1 second" if whole == 1 else f"{whole} seconds"


class RateLimiter:
    """Every budget Ballsy enforces, checked by the API and the assistant pipeline."""

    def __init__(
        self,
        limits: RateLimitSettings,
        store: RateLimitStore,
        *,
        speech_max_seconds: float,
        clock: Clock = time.monotonic,
    ) -> None:
        """`store` holds the shared budgets; `clock` drives the in-memory ones;
        `speech_max_seconds` (STT_MAX_SECONDS) is what a recording reserves up front."""
        self.enabled = limits.rate_limit_enabled
        self.store = store
        self.flood_warnings = limits.rate_limit_ws_flood_warnings
        # Per-instance budgets in a store of their own, so no flood of other keys can
        # ever evict them.
        self._instance = MemoryStore(max_keys=_LOCAL_MIN_KEYS, clock=clock)
        self.requests = Budget.per_window("requests", limits.rate_limit_requests_per_minute, 60)
        self.sessions_per_address = Budget.per_window(
            "sessions_address", limits.rate_limit_sessions_per_address_per_hour, 3600
        )
        self.sessions_per_instance = Budget.per_window(
            "sessions_instance", limits.rate_limit_sessions_per_instance_per_minute, 60
        )
        self.conversations = Budget.per_window(
            "conversations_user", limits.rate_limit_conversations_per_user_per_hour, 3600
        )
        self.ws_messages = Budget.per_window(
            "ws_messages", limits.rate_limit_ws_messages_per_minute, 60
        )
        self.ws_messages_per_address = Budget.per_window(
            "ws_messages_address", limits.rate_limit_ws_messages_per_address_per_minute, 60
        )
        self.ai_per_user = Budget.per_window(
            "ai_user", limits.rate_limit_ai_calls_per_user_per_hour, 3600
        )
        self.ai_per_address = Budget.per_window(
            "ai_address", limits.rate_limit_ai_calls_per_address_per_hour, 3600
        )
        self.ai_per_instance = Budget.per_window(
            "ai_instance", limits.rate_limit_ai_calls_per_instance_per_minute, 60
        )
        self.stt_seconds = Budget.per_window(
            "stt_seconds", limits.rate_limit_stt_seconds_per_user_per_hour, 3600
        )
        self.stt_seconds_per_address = Budget.per_window(
            "stt_seconds_address", limits.rate_limit_stt_seconds_per_address_per_hour, 3600
        )
        self.stt_max_seconds = speech_max_seconds
        self.ws_per_address = limits.rate_limit_ws_per_address
        self.ws_per_user = limits.rate_limit_ws_per_user
        self.ws_per_instance = limits.rate_limit_ws_per_instance
        self.sockets = OpenSockets()
        # Refusals per budget since start, and how many were already exported.
        self.refusals: dict[str, int] = {}
        self._exported: dict[str, int] = {}

    @classmethod
    def from_settings(
        cls,
        limits: RateLimitSettings,
        *,
        speech_max_seconds: float,
        engine: AsyncEngine | None = None,
    ) -> RateLimiter:
        """The limiter with the store RATE_LIMIT_STORE names (in memory while off).

        `engine` is the application's engine, required for the PostgreSQL store.
        """
        fallback = MemoryStore(max_keys=limits.rate_limit_max_keys)
        store: RateLimitStore
        if limits.rate_limit_enabled and limits.rate_limit_store == "postgres":
            if engine is None:
                raise ConfigError("RATE_LIMIT_STORE=postgres needs the database engine")
            if engine.dialect.name != "postgresql":
                raise ConfigError("RATE_LIMIT_STORE=postgres needs DATABASE_URL to be PostgreSQL")
            store = PostgresStore(
                engine,
                fail_open=limits.rate_limit_fail_open,
                fallback=fallback,
                timeout_seconds=limits.rate_limit_store_timeout_seconds,
                # As many checks at once as the pool keeps connections (DB_POOL_SIZE),
                # leaving its overflow to the application's own queries.
                max_concurrent_checks=pool_size(engine),
            )
        else:
            store = fallback
        return cls(limits, store, speech_max_seconds=speech_max_seconds)

    # --- budgets ----------------------------------------------------------------
    async def check_request(self, client_key: str) -> None:
        """One HTTP request by `client_key`; raises `RateLimited` when over budget."""
        if not self.enabled:  # every request asks: not even its key is worked out
            return
        await self._take(
            self.store,
            normalise_key(client_key),
            self.requests,
            message="Too many requests; slow down.",
        )

    async def check_new_session(self, address: str) -> None:
        """One new anonymous user from `address`: its budget, then this instance's."""
        await self._take(
            self.store,
            ip_key(address),
            self.sessions_per_address,
            message="Too many new sessions from your network; keep using the one you have.",
        )
        await self._take(
            self._instance,
            "instance",
            self.sessions_per_instance,
            message="The server is creating too many sessions right now.",
        )

    async def check_new_conversation(self, user_id: int) -> None:
        """One conversation started on purpose by `user_id`."""
        await self._take(
            self.store,
            limit_key(user_id, None),
            self.conversations,
            message="You have started too many conversations; keep using this one.",
        )

    async def check_ws_message(self, *, user_id: int | None, address: str) -> None:
        """One WebSocket message from the caller (the signed-in user once `hello` named
        them, else the address) and from its address: budgets that outlive the socket,
        so reconnecting buys nothing."""
        if not self.enabled:  # every message asks: not even its keys are worked out
            return
        own = limit_key(user_id, address)
        await self._take(
            self.store, own, self.ws_messages, message="You are sending messages too quickly."
        )
        await self._take(
            self.store,
            ip_key(address),
            self.ws_messages_per_address,
            message="Your network is sending messages too quickly.",
        )

    async def check_ai(self, *, user_id: int | None, address: str | None) -> None:
        """One AI call: the caller's budget, its address's, then this instance's.

        The caller's own budgets come first, so a client over them never spends the
        instance's (which protects the provider's quota for everyone). With no
        address (a local program) only the caller's own budget applies.
        """
        await self._take(
            self.store,
            limit_key(user_id, address),
            self.ai_per_user,
            message="You have used your assistant replies for now.",
        )
        if address is not None:
            await self._take(
                self.store,
                ip_key(address),
                self.ai_per_address,
                message="Your network has used its assistant replies for now.",
            )
        await self._take(
            self._instance,
            "instance",
            self.ai_per_instance,
            message="The assistant is busy right now.",
        )

    async def reserve_speech(
        self, *, user_id: int | None, address: str | None
    ) -> SpeechReservation:
        """Take the most one utterance may cost (STT_MAX_SECONDS) from the caller's
        and its address's speech budgets, before the model runs.

        Where a budget is smaller than that, the utterance costs the whole budget
        (it is admitted only when the bucket is full), so it is never refused forever.
        Raises `RateLimited` up front; nothing is kept when either budget refuses.
        """
        if not self.enabled:
            return SpeechReservation([])
        wanted: list[tuple[str, Budget, str]] = [
            (
                limit_key(user_id, address),
                self.stt_seconds,
                "You have used your speech recognition time for now.",
            )
        ]
        if address is not None:
            wanted.append(
                (
                    ip_key(address),
                    self.stt_seconds_per_address,
                    "Your network has used its speech recognition time for now.",
                )
            )
        charges: list[Charge] = []
        try:
            for key, budget, message in wanted:
                cost = min(self.stt_max_seconds, budget.capacity)
                await self._take(self.store, key, budget, cost=cost, message=message)
                charges.append((self.store, key, budget, cost))
        except BaseException:
            for store, key, budget, cost in charges:
                await refund_quietly(store, key, budget, cost)
            raise
        return SpeechReservation(charges)

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
    def acquire_ws(self, address: str) -> WebSocketSlot:
        """Admit one more WebSocket from `address`, or raise `RateLimited`.

        The counts are per instance, which is what Cloud Run's concurrency limits.
        Release the slot when the socket closes (`with limiter.acquire_ws(a):`).
        """
        key = ip_key(address[3:] if address.startswith("ip:") else address)
        if not self.enabled:
            return WebSocketSlot(None, key)
        if self.sockets.total >= self.ws_per_instance:
            self._count_refusal("ws_per_instance")
            raise RateLimited(
                "The server has too many open connections; "
                f"try again in {_seconds(WS_SLOT_RETRY_AFTER_SECONDS)}.",
                retry_after=WS_SLOT_RETRY_AFTER_SECONDS,
            )
        if self.sockets.held_by(key) >= self.ws_per_address:
            self._count_refusal("ws_per_address")
            raise RateLimited(
                f"Too many open connections from your network (at most {self.ws_per_address}); "
                "close one first.",
                retry_after=WS_SLOT_RETRY_AFTER_SECONDS,
            )
        return self.sockets.open(key, per_instance=True)

    def acquire_ws_user(self, user_id: int) -> WebSocketSlot:
        """Admit one more WebSocket signed in as `user_id` (after its `hello`)."""
        key = limit_key(user_id, None)
        if not self.enabled:
            return WebSocketSlot(None, key, per_instance=False)
        if self.sockets.held_by(key) >= self.ws_per_user:
            self._count_refusal("ws_per_user")
            raise RateLimited(
                f"Too many open connections for this session (at most {self.ws_per_user}); "
                "close one first.",
                retry_after=WS_SLOT_RETRY_AFTER_SECONDS,
            )
        return self.sockets.open(key, per_instance=False)

    def release_ws(self, slot: WebSocketSlot) -> None:
        """Free `slot` (the same as `slot.release()`); idempotent."""
        slot.release()

    @property
    def open_websockets(self) -> int:
        return self.sockets.total

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
