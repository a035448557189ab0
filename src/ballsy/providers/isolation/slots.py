"""Bounded concurrency for blocking work run from the event loop (speech in and out).

At most `size` jobs run at once; at most `max_queue` callers wait for a slot, each at
most `queue_timeout_seconds`; anyone else gets `Busy` at once, so an overloaded server
answers quickly instead of piling up work. The event loop only ever awaits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from ballsy.errors import Busy

T = TypeVar("T")


class Slots:
    def __init__(
        self,
        size: int,
        *,
        max_queue: int,
        queue_timeout_seconds: float,
        busy: Callable[[str], Busy],
    ) -> None:
        self.size = size
        self.max_queue = max_queue
        self.queue_timeout_seconds = queue_timeout_seconds
        self._busy = busy
        self._semaphore = asyncio.Semaphore(size)
        self.waiting = 0
        self.running = 0

    def locked(self) -> bool:
        """Every slot is taken: the next caller waits (or gets `Busy`)."""
        return self._semaphore.locked()

    async def run(
        self, work: Callable[[], T], cancel: Callable[[], None], executor: Executor | None
    ) -> T:
        """Run `work` in a thread while holding a slot; the slot frees when the thread ends.

        A cancelled caller (client gone, barge-in) stops waiting at once and asks the
        work to stop early (`cancel`), but the slot stays taken until the work really
        finishes, so the concurrency limit holds even then.
        """
        await self._acquire()
        try:
            future = asyncio.get_running_loop().run_in_executor(executor, work)
        except BaseException:
            self._release(None)
            raise
        self.running += 1
        future.add_done_callback(self._release)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel()
            raise

    def _release(self, future: asyncio.Future[Any] | None) -> None:
        self._semaphore.release()
        if future is None:
            return
        self.running -= 1
        if not future.cancelled():
            future.exception()  # retrieved here so an abandoned failure is not reported twice

    async def _acquire(self) -> None:
        if not self._semaphore.locked():
            await self._semaphore.acquire()
            return
        if self.waiting >= self.max_queue:
            raise self._busy("the queue is full")
        self.waiting += 1
        try:
            async with asyncio.timeout(self.queue_timeout_seconds):
                await self._semaphore.acquire()
        except TimeoutError:
            raise self._busy(f"no slot freed within {self.queue_timeout_seconds:g} s") from None
        finally:
            self.waiting -= 1
