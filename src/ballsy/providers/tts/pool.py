"""A small pool of speech-synthesis worker processes (`worker.py`).

Piper runs native code (espeak-ng, ONNX Runtime) on text a caller chose, and is GPL:
both are reasons to keep it out of the server process. Each worker loads the voice
once and keeps it warm; each job has a wall-clock deadline enforced from this side and
a memory ceiling the worker set on itself. A worker that dies or overruns is killed
and replaced at once; only its job fails (`TtsUnavailable`). The process plumbing is
shared with speech recognition (`providers/isolation/process.py`).

Calls here block (they wait on pipes): `piper.py` runs them in this pool's own threads,
one per worker, holding one of its slots, so the event loop never waits.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ballsy.errors import ProviderUnavailable, TtsUnavailable
from ballsy.providers.isolation.process import (
    ProcessWorker,
    WorkerDied,
    WorkerOverran,
    stop_all,
)
from ballsy.providers.tts.base import Speech
from ballsy.providers.tts.worker import SynthesisSpec, serve

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 120.0
# 16-bit PCM at 22 kHz is 44 kB a second; no reply is allowed past ten minutes of it.
MAX_AUDIO_BYTES = 600 * 48_000 * 2


class _Worker(ProcessWorker):
    def __init__(self, context: Any, spec: SynthesisSpec) -> None:
        super().__init__(context, serve, (spec,), name="ballsy-tts")
        self.sample_rate = 0
        self.failure: str | None = None
        self._ready_lock = threading.Lock()

    def wait_ready(self) -> None:
        with self._ready_lock:
            if self.sample_rate:
                return
            if self.failure is None:
                self.failure = self._await_ready()
            if self.failure is not None:
                raise ProviderUnavailable(self.failure)

    def _await_ready(self) -> str | None:
        try:
            reply = self.receive(self.started + START_TIMEOUT_SECONDS)
        except WorkerDied as died:
            return f"The voice could not be loaded: its worker {died.describe()} while starting."
        except WorkerOverran:
            return f"The voice did not load within {START_TIMEOUT_SECONDS:g} s."
        if reply.get("kind") == "ready" and isinstance(reply.get("sample_rate"), int):
            self.sample_rate = int(reply["sample_rate"])
            return None
        return f"The voice could not be loaded: {str(reply.get('message', 'unknown'))[:500]}."


class SynthesisPool:
    """`size` workers, one job each at a time; the caller's slots keep one free."""

    def __init__(self, spec: SynthesisSpec, *, size: int, job_timeout_seconds: float) -> None:
        self.spec = spec
        self.size = size
        self.job_timeout_seconds = job_timeout_seconds
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._idle: list[_Worker | None] = [None] * size
        self._busy: set[_Worker] = set()
        self._closed = False
        self.replaced = 0
        self.executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="tts-pool")

    @property
    def ready(self) -> bool:
        with self._lock:
            workers = [w for w in self._idle if w is not None] + list(self._busy)
        return any(w.sample_rate for w in workers)

    def pids(self) -> list[int]:
        with self._lock:
            workers = [w for w in self._idle if w is not None] + list(self._busy)
        return [w.pid for w in workers if w.pid is not None and w.process.is_alive()]

    def start_all(self) -> None:
        """Start every worker and wait until each has its voice loaded."""
        with self._lock:
            if self._closed:
                raise TtsUnavailable("Speech synthesis is shutting down.")
            for index, worker in enumerate(self._idle):
                if worker is None:
                    self._idle[index] = _Worker(self._context, self.spec)
            starting = [w for w in self._idle if w is not None]
        for worker in starting:
            try:
                worker.wait_ready()
            except ProviderUnavailable:
                worker.stop()
                with self._lock:
                    if worker in self._idle:
                        self._idle[self._idle.index(worker)] = None
                raise

    def close(self) -> None:
        """Stop every worker: idle ones politely (they exit between jobs), busy ones at once."""
        with self._lock:
            self._closed = True
            idle = [w for w in self._idle if w is not None]
            busy = list(self._busy)
            self._idle = [None] * self.size
        stop_all(idle, busy)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def run(self, text: str, length_scale: float, fmt: str) -> Speech:
        """Synthesise on a free worker; `TtsUnavailable` when the worker fails."""
        worker = self._checkout()
        successor: _Worker | None = worker
        try:
            worker.wait_ready()
            return self._exchange(worker, text, length_scale, fmt)
        except ProviderUnavailable:
            worker.stop()
            successor = None  # started again by the next request
            raise
        except (WorkerDied, WorkerOverran, _Misbehaved) as exc:
            successor = self._replace(worker, exc)
            if isinstance(exc, WorkerOverran):
                raise TtsUnavailable(
                    f"Synthesis took longer than {self.job_timeout_seconds:g} s "
                    "(TTS_JOB_TIMEOUT_SECONDS); try shorter text."
                ) from None
            raise TtsUnavailable("The voice worker failed; try again in a moment.") from None
        finally:
            self._checkin(worker, successor)

    def _exchange(self, worker: _Worker, text: str, length_scale: float, fmt: str) -> Speech:
        deadline = time.monotonic() + self.job_timeout_seconds
        worker.send((text, length_scale, fmt))
        reply = worker.receive(deadline)
        if reply.get("kind") == "error":
            raise TtsUnavailable(str(reply.get("message", "Synthesis failed."))[:500])
        size = reply.get("bytes")
        if reply.get("kind") != "audio" or not isinstance(size, int) or size > MAX_AUDIO_BYTES:
            raise _Misbehaved(f"sent an unexpected reply {str(reply)[:200]}")
        audio = worker.receive_bytes(deadline, MAX_AUDIO_BYTES)
        if len(audio) != size:
            raise _Misbehaved("sent audio of the wrong length")
        return Speech(
            audio=audio,
            sample_rate=worker.sample_rate,
            format=fmt,
            processing_seconds=float(reply.get("processing_seconds", 0.0)),
        )

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise TtsUnavailable("Speech synthesis is shutting down.")
            if not self._idle:  # the caller's slots make this unreachable; fail loudly
                raise TtsUnavailable("No voice worker is free; try again in a moment.")
            started = [i for i, w in enumerate(self._idle) if w is not None]
            entry = self._idle.pop(started[0] if started else 0)
            if entry is not None and not entry.process.is_alive():
                entry.stop()
                self.replaced += 1
                log.warning("voice worker replaced", extra={"why": "died while idle"})
                entry = None
            worker = entry if entry is not None else _Worker(self._context, self.spec)
            self._busy.add(worker)
            return worker

    def _checkin(self, worker: _Worker, successor: _Worker | None) -> None:
        with self._lock:
            self._busy.discard(worker)
            if self._closed:
                if successor is not None:
                    successor.stop()
                return
            self._idle.append(successor)

    def _replace(self, worker: _Worker, why: Exception) -> _Worker | None:
        exitcode = worker.stop()
        self.replaced += 1
        reason = why.describe() if isinstance(why, WorkerDied) else type(why).__name__
        log.warning(
            "voice worker replaced", extra={"pid": worker.pid, "why": reason, "exitcode": exitcode}
        )
        with self._lock:
            if self._closed:
                return None
        return _Worker(self._context, self.spec)


class _Misbehaved(Exception):
    pass
