"""Who is asking: an authenticated user, or a tokenless client in its own short-lived scope.

Anonymous users (POST /api/session) are a user row plus an unguessable bearer token;
only the token's SHA-256 is stored. Tokenless clients (the prototype's own client,
which sends no token) are answered in an in-memory scope keyed by their door, their
connection (a WebSocket, or an HTTP client's scope cookie) and network address: it
holds the last arithmetic result and a few recent turns, expires, is bounded in size,
and can never reach a real user's data. Two clients at one address never share it,
even with the same client id.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from fractions import Fraction
from zoneinfo import ZoneInfo

from ballsy.providers.ratelimit import keys


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_zone(name: str | None) -> ZoneInfo | None:
    """The IANA time zone `name` (e.g. Europe/Paris), or None when absent or unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return None


def limit_key(user_id: int | None, address: str | None) -> str:
    """The key rate limits count against: the user, or for tokenless callers their
    network address — never an id the client chose, which would buy a fresh budget.
    Built by the rate limiter's one key function, so every door agrees with it."""
    return keys.limit_key(user_id, address)


@dataclass(frozen=True, slots=True)
class Identity:
    """Either `user_id` (authenticated) or `scope_key` (tokenless) is set."""

    user_id: int | None = None
    scope_key: str | None = None
    timezone: str | None = None
    address: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def limit_key(self) -> str:
        return limit_key(self.user_id, self.address)

    @classmethod
    def user(
        cls, user_id: int, *, timezone: str | None = None, address: str | None = None
    ) -> Identity:
        """`address` is where the request came from: per-address budgets charge it."""
        return cls(user_id=user_id, timezone=timezone, address=address)

    @classmethod
    def tokenless(
        cls, client_id: str, address: str, *, connection: str, timezone: str | None = None
    ) -> Identity:
        """A tokenless scope: `connection` names the one connection (or HTTP client) it
        belongs to; the client id alone is chosen by the client and often shared."""
        return cls(
            scope_key=f"{client_id[:64]}#{connection[:64]}@{address}",
            timezone=timezone,
            address=address,
        )


class TokenCache:
    """Recently verified token hashes -> user id, so a request need not ask the database.

    Bounded and short-lived: a token replaced by `ballsy users issue-token` stops working
    on every instance within `ttl_seconds`.
    """

    def __init__(self, *, ttl_seconds: float = 30.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def get(self, token_hash: str, *, now: float | None = None) -> int | None:
        now = time.monotonic() if now is None else now
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        user_id, stored = entry
        if now - stored > self.ttl:
            del self._entries[token_hash]
            return None
        return user_id

    def put(self, token_hash: str, user_id: int, *, now: float | None = None) -> None:
        self._entries[token_hash] = (user_id, time.monotonic() if now is None else now)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class TokenLookups:
    """Token hash -> user id from the database, every lookup waiting at the same moment
    answered by one query.

    A thousand pages reconnecting at once (an instance restarted, a network back) each
    send a token in their `hello`. One query per hello queues them all for the database
    pool, and on a busy instance the last ones wait past the pool's timeout and fail
    with `database_unavailable`. Here the lookups that arrive while a query runs wait
    for the next one, which asks for all of them (`max_batch` at a time); a lone lookup
    costs what it did before. A failed query fails exactly the lookups in it.
    """

    def __init__(
        self,
        fetch: Callable[[list[str]], Awaitable[dict[str, int]]],
        *,
        max_batch: int = 500,
    ) -> None:
        self.fetch = fetch  # token hashes -> {token hash: user id} for those that exist
        self.max_batch = max_batch
        self._waiting: dict[str, list[asyncio.Future[int | None]]] = {}
        self._drain: asyncio.Task[None] | None = None

    async def user_id(self, token_hash: str) -> int | None:
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(token_hash, []).append(future)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            hashes = list(self._waiting)[: self.max_batch]
            waiters = {token_hash: self._waiting.pop(token_hash) for token_hash in hashes}
            try:
                found = await self.fetch(hashes)
            except Exception as exc:
                for futures in waiters.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for token_hash, futures in waiters.items():
                for future in futures:
                    if not future.done():  # a caller that gave up has cancelled its own
                        future.set_result(found.get(token_hash))


@dataclass(slots=True)
class TokenlessScope:
    last_result: Fraction | None = None
    turns: list[tuple[str, str]] = field(default_factory=list)  # (user text, reply)
    touched: float = 0.0


class TokenlessScopes:
    """Bounded, expiring memory for tokenless clients."""

    def __init__(self, *, ttl_seconds: float, max_entries: int, max_turns: int = 6) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.max_turns = max_turns
        self._scopes: OrderedDict[str, TokenlessScope] = OrderedDict()

    def get(self, key: str, *, now: float | None = None) -> TokenlessScope:
        now = time.monotonic() if now is None else now
        scope = self._scopes.get(key)
        if scope is None or now - scope.touched > self.ttl:
            scope = TokenlessScope()
            self._scopes[key] = scope
        scope.touched = now
        self._scopes.move_to_end(key)
        self._evict(now)
        return scope

    def remember_turn(self, scope: TokenlessScope, command: str, reply: str) -> None:
        scope.turns.append((command[:1000], reply[:2000]))
        del scope.turns[: -self.max_turns]

    def _evict(self, now: float) -> None:
        while len(self._scopes) > self.max_entries:
            self._scopes.popitem(last=False)
        # Drop expired scopes from the old end; stop at the first live one.
        while self._scopes:
            key, scope = next(iter(self._scopes.items()))
            if now - scope.touched <= self.ttl:
                break
            del self._scopes[key]

    def __len__(self) -> int:
        return len(self._scopes)
