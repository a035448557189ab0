"""Wake word detection for hands-free pages, in an isolated worker process.

Off by default (WAKE_WORD=off). With a model chosen, each socket in hands-free mode
takes a `WakeListener` and feeds it the 16 kHz mono PCM16 it streams while Ballsy waits
to be called; `feed` answers True when the wake word was said:

    listener = services.wake.listener()     # Busy when WAKE_MAX_STREAMS are listening
    if await listener.feed(pcm):            # any chunk size up to MAX_FEED_BYTES
        await send(ws_protocol.wake(listener.word))   # then start an utterance
    await listener.aclose()                 # hands-free off, or the socket closed

Only a page in hands-free mode may open a listener: outside it the microphone is not
streaming, and a wake word must never open it.

All streams share one worker process (the models are tiny: about 0.01 s of CPU per
second of audio each). Feeds from every listener are gathered into one batch per round
trip, so a hundred listeners cost one pipe exchange at a time, not a hundred; the
batch runs in this service's one thread, never on the event loop. A worker that
crashes, hangs past `batch_timeout_seconds` or dies is killed and replaced: the batch
reports no detection, the streams start afresh, and the server serves on. The
process machinery is the speech workers' (`providers/stt/pool.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ballsy.errors import BadRequest, Busy, FeatureUnavailable, ProviderUnavailable
from ballsy.providers.isolation.process import WorkerDied, WorkerOverran
from ballsy.providers.stt.pool import WorkerProcess
from ballsy.providers.wake.catalogue import WAKE_MODELS, package_dir
from ballsy.providers.wake.worker import WakeWorkerSpec, serve

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'ballsy[wake]'"
# Two seconds of 16 kHz PCM16: far more than a page sends at once (20-100 ms).
MAX_FEED_BYTES = 64_000
# After a worker fails to start, wait this long before trying again (feeds keep coming).
_RETRY_START_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class WakeOptions:
    """The wake word's settings (built from Settings in wiring.py)."""

    model: str
    max_streams: int = 64
    batch_timeout_seconds: float = 10.0
    worker_memory_mb: int = 512


class _WakeProcess(WorkerProcess):
    process_name = "ballsy-wake"
    entry = staticmethod(serve)

    def describe_load(self) -> tuple[str, str]:
        return f"The wake word model {self.spec.model!r}", "cpu (TensorFlow Lite)"


@dataclass
class _Feed:
    stream_id: int
    pcm: bytes
    done: asyncio.Future[bool]


