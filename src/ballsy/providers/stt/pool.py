"""A small pool of speech worker processes, so untrusted audio cannot take the server down.

FFmpeg and CTranslate2 are native code: a crafted file once crashed the whole server
(SIGSEGV in the decoder), and a native hang or memory blow-up would be as bad. Here
each job runs in a worker process (`worker.py`) started with the *spawn* method (a
fresh interpreter: forking a threaded server is unsafe). Each worker loads the model
once and keeps it warm; each job has a wall-clock deadline enforced from this side and
a memory ceiling the worker set on itself (RLIMIT_AS). A worker that dies (any signal,
any exit) or overruns is killed and replaced at once; only its job fails:

- it died while *decoding* from a fault signal (SIGSEGV, SIGBUS, SIGABRT...) or an
  exit: the input broke the decoder -> `InvalidAudio` (422 `invalid_audio`);
- decoding overran its deadline -> `InvalidAudio` too (a decoder stuck on the input);
- it died while *recognising*, was killed from outside (SIGKILL, SIGTERM: the OOM
  killer or an operator, not the input) or recognition overran -> `SttUnavailable`
  (503 `stt_unavailable`, retry later);
- a worker that cannot load the model -> `ProviderUnavailable` (503), retried on the
  next request.

Calls here block (they wait on pipes): `whisper.py` runs them in this pool's own
threads, one per worker, so the event loop never waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ballsy.errors import (
    AudioTooLong,
    BallsyError,
    InvalidAudio,
    SttUnavailable,
)
from ballsy.providers.isolation.pool import IsolatedWorkerPool, LoadingWorker, ReplaceWorker
from ballsy.providers.isolation.process import WorkerDied, WorkerOverran
from ballsy.providers.stt.base import Transcript
from ballsy.providers.stt.worker import DECODE_ERROR_CODES, WorkerSpec, serve

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized

# Importing the speech stack and loading the model takes a few seconds on a busy machine.
START_TIMEOUT_SECONDS = 120.0
# The process plumbing (start, replies against a deadline, fault or kill) and the pool's
# bookkeeping are shared with the speech-synthesis pool: providers/isolation/.
_Died = WorkerDied
_Overran = WorkerOverran


class _Worker(LoadingWorker):
    """One model-holding worker: its process, its cancel flag, and which stage it is in.

    Other kinds of isolated worker (the wake word's) subclass it and change only what
    runs in the process (`entry`, `process_name`) and how a failed start is described.
    """

    process_name = "ballsy-stt"
    # The spawned process imports only this function's module (and what it imports).
    entry: Callable[..., None] = staticmethod(serve)

    def __init__(self, context: Any, spec: Any) -> None:
        self.cancel: Synchronized[int] = context.Value("b", 0, lock=False)
        super().__init__(context, self.entry, (spec, self.cancel), name=self.process_name)
        self.spec = spec
        self.stage = "idle"  # then "decoding", "recognising": which side a crash is on

    def describe_load(self) -> tuple[str, str]:
        """What this worker loads, for errors: (its name, where it loads)."""
        options = self.spec.engine
        return (
            f"The speech-to-text model at {options.model_path}",
            f"{options.device} ({options.compute_type})",
        )

    def _await_ready(self) -> str | None:
        model, where = self.describe_load()
        try:
            reply = self.receive(self.started + START_TIMEOUT_SECONDS)
        except _Died as died:
            return f"{model} could not be loaded: its worker {died.describe()} while starting."
        except _Overran:
            return f"{model} did not load within {START_TIMEOUT_SECONDS:g} s."
        if reply.get("kind") == "ready":
            return None
        why = str(reply.get("message", "unknown error"))[:500]
        return f"{model} could not be loaded on {where}: {why}."


@dataclass
class Job:
    """One transcription; `cancel()` (from any thread) asks its worker to stop early."""

    audio: bytes
    content_type: str | None
    _worker: _Worker | None = field(default=None, repr=False)
    _cancelled: bool = False
    # A cancel racing the job's end must not reach the worker's next job.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._worker is not None:
                self._worker.cancel.value = 1

    def attach(self, worker: _Worker) -> None:
        with self._lock:
            self._worker = worker
            worker.cancel.value = 1 if self._cancelled else 0

    def detach(self) -> None:
        with self._lock:
            self._worker = None


class WorkerPool(IsolatedWorkerPool[_Worker]):
    """`size` speech worker processes, each running one job at a time.

    The caller bounds concurrency to `size` (whisper.py's slots), so a free worker is
    always there when `run` is called; a replaced one may still be loading its model.
    The checkout, replacement and shutdown bookkeeping is `providers/isolation/pool.py`.
    """

    worker_noun = "speech worker"
    unavailable = SttUnavailable
    shutting_down_message = "Speech recognition is shutting down."

    def __init__(self, spec: WorkerSpec, *, size: int, job_timeout_seconds: float) -> None:
        self.spec = spec
        super().__init__(
            size=size, job_timeout_seconds=job_timeout_seconds, thread_name_prefix="stt-pool"
        )

    def _new_worker(self) -> _Worker:
        return _Worker(self._context, self.spec)

    def pids_at(self, stage: str) -> list[int]:
        """The process ids of the workers in `stage` ("decoding" or "recognising")."""
        with self._lock:
            return [w.pid for w in self._busy if w.pid is not None and w.stage == stage]

    # --- jobs (blocking: call from `executor`) -----------------------------------------
    def run(self, job: Job) -> Transcript:
        """Run one job on a free worker; raises the coded error the module docstring lists."""
        return self.run_on_worker(lambda worker: self._run_job(worker, job))

    def _run_job(self, worker: _Worker, job: Job) -> Transcript:
        job.attach(worker)
        try:
            return self._exchange(worker, job)
        finally:
            job.detach()
            worker.stage = "idle"

    def _exchange(self, worker: _Worker, job: Job) -> Transcript:
        deadline = time.monotonic() + self.job_timeout_seconds
        decoded = False
        worker.stage = "decoding"
        try:
            worker.send((job.content_type, job.audio))
            while True:
                reply = worker.receive(deadline)
                kind = reply.get("kind")
                if kind == "decoded" and not decoded:
                    decoded = True
                    worker.stage = "recognising"
                elif kind == "done":
                    return _transcript(reply)
                elif kind == "error":
                    error = _job_error(reply, decoded=decoded)
                    if reply.get("exiting"):
                        raise ReplaceWorker(f"gave up after: {error.message}", error)
                    raise error
                else:
                    raise ReplaceWorker(
                        f"sent an unexpected {kind!r} reply",
                        SttUnavailable("The speech worker misbehaved; try again in a moment."),
                    )
        except _Overran:
            stage = "recognising" if decoded else "decoding"
            limit = f"{self.job_timeout_seconds:g} s (STT_JOB_TIMEOUT_SECONDS)"
            error = (
                SttUnavailable(f"Recognition took longer than {limit}; try a shorter recording.")
                if decoded
                else InvalidAudio(f"Decoding the audio took longer than {limit}.")
            )
            raise ReplaceWorker(f"overran the job deadline while {stage}", error) from None
        except _Died as died:
            stage = "recognising" if decoded else "decoding"
            if not decoded and died.faulted:
                error = InvalidAudio(
                    "The audio crashed the decoder; send WAV, WebM/Opus, Ogg, MP3 or MP4 audio."
                )
            else:
                error = SttUnavailable(
                    f"The speech worker {died.describe()}; try again in a moment."
                )
            raise ReplaceWorker(f"{died.describe()} while {stage}", error) from None


def _transcript(reply: dict[str, Any]) -> Transcript:
    try:
        return Transcript(
            text=str(reply["text"]),
            language=None if reply["language"] is None else str(reply["language"]),
            audio_seconds=float(reply["audio_seconds"]),
            processing_seconds=float(reply["processing_seconds"]),
        )
    except (KeyError, TypeError, ValueError):
        raise SttUnavailable("The speech worker sent a malformed reply.") from None


def _job_error(reply: dict[str, Any], *, decoded: bool) -> BallsyError:
    code, message = reply.get("code"), str(reply.get("message", ""))[:500]
    if not decoded and code in DECODE_ERROR_CODES:
        return AudioTooLong(message) if code == "audio_too_long" else InvalidAudio(message)
    return SttUnavailable(message or "Recognition failed; try again in a moment.")


# A model-holding worker, for other kinds of isolated worker (providers/wake/).
WorkerProcess = _Worker
