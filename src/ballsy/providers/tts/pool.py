"""A small pool of speech-synthesis worker processes (`worker.py`).

Piper runs native code (espeak-ng, ONNX Runtime) on text a caller chose, and is GPL:
both are reasons to keep it out of the server process. Each worker loads the voice
once and keeps it warm; each job has a wall-clock deadline enforced from this side and
a memory ceiling the worker set on itself. A worker that dies or overruns is killed
and replaced at once; only its job fails (`TtsUnavailable`). The process plumbing is
shared with speech recognition (`providers/isolation/`).

Calls here block (they wait on pipes): `piper.py` runs them in this pool's own threads,
one per worker, holding one of its slots, so the event loop never waits.
"""

from __future__ import annotations

import time
from typing import Any

from ballsy.errors import TtsUnavailable
from ballsy.providers.isolation.pool import IsolatedWorkerPool, LoadingWorker, ReplaceWorker
from ballsy.providers.isolation.process import WorkerDied, WorkerOverran
from ballsy.providers.tts.base import Speech
from ballsy.providers.tts.worker import SynthesisSpec, serve

START_TIMEOUT_SECONDS = 120.0
# 16-bit PCM at 22 kHz is 44 kB a second; no reply is allowed past ten minutes of it.
MAX_AUDIO_BYTES = 600 * 48_000 * 2


class _Worker(LoadingWorker):
    def __init__(self, context: Any, spec: SynthesisSpec) -> None:
        super().__init__(context, serve, (spec,), name="ballsy-tts")
        self.sample_rate = 0

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


class SynthesisPool(IsolatedWorkerPool[_Worker]):
    """`size` workers, one job each at a time; the caller's slots keep one free.

    The checkout, replacement and shutdown bookkeeping is `providers/isolation/pool.py`.
    """

    worker_noun = "voice worker"
    unavailable = TtsUnavailable
    shutting_down_message = "Speech synthesis is shutting down."

    def __init__(self, spec: SynthesisSpec, *, size: int, job_timeout_seconds: float) -> None:
        self.spec = spec
        super().__init__(
            size=size, job_timeout_seconds=job_timeout_seconds, thread_name_prefix="tts-pool"
        )

    def _new_worker(self) -> _Worker:
        return _Worker(self._context, self.spec)

    def run(self, text: str, length_scale: float, fmt: str) -> Speech:
        """Synthesise on a free worker; `TtsUnavailable` when the worker fails."""
        return self.run_on_worker(lambda worker: self._run_job(worker, text, length_scale, fmt))

    def _run_job(self, worker: _Worker, text: str, length_scale: float, fmt: str) -> Speech:
        try:
            return self._exchange(worker, text, length_scale, fmt)
        except (WorkerDied, WorkerOverran, _Misbehaved) as exc:
            why = exc.describe() if isinstance(exc, WorkerDied) else type(exc).__name__
            if isinstance(exc, WorkerOverran):
                error = TtsUnavailable(
                    f"Synthesis took longer than {self.job_timeout_seconds:g} s "
                    "(TTS_JOB_TIMEOUT_SECONDS); try shorter text."
                )
            else:
                error = TtsUnavailable("The voice worker failed; try again in a moment.")
            raise ReplaceWorker(why, error) from None

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


class _Misbehaved(Exception):
    pass
