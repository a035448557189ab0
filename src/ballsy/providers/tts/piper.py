"""Ballsy's own voice: Piper behind the `TextToSpeech` interface.

Synthesis runs in worker processes (`pool.py`), at most `max_concurrency` at once per
instance; a caller waits at most `queue_timeout_seconds` for a worker (with at most
`max_queue` waiting) and is otherwise refused with `Busy`, which the WebSocket door
turns into "speak this with the browser's voice". The event loop only ever awaits.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from functools import partial

from ballsy.errors import BadRequest, Busy
from ballsy.providers.isolation.slots import Slots
from ballsy.providers.isolation.startup import SharedStart
from ballsy.providers.tts.base import PCM_FORMAT, Speech, TextToSpeech
from ballsy.providers.tts.options import SynthesisOptions
from ballsy.providers.tts.pool import SynthesisPool
from ballsy.providers.tts.worker import WORKER_FORMATS, SynthesisSpec

log = logging.getLogger(__name__)

MIN_SPEED, MAX_SPEED = 0.25, 4.0


class PiperTextToSpeech(TextToSpeech):
    name = "piper"

    def __init__(self, options: SynthesisOptions) -> None:
        self.options = options
        self.voice = options.voice
        self.title = options.title
        self.sample_rate = options.sample_rate
        self._pool = self._new_pool()
        self._slots = Slots(
            options.max_concurrency,
            max_queue=options.max_queue,
            queue_timeout_seconds=options.queue_timeout_seconds,
            busy=self._busy,
        )
        self._start = SharedStart("tts-workers-start")

    def _new_pool(self) -> SynthesisPool:
        cap = self.options.worker_memory_mb
        spec = SynthesisSpec(
            model_path=self.options.model_path,
            config_path=self.options.config_path,
            memory_bytes=cap * 1024 * 1024 if cap else None,
            warm=self.options.preload,
        )
        return SynthesisPool(
            spec,
            size=self.options.max_concurrency,
            job_timeout_seconds=self.options.job_timeout_seconds,
        )

    @property
    def pool(self) -> SynthesisPool:
        return self._pool

    @property
    def ready(self) -> bool:
        return self._pool.ready

    @property
    def running(self) -> int:
        """Syntheses running now (for tests and metrics)."""
        return self._slots.running

    async def warm_up(self) -> None:
        try:
            await self._started()
        except Exception:
            log.exception("voice warm-up failed")

    async def _started(self) -> None:
        await self._start.wait(self._pool.start_all)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._pool.close)
        self._pool = self._new_pool()  # a lifespan that runs again starts afresh
        await self._start.forget()

    async def synthesize(self, text: str, *, speed: float = 1.0, fmt: str = PCM_FORMAT) -> Speech:
        text = text.strip()
        if not text:
            raise BadRequest("There is no text to speak.")
        if len(text) > self.options.max_chars:
            raise BadRequest(
                f"The text is too long to speak ({len(text)} characters; "
                f"the limit is {self.options.max_chars})."
            )
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise BadRequest(f"speed must be between {MIN_SPEED} and {MAX_SPEED}.")
        if fmt not in WORKER_FORMATS:
            raise BadRequest(f"Unknown audio format {fmt!r}.")
        await self._started()
        pool = self._pool
        # A job cannot be stopped midway (Piper has no cancel); a cancelled caller
        # stops waiting and the sentence, a second or two of work, runs out.
        work = partial(pool.run, text, 1.0 / speed, fmt)
        return await self._slots.run(work, threading.Event().set, pool.executor)

    def _busy(self, why: str) -> Busy:
        return Busy(
            f"Ballsy's voice is busy ({why}; {self.options.max_concurrency} at a time); "
            "try again in a moment.",
            retry_after=max(1.0, self.options.queue_timeout_seconds),
        )
