"""Firing due timers, alarms and reminders: exactly once, on every open page of their owner.

One sweep:

1. claims what is due (`db/timers.claim_due`: one atomic UPDATE, so across any number of
   instances each item is claimed, and counted as fired, exactly once);
2. for the users with pages open on this instance, reads what fired recently (here or on
   another instance) or was never shown, and hands each item to `Listeners.deliver`,
   which sends it to every page of its owner here that has not had it yet;
3. marks what a page showed as delivered, and now and then deletes old items.

An item that fired while none of its owner's pages was open stays undelivered and is
announced when a page next says hello (`announce`). The server runs sweeps in a loop
(`run`) that wakes at the next due time it knows of, when an item is added here, or every
`poll_seconds` for items set through other instances; `POST /internal/due` runs one sweep
(Cloud Scheduler calls it, so items come due even when no instance is running).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from ballsy.assistant.timers import TimerOptions, view, zone_of
from ballsy.commands.timers import fired_text
from ballsy.db import timers as store
from ballsy.db.models import utcnow

log = logging.getLogger("ballsy.timers")

# How far back a sweep looks for items fired on another instance: many polls' worth, so
# a slow sweep or a little clock skew between instances loses nothing.
_LOOKBACK_POLLS = 30
_PURGE_EVERY_SECONDS = 600.0
# After a failed sweep (database down), wait this long before the next try.
_FAILURE_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class DueItem:
    """A fired item as a page gets it: what to say, and whether it is late news."""

    item: store.StoredTimer
    text: str
    late: bool


class Listeners(Protocol):
    """The pages open on this instance (the WebSocket hub, through api/timer_delivery.py)."""

    def user_ids(self) -> set[int]:
        """Users with at least one signed-in page here."""
        ...

    async def deliver(self, due: DueItem) -> int:
        """Send `due` to its owner's pages here that have not had it; how many got it."""
        ...


@dataclass(frozen=True, slots=True)
class SweepResult:
    claimed: int
    delivered: int


class DueScheduler:
    def __init__(
        self,
        engine: AsyncEngine,
        listeners: Listeners,
        options: TimerOptions | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        instance: str | None = None,
        on_fired: Callable[[int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.listeners = listeners
        self.options = options or TimerOptions()
        self.clock = clock
        self.instance = instance or uuid.uuid4().hex
        self.on_fired = on_fired  # a metric: items this instance claimed
        self._wake = asyncio.Event()
        self._sweeping = asyncio.Lock()
        self._last_purge = 0.0

    def wake(self) -> None:
        """Sweep again now (an item was added: its due time may be sooner than the next)."""
        self._wake.set()

    def _due(self, item: store.StoredTimer, now: datetime, *, announced: bool) -> DueItem:
        late = announced or now - item.due_at > self.options.late_after
        return DueItem(item, fired_text(view(item), zone=zone_of(item), late=late), late)

    async def sweep(self) -> SweepResult:
        """Claim what is due and deliver what pages here should hear about."""
        async with self._sweeping:
            now = self.clock()
            batch = self.options.batch
            async with self.engine.begin() as conn:
                claimed = await store.claim_due(conn, now=now, instance=self.instance, limit=batch)
            if claimed:
                log.info(
                    "timers fired",
                    extra={"timers": len(claimed), "instance": self.instance},
                )
                if self.on_fired is not None:
                    self.on_fired(len(claimed))
            delivered = await self._fan_out(now)
            await self._purge(now)
            return SweepResult(claimed=len(claimed), delivered=delivered)

    async def _fan_out(self, now: datetime) -> int:
        users = self.listeners.user_ids()
        if not users:
            return 0
        since = now - _LOOKBACK_POLLS * _poll(self.options)
        async with self.engine.connect() as conn:
            items = await store.fired_for(conn, users, since=since, limit=self.options.batch)
        shown: list[int] = []
        for item in items:
            if await self.listeners.deliver(self._due(item, now, announced=False)):
                shown.append(item.id)
        if shown:
            async with self.engine.begin() as conn:
                await store.mark_delivered(conn, shown, now=now)
        return len(shown)

    async def announce(self, user_id: int) -> list[DueItem]:
        """What fell due for `user_id` while no page of theirs was open, for a page that
        has just said hello: due items are claimed first (no sweep may have run, as after
        a scale to zero), then the fired items no page has shown are taken for this page."""
        now = self.clock()
        async with self.engine.begin() as conn:
            await store.claim_due(
                conn, now=now, instance=self.instance, limit=self.options.batch, user_id=user_id
            )
            items = await store.take_undelivered(conn, user_id, now=now, limit=self.options.batch)
        return [self._due(item, now, announced=True) for item in items]

    async def _purge(self, now: datetime) -> None:
        if time.monotonic() - self._last_purge < _PURGE_EVERY_SECONDS:
            return
        self._last_purge = time.monotonic()
        async with self.engine.begin() as conn:
            removed = await store.purge(
                conn,
                delivered_before=now - self.options.keep_delivered,
                undelivered_before=now - self.options.keep_undelivered,
                limit=self.options.batch,
            )
        if removed:
            log.info("old timers deleted", extra={"timers": removed})

    async def _next_delay(self) -> float:
        """Seconds until the next due item this instance knows of, at most one poll."""
        poll = self.options.poll_seconds
        async with self.engine.connect() as conn:
            due = await store.next_due(conn)
        if due is None:
            return poll
        # A little past the due time: the loop's timer may fire a hair early.
        return max(0.0, min(poll, (due - self.clock()).total_seconds() + 0.005))

    async def run(self) -> None:
        """Sweep until cancelled; a failing database costs a logged error and a pause."""
        while True:
            self._wake.clear()  # a wake() during the sweep below is kept for the wait
            try:
                await self.sweep()
                delay = await self._next_delay()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer sweep failed")
                delay = _FAILURE_BACKOFF_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)


def _poll(options: TimerOptions) -> timedelta:
    return timedelta(seconds=max(options.poll_seconds, 1.0))
