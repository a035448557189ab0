"""Timers reaching pages: the scheduler's `Listeners`, over the WebSocket hub.

A page (a socket signed in with hello) gets a fired item once: when it was open as the
item fired (on this instance or another: the scheduler's sweep finds items fired
elsewhere), or, for an item no page has shown, as soon as it is seen. Right after hello a
page is told what fell due while none of its user's pages was open (`signed_in`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime
from weakref import WeakKeyDictionary

from ballsy.api import ws_protocol as proto
from ballsy.api.ws import SocketHub, VoiceSocket
from ballsy.assistant.due import DueItem, DueScheduler
from ballsy.db.models import utcnow

log = logging.getLogger("ballsy.timers")

# Item ids a page remembers having shown (a sweep may find an item several times).
_SEEN_PER_PAGE = 256


class _Page:
    def __init__(self, since: datetime) -> None:
        self.since = since  # when the page signed in
        self.seen: deque[int] = deque(maxlen=_SEEN_PER_PAGE)

    def first_time(self, item_id: int) -> bool:
        if item_id in self.seen:
            return False
        self.seen.append(item_id)
        return True


class PageDelivery:
    def __init__(self, hub: SocketHub, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.hub = hub
        self.clock = clock
        self.scheduler: DueScheduler | None = None  # set once the scheduler is built
        self._pages: WeakKeyDictionary[VoiceSocket, _Page] = WeakKeyDictionary()
        hub.on_sign_in = self.signed_in

    def user_ids(self) -> set[int]:
        return {
            s.identity.user_id
            for s in list(self.hub.sockets)
            if s.identity.user_id is not None and s in self._pages
        }

    async def deliver(self, due: DueItem) -> int:
        item = due.item
        targets: list[VoiceSocket] = []
        for socket in self.hub.of_user(item.user_id):
            page = self._pages.get(socket)
            if page is None:
                continue
            # Shown elsewhere before this page opened: old news for this page.
            shown_elsewhere = item.delivered_at is not None
            if shown_elsewhere and item.fired_at is not None and item.fired_at < page.since:
                continue
            if page.first_time(item.id):
                targets.append(socket)
        message = proto.timer_fired(due)
        await asyncio.gather(*(socket.send(message) for socket in targets))
        return len(targets)

    async def signed_in(self, socket: VoiceSocket) -> None:
        """Hello named a user: this is now one of their pages; tell it what it missed."""
        user_id = socket.identity.user_id
        if user_id is None:
            return
        page = _Page(self.clock())
        self._pages[socket] = page
        if self.scheduler is None:
            return
        try:
            missed = await self.scheduler.announce(user_id)
        except Exception:  # the page works without it; the next connection tries again
            log.exception("could not announce missed timers")
            return
        for due in missed:
            if page.first_time(due.item.id):
                await socket.send(proto.timer_fired(due))
