"""Starting a worker pool once, however many callers are waiting for it.

Warm-up and the first requests may all ask for the workers at the same time: they share
one start, run in a thread (starting waits on pipes). A failed start is not kept: the
next caller tries again and reports why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ballsy.errors import ProviderUnavailable


class SharedStart:
    """One start of a pool's workers at a time, awaited by everyone who needs them."""

    def __init__(self, task_name: str) -> None:
        self._task_name = task_name
        self._task: asyncio.Task[None] | None = None

    async def wait(self, start_all: Callable[[], None]) -> None:
        """Run `start_all` in a thread unless a start is under way or done; wait for it."""
        if self._task is None:
            self._task = asyncio.create_task(asyncio.to_thread(start_all), name=self._task_name)
        task = self._task
        try:
            # Shielded: a caller that gives up must not cancel the start others wait for.
            await asyncio.shield(task)
        except ProviderUnavailable:
            if self._task is task:
                self._task = None
            raise

    async def forget(self) -> None:
        """After the pool is closed: let a start under way finish, and start afresh next time."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
