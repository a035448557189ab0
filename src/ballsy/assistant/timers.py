"""Timers, alarms and reminders of signed-in users: set, listed, cancelled.

Three doors reach them: spoken or typed commands (the router's `TimerRequest`, see
`commands/timers.py`, carried out by `Timers.carry_out`), the AI's tools
(`assistant/timer_tools.py`) and the page's REST routes (`api/routes/timers.py`). They
are rows of the `timers` table (`db/timers.py`), so they survive restarts, deploys and
scale to zero, and any instance can fire them; `assistant/due.py` does the firing.

Tokenless callers (no session token) are told that timers need a session: a timer must
ring on every page of its owner, which only a stored user has.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ballsy.assistant.identity import Identity, parse_zone
from ballsy.commands.base import LocalReply
from ballsy.commands.timers import (
    CancelItems,
    ItemView,
    Kind,
    ListItems,
    SetItem,
    TimeLeft,
    TimerRequest,
    cancel_reply,
    list_reply,
    select,
    set_reply,
    time_left_reply,
    which_reply,
)
from ballsy.db import timers as store
from ballsy.db.errors import database_error

NEEDS_SESSION = (
    "Timers, alarms and reminders are kept for signed-in users, so that they ring on every "
    "page you have open. Open Ballsy's page (it signs you in by itself), or send a session "
    "token."
)


@dataclass(frozen=True, slots=True)
class TimerOptions:
    """What the timers need from the settings (built in wiring.py)."""

    # How often the scheduler looks for items other instances set (and pages here
    # should hear about); it also wakes at the next due time it knows of.
    poll_seconds: float = 0.5
    max_pending_per_user: int = 100
    # Items one sweep claims or delivers at most (the next sweep takes the rest).
    batch: int = 200
    # Fired items are kept this long after a page showed them, then deleted...
    keep_delivered: timedelta = timedelta(days=1)
    # ...and this long when no page ever did (announced on the next connection until then).
    keep_undelivered: timedelta = timedelta(days=30)
    # Shown this long after it was due, an item is announced as missed ("while you were away").
    late_after: timedelta = timedelta(seconds=60)


class TooManyTimers(Exception):
    """The user has `max_pending_per_user` items waiting already."""


def view(item: store.StoredTimer) -> ItemView:
    kind: Kind = item.kind if item.kind in ("timer", "alarm", "reminder") else "reminder"  # type: ignore[assignment]
    return ItemView(
        id=item.id, kind=kind, due_at=item.due_at, label=item.label, seconds=item.seconds
    )


def zone_of(item: store.StoredTimer) -> ZoneInfo:
    return parse_zone(item.timezone) or ZoneInfo("UTC")


class Timers:
    def __init__(
        self,
        engine: AsyncEngine,
        options: TimerOptions | None = None,
        *,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.options = options or TimerOptions()
        # Called after an item is added, so the scheduler can wake at its due time.
        self.on_change = on_change

    # --- the command family -------------------------------------------------------------

    async def carry_out(
        self, identity: Identity, request: TimerRequest, now: datetime
    ) -> LocalReply:
        """Do what a timer command asked and say what was done."""
        family = request.family
        if identity.user_id is None:
            return LocalReply(text=NEEDS_SESSION, family=family)
        user_id, zone, intent = identity.user_id, request.zone, request.intent
        match intent:
            case SetItem():
                try:
                    stored = await self.add(user_id, intent, zone=zone, now=now)
                except TooManyTimers:
                    return LocalReply(text=self._full_reply(), family=family)
                return LocalReply(
                    text=set_reply(intent, now, zone),
                    family=family,
                    action="timer_set",
                    data={
                        "id": stored.id,
                        "kind": stored.kind,
                        "due_at": stored.due_at.isoformat(),
                    },
                )
            case ListItems(kind=kind):
                items = [view(i) for i in await self.pending(user_id)]
                return LocalReply(text=list_reply(items, kind, now, zone), family=family)
            case TimeLeft(label=label):
                items = [view(i) for i in await self.pending(user_id)]
                return LocalReply(text=time_left_reply(items, label, now, zone), family=family)
            case CancelItems():
                text, cancelled = await self.cancel_matching(user_id, intent, now=now, zone=zone)
                data = {"ids": [i.id for i in cancelled]} if cancelled else None
                return LocalReply(
                    text=text,
                    family=family,
                    action="timer_cancelled" if cancelled else None,
                    data=data,
                )
        raise AssertionError(f"unknown timer intent {intent!r}")  # pragma: no cover

    def _full_reply(self) -> str:
        return (
            f"You already have {self.options.max_pending_per_user} timers, alarms and "
            "reminders waiting; cancel some first."
        )

    # --- storage ------------------------------------------------------------------------

    async def add(
        self, user_id: int, item: SetItem, *, zone: ZoneInfo, now: datetime
    ) -> store.StoredTimer:
        async with self.transaction() as conn:
            if await store.count_pending(conn, user_id) >= self.options.max_pending_per_user:
                raise TooManyTimers
            stored = await store.add(
                conn,
                user_id=user_id,
                kind=item.kind,
                due_at=item.due_at,
                label=item.label,
                seconds=item.seconds,
                timezone=zone.key,
                now=now,
            )
        if self.on_change is not None:
            self.on_change()
        return stored

    async def pending(self, user_id: int) -> list[store.StoredTimer]:
        async with self.transaction() as conn:
            return await store.pending(conn, user_id, limit=self.options.max_pending_per_user)

    async def cancel(self, user_id: int, ids: Collection[int]) -> list[store.StoredTimer]:
        """Delete the user's own items among `ids`; returns those deleted."""
        async with self.transaction() as conn:
            return await store.delete_owned(conn, user_id, ids)

    async def cancel_matching(
        self, user_id: int, intent: CancelItems, *, now: datetime, zone: ZoneInfo
    ) -> tuple[str, list[ItemView]]:
        """Cancel what "cancel the pasta timer" names; with several candidates and no
        "all", ask which (nothing is cancelled)."""
        items = [view(i) for i in await self.pending(user_id)]
        candidates = select(items, intent.kind, intent.label, zone)
        if len(candidates) > 1 and not intent.everything and intent.label is None:
            return which_reply(candidates, now, zone), []
        deleted = {i.id for i in await self.cancel(user_id, [c.id for c in candidates])}
        cancelled = [c for c in candidates if c.id in deleted]
        return cancel_reply(cancelled, intent, now, zone), cancelled

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One transaction; database failures surface as client errors (db/errors.py)."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except Exception as exc:
            known = database_error(exc)
            if known is None:
                raise
            raise known from exc
