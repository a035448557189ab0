"""Open WebSockets on this instance: counts per key (address or user) and in all, and
the strike counter that closes a socket that floods.

A socket lives on one instance, and Cloud Run's concurrency is per instance, so these
counts are kept in memory. `RateLimiter` decides the caps; this module only counts.
"""

from __future__ import annotations

from types import TracebackType


class OpenSockets:
    """How many sockets each key holds open, and how many sockets are open in all."""

    def __init__(self) -> None:
        self.by_key: dict[str, int] = {}
        self.total = 0

    def held_by(self, key: str) -> int:
        return self.by_key.get(key, 0)

    def open(self, key: str, *, per_instance: bool) -> WebSocketSlot:
        """Count one more for `key` (and in all, when `per_instance`: a user's place on
        a socket already counted by its address is not a second socket)."""
        self.by_key[key] = self.by_key.get(key, 0) + 1
        if per_instance:
            self.total += 1
        return WebSocketSlot(self, key, per_instance=per_instance)

    def close(self, slot: WebSocketSlot) -> None:
        remaining = self.by_key.get(slot.client_key, 0) - 1
        if remaining > 0:
            self.by_key[slot.client_key] = remaining
        else:
            self.by_key.pop(slot.client_key, None)
        if slot.per_instance:
            self.total = max(0, self.total - 1)


class WebSocketSlot:
    """One admitted WebSocket (per address) or signed-in user on it; `release()`
    (or leaving the `with` block) frees it."""

    __slots__ = ("_sockets", "client_key", "per_instance", "released")

    def __init__(
        self, sockets: OpenSockets | None, client_key: str, *, per_instance: bool = True
    ) -> None:
        """`sockets` None: a slot that counts nothing (rate limiting is off)."""
        self._sockets = sockets
        self.client_key = client_key
        self.per_instance = per_instance
        self.released = False

    def release(self) -> None:
        """Free the slot; calling it again does nothing."""
        if self.released:
            return
        self.released = True
        if self._sockets is not None:
            self._sockets.close(self)

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
