"""A pool of isolated worker processes: which are idle, which are busy, and replacing the
ones that fail, so that a crash or an overrun costs one job and never the service.

The speech-recognition and speech-synthesis pools (providers/stt/pool.py,
providers/tts/pool.py) are subclasses: each says which worker to start and which error
its callers get, and keeps its own job exchange and error mapping. The bookkeeping here
is theirs in common:

- `size` places, each holding an idle worker or None (to be started on demand);
- a job checks a worker out (a warm one first), and checks it, or its successor, back in;
- a worker that has to go (`ReplaceWorker`) is killed and its successor started at once,
  so it is warm by the next job;
- a worker that cannot load (`ProviderUnavailable`) is stopped and started again by the
  next job, never in a loop here;
- closing stops idle workers politely and busy ones at once.

Calls here block (they wait on pipes): run them from a thread, never the event loop.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from ballsy.errors import BallsyError, ProviderUnavailable
from ballsy.providers.isolation.process import ProcessWorker, stop_all

R = TypeVar("R")


class LoadingWorker(ProcessWorker):
    """A worker process that loads something (a model, a voice) before its first job."""

    def __init__(
        self, context: Any, target: Callable[..., None], args: tuple[Any, ...], *, name: str
    ) -> None:
        super().__init__(context, target, args, name=name)
        self.ready = False
        self.failure: str | None = None
        self._ready_lock = threading.Lock()

    def wait_ready(self) -> None:
        """Block until loaded; `ProviderUnavailable` when it cannot be.

        Safe to call from several threads (warm-up and a first request): one reads the
        pipe, the others find the outcome recorded.
        """
        with self._ready_lock:
            if self.ready:
                return
            if self.failure is None:
                self.failure = self._await_ready()
            if self.failure is not None:
                raise ProviderUnavailable(self.failure)
            self.ready = True

    @abstractmethod
    def _await_ready(self) -> str | None:
        """Read the worker's first reply: None once loaded, else why it could not load."""


W = TypeVar("W", bound=LoadingWorker)


class ReplaceWorker(Exception):
    """The worker must go; `error` is what the job's caller gets."""

    def __init__(self, why: str, error: BallsyError) -> None:
        super().__init__(why)
        self.why = why
        self.error = error


class IsolatedWorkerPool(ABC, Generic[W]):
    """`size` worker processes, each running one job at a time.

    The caller bounds concurrency to `size` (its slots), so a free worker is always there
    when a job comes; a replaced one may still be loading.
    """

    # What the logs and errors call one worker ("speech worker", "voice worker").
    worker_noun: str = "worker"
    # What a job's caller gets when no worker can take it.
    unavailable: type[BallsyError] = ProviderUnavailable
    shutting_down_message: str = "The workers are shutting down."

    def __init__(self, *, size: int, job_timeout_seconds: float, thread_name_prefix: str) -> None:
        self.size = size
        self.job_timeout_seconds = job_timeout_seconds
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._idle: list[W | None] = [None] * size
        self._busy: set[W] = set()
        self._closed = False
        self.replaced = 0
        # One thread per worker: the jobs' blocking calls run here.
        self.executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix=thread_name_prefix)

    @property
    def _log(self) -> logging.Logger:
        # The subclass's module logger: a replaced worker is logged as that pool's.
        return logging.getLogger(type(self).__module__)

    @abstractmethod
    def _new_worker(self) -> W:
        """Start one worker process (it loads in the background)."""

    # --- state (for readiness and tests) -------------------------------------------------
    @property
    def ready(self) -> bool:
        return any(w.ready for w in self._workers())

    def pids(self) -> list[int]:
        """The process ids of the live workers (idle first)."""
        return [w.pid for w in self._workers() if w.pid is not None and w.process.is_alive()]

    def _workers(self) -> list[W]:
        with self._lock:
            return [w for w in self._idle if w is not None] + list(self._busy)

    # --- lifecycle -------------------------------------------------------------------------
    def start_all(self) -> None:
        """Start every worker and wait until each has loaded; a worker that cannot load is
        stopped (the next job starts it again) and the first such failure is raised."""
        with self._lock:
            self._check_open()
            for index, worker in enumerate(self._idle):
                if worker is None:
                    self._idle[index] = self._new_worker()
            starting = [w for w in self._idle if w is not None]
        failures: list[BallsyError] = []
        for worker in starting:
            try:
                worker.wait_ready()
            except ProviderUnavailable as exc:
                failures.append(exc)
                worker.stop()
                with self._lock:
                    if worker in self._idle:
                        self._idle[self._idle.index(worker)] = None
        if failures:
            raise failures[0]

    def close(self) -> None:
        """Stop every worker: idle ones politely (they exit between jobs), busy ones at once."""
        with self._lock:
            self._closed = True
            idle = [w for w in self._idle if w is not None]
            busy = list(self._busy)
            self._idle = [None] * self.size
        stop_all(idle, busy)
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- jobs --------------------------------------------------------------------------------
    def run_on_worker(self, exchange: Callable[[W], R]) -> R:
        """`exchange(worker)` on a free, loaded worker. A worker that cannot load is stopped;
        one the exchange gives up on (`ReplaceWorker`) is replaced and its error raised."""
        worker = self._checkout()
        successor: W | None = worker
        try:
            worker.wait_ready()
            return exchange(worker)
        except ProviderUnavailable:
            worker.stop()
            successor = None  # started again by the next job, not in a loop here
            raise
        except ReplaceWorker as replace:
            successor = self._replace(worker, replace.why)
            raise replace.error from None
        finally:
            self._checkin(worker, successor)

    # --- bookkeeping -----------------------------------------------------------------------
    def _checkout(self) -> W:
        with self._lock:
            self._check_open()
            if not self._idle:  # the caller's slots make this unreachable; fail loudly
                raise self.unavailable(f"No {self.worker_noun} is free; try again in a moment.")
            # A started worker if there is one (it is warm), else an empty place.
            started = [i for i, w in enumerate(self._idle) if w is not None]
            entry = self._idle.pop(started[0] if started else 0)
            if entry is not None and not entry.process.is_alive():
                # It died while idle (killed from outside): nobody's job is to blame.
                exitcode = entry.stop()
                self.replaced += 1
                self._log.warning(
                    f"{self.worker_noun} replaced",
                    extra={"pid": entry.pid, "why": "died while idle", "exitcode": exitcode},
                )
                entry = None
            worker = entry if entry is not None else self._new_worker()
            self._busy.add(worker)
            return worker

    def _checkin(self, worker: W, successor: W | None) -> None:
        with self._lock:
            self._busy.discard(worker)
            if self._closed:
                if successor is not None:
                    successor.stop()
                return
            self._idle.append(successor)

    def _replace(self, worker: W, why: str) -> W | None:
        """Kill `worker` and start its successor now, so it is warm by the next job."""
        exitcode = worker.stop()
        self.replaced += 1
        self._log.warning(
            f"{self.worker_noun} replaced",
            extra={"pid": worker.pid, "why": why, "exitcode": exitcode},
        )
        with self._lock:
            if self._closed:
                return None
        return self._new_worker()

    def _check_open(self) -> None:
        if self._closed:
            raise self.unavailable(self.shutting_down_message)
