"""Models an instance loads before it reports ready.

On Cloud Run an instance gets traffic once its startup probe (`/ready`) passes, and with
request-based billing it has no CPU between requests: a model loaded lazily, or in the
background after `/ready` said yes, is paid for by the first user who speaks. So the app
starts each load here at start-up, and `/ready` answers 503 while any is still loading (the
startup probe allows 240 s; infra/cloud_run.tf).

A load that fails does not hold readiness forever: the instance still serves everything
else, the failure is logged and reported by `/ready` (`"failed"`), and the next request that
needs the model tries again and tells its caller why it cannot.

Each capability registers its own load (app.py's lifespan): the speech model today, and the
synthesis voice in the same way (`warmups.start("voice", load_voice)`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

log = logging.getLogger("ballsy.warmup")

LoadState = Literal["loading", "ok", "failed"]


class WarmUps:
    """Named background loads, and whether each has finished."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[bool]] = {}

    def start(self, name: str, load: Callable[[], Awaitable[bool]]) -> None:
        """Begin `load` in the background; it returns whether the model is usable."""
        if name in self._tasks:
            raise ValueError(f"warm-up {name!r} is already registered")
        self._tasks[name] = asyncio.create_task(self._run(name, load), name=f"warm-up-{name}")

    @staticmethod
    async def _run(name: str, load: Callable[[], Awaitable[bool]]) -> bool:
        try:
            usable = await load()
        except Exception:
            log.exception("model warm-up failed; it will load on first use", extra={"model": name})
            return False
        if not usable:
            log.error("model warm-up failed; it will load on first use", extra={"model": name})
        return usable

    def states(self) -> dict[str, LoadState]:
        """name -> "loading", "ok" or "failed"."""
        return {name: _state(task) for name, task in self._tasks.items()}

    @property
    def loading(self) -> bool:
        return any(not task.done() for task in self._tasks.values())

    async def aclose(self) -> None:
        """Stop loads still running (shutdown during start-up) and forget them all, so a
        later start (an app's lifespan entered again, as in tests) registers afresh."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _state(task: asyncio.Task[bool]) -> LoadState:
    if not task.done():
        return "loading"
    if task.cancelled() or task.exception() is not None or not task.result():
        return "failed"
    return "ok"