class WakeWordService:
    """The wake word worker and the listeners feeding it (one per hands-free socket)."""

    def __init__(self, options: WakeOptions) -> None:
        if options.model not in WAKE_MODELS:
            known = ", ".join(WAKE_MODELS)
            raise BadRequest(f"WAKE_WORD={options.model!r} is not a wake word model ({known}).")
        if package_dir() is None:
            raise FeatureUnavailable(
                f"The wake word needs pymicro-wakeword; install it with: {INSTALL_HINT}"
            )
        self.options = options
        self.model = WAKE_MODELS[options.model]
        memory = options.worker_memory_mb * 1024 * 1024 if options.worker_memory_mb else None
        self._spec = WakeWorkerSpec(options.model, options.max_streams, memory)
        self._context = multiprocessing.get_context("spawn")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wake")
        self._worker: _WakeProcess | None = None
        self._start_failed_at: float | None = None
        self._start_failure: str = ""
        self._pending: list[_Feed] = []
        self._in_flight: list[_Feed] = []
        self._closing: list[int] = []
        self._kick = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._open: set[int] = set()
        self._closed = False
        self.replaced = 0

    @property
    def word(self) -> str:
        """The wake phrase, as the page shows it ("Okay Nabu")."""
        return self.model.phrase

    @property
    def listeners(self) -> int:
        return len(self._open)

    def pid(self) -> int | None:
        """The worker's process id (None before it starts)."""
        worker = self._worker
        return worker.pid if worker is not None and worker.process.is_alive() else None

    # --- listeners -----------------------------------------------------------------
    def listener(self) -> WakeListener:
        """A detector for one hands-free stream; `Busy` when the limit is reached."""
        if self._closed:
            raise Busy("The wake word is shutting down.", retry_after=5.0)
        if len(self._open) >= self.options.max_streams:
            raise Busy(
                f"Wake word detection is busy ({self.options.max_streams} hands-free "
                "listeners, WAKE_MAX_STREAMS); use the orb to talk.",
                retry_after=30.0,
            )
        stream_id = next(self._ids)
        self._open.add(stream_id)
        return WakeListener(self, stream_id)

    async def _feed(self, stream_id: int, pcm: bytes) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(_Feed(stream_id, pcm, future))
        self._ensure_sender()
        self._kick.set()
        return await future

    def _renew(self, stream_id: int) -> int:
        """A fresh stream in place of `stream_id` (whose state the worker drops)."""
        self._forget(stream_id)
        renewed = next(self._ids)
        self._open.add(renewed)
        return renewed

    def _forget(self, stream_id: int) -> None:
        if stream_id in self._open:
            self._open.discard(stream_id)
            self._closing.append(stream_id)
            self._kick.set()

    # --- lifecycle -----------------------------------------------------------------
    async def warm_up(self) -> None:
        """Start the worker ahead of the first listener; failures are logged, retried later."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._started)
        except ProviderUnavailable as exc:
            log.error("wake word unavailable: %s", exc.message)

    async def aclose(self) -> None:
        self._closed = True
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        for feed in [*self._in_flight, *self._pending]:  # nobody is left waiting
            if not feed.done.done():
                feed.done.set_result(False)
        self._pending.clear()
        # In a thread of its own: the service's thread may be waiting on a hung worker,
        # which this kill releases.
        await asyncio.to_thread(self._stop_worker)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- the batching loop (event loop side) -----------------------------------------
    def _ensure_sender(self) -> None:
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_batches(), name="wake-batches")

    async def _send_batches(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._kick.wait()
            self._kick.clear()
            feeds, self._pending = self._pending, []
            self._in_flight = feeds
            closing, self._closing = self._closing, []
            if not feeds and not closing:
                continue
            operations: list[tuple[Any, ...]] = [("close", stream_id) for stream_id in closing]
            operations += [("feed", feed.stream_id, feed.pcm) for feed in feeds]
            try:
                detected = await loop.run_in_executor(self._executor, self._exchange, operations)
                error: BaseException | None = None
            except ProviderUnavailable as exc:
                detected, error = set(), exc
            except Exception as exc:  # a bug here must not leave every listener waiting
                log.exception("wake word batch failed")
                detected, error = set(), exc
            for feed in feeds:
                if feed.done.done():
                    continue  # its caller gave up (socket closed)
                if error is not None:
                    feed.done.set_exception(error)
                else:
                    feed.done.set_result(feed.stream_id in detected)

    # --- the worker (blocking: runs in this service's thread) ------------------------
    def _started(self) -> _WakeProcess:
        if self._worker is not None:
            return self._worker
        if self._closed:
            raise ProviderUnavailable("The wake word is shutting down.")
        failed_at = self._start_failed_at
        if failed_at is not None and time.monotonic() - failed_at < _RETRY_START_SECONDS:
            raise ProviderUnavailable(self._start_failure)
        worker = _WakeProcess(self._context, self._spec)
        try:
            worker.wait_ready()
        except ProviderUnavailable as exc:
            worker.stop()
            self._start_failed_at, self._start_failure = time.monotonic(), exc.message
            raise
        self._start_failed_at = None
        self._worker = worker
        return worker

    def _exchange(self, operations: list[tuple[Any, ...]]) -> set[int]:
        worker = self._started()
        deadline = time.monotonic() + self.options.batch_timeout_seconds
        try:
            worker.send(operations)
            reply = worker.receive(deadline)
        except WorkerDied as died:
            self._replace(f"{died.describe()} during a batch")
            return set()
        except WorkerOverran:
            self._replace(f"overran {self.options.batch_timeout_seconds:g} s on a batch")
            return set()
        if reply.get("kind") != "fed":
            self._replace(f"sent an unexpected {reply.get('kind')!r} reply")
            return set()
        refused = reply.get("refused") or []
        if refused:
            log.warning("wake word worker refused streams", extra={"streams": len(refused)})
        return {int(stream_id) for stream_id in reply.get("detected") or []}

    def _replace(self, why: str) -> None:
        """Drop the worker; the next batch starts a new one (every stream starts afresh)."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        exitcode = worker.stop()
        self.replaced += 1
        log.warning(
            "wake word worker replaced",
            extra={"pid": worker.pid, "why": why, "exitcode": exitcode},
        )

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.ask_to_stop()
            worker.process.join(2.0)
            worker.stop()


class WakeListener:
    """One hands-free stream's wake word detector (see the module docstring)."""

    def __init__(self, service: WakeWordService, stream_id: int) -> None:
        self._service = service
        self._stream_id = stream_id
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def word(self) -> str:
        return self._service.word

    async def feed(self, pcm: bytes) -> bool:
        """True when the wake word was said in the audio fed so far (ending in `pcm`).

        `pcm` is 16 kHz mono signed 16-bit little-endian, any length up to
        MAX_FEED_BYTES (`BadRequest` beyond). After a detection the detector starts
        afresh, so one utterance wakes it once. Raises `ProviderUnavailable` when the
        model cannot be loaded.
        """
        if self._closed:
            raise BadRequest("This wake word listener is closed.")
        if len(pcm) > MAX_FEED_BYTES:
            raise BadRequest(
                f"Audio chunks for the wake word are at most {MAX_FEED_BYTES} bytes "
                "(2 s of 16 kHz PCM16)."
            )
        if not pcm:
            return False
        async with self._lock:  # one chunk at a time per stream, in order
            return await self._service._feed(self._stream_id, pcm)

    async def reset(self) -> None:
        """Forget the audio heard so far (say, after the command that followed the wake)."""
        async with self._lock:
            self._stream_id = self._service._renew(self._stream_id)

    async def aclose(self) -> None:
        """Stop listening: the stream's detector is freed in the worker."""
        if not self._closed:
            self._closed = True
            self._service._forget(self._stream_id)
