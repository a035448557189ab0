"""One spawned worker process and the server's end of its pipe, shared by every pool.

Speech recognition (`providers/stt/pool.py`) and speech synthesis
(`providers/tts/pool.py`) both run native code (FFmpeg, CTranslate2, espeak-ng,
ONNX Runtime) on input a caller chose, so both run it in worker processes started
with the *spawn* method (a fresh interpreter: forking a threaded server is unsafe).
This module is what they share: starting a worker, reading its replies against a
deadline, and telling a worker that faulted (its own crash: the input's doing) from
one that was killed from outside (the OOM killer, an operator).

Replies are bytes: small JSON documents, or raw audio a pool asked for, never pickles,
so whatever a worker sends is parsed by the server as data, not executed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

STOP_GRACE_SECONDS = 2.0
# A worker's JSON replies are a few hundred bytes; anything bigger is not from a sane worker.
MAX_REPLY_BYTES = 64 * 1024
# Signals that mean "the process itself faulted", as opposed to "someone killed it".
FAULT_SIGNALS = frozenset(
    {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL}
)


class WorkerDied(Exception):
    """The worker process is gone (or sent something no sane worker sends)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(exitcode)
        self.exitcode = exitcode

    @property
    def faulted(self) -> bool:
        """A crash of the worker's own making (a fault signal or an exit), not a kill."""
        if self.exitcode is None:
            return True
        if self.exitcode >= 0:
            return True
        return signal.Signals(-self.exitcode) in FAULT_SIGNALS

    def describe(self) -> str:
        if self.exitcode is None:
            return "stopped answering"
        if self.exitcode < 0:
            return f"was stopped by {signal.Signals(-self.exitcode).name}"
        return f"exited with status {self.exitcode}"


class WorkerOverran(Exception):
    """No reply came before the deadline."""


class ProcessWorker:
    """A spawned process running `target(conn, *args)`, and this side of its pipe."""

    def __init__(
        self, context: Any, target: Callable[..., None], args: tuple[Any, ...], *, name: str
    ) -> None:
        self.conn, child_conn = context.Pipe(duplex=True)
        self.process: SpawnProcess = context.Process(
            target=target, args=(child_conn, *args), name=name, daemon=True
        )
        self.process.start()
        # Only the child holds its end now, so its death reads as end-of-file here.
        child_conn.close()
        self.started = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def receive_bytes(self, deadline: float, max_bytes: int) -> bytes:
        """The next reply's bytes; `WorkerDied` when the process is gone (or the reply is
        over `max_bytes`), `WorkerOverran` past `deadline` (time.monotonic())."""
        if not wait([self.conn], timeout=max(0.0, deadline - time.monotonic())):
            raise WorkerOverran
        try:
            data: bytes = self.conn.recv_bytes(max_bytes)
        except (EOFError, OSError):
            raise WorkerDied(self.stop()) from None
        return data

    def receive(self, deadline: float) -> dict[str, Any]:
        """The next JSON reply, as `receive_bytes`; anything but a JSON object is `WorkerDied`."""
        raw = self.receive_bytes(deadline, MAX_REPLY_BYTES)
        try:
            reply = json.loads(raw)
        except ValueError:
            raise WorkerDied(self.stop()) from None
        if not isinstance(reply, dict):
            raise WorkerDied(self.stop())
        return reply

    def send(self, message: Any) -> None:
        try:
            self.conn.send(message)
        except OSError:
            raise WorkerDied(self.stop()) from None

    def ask_to_stop(self) -> None:
        """Ask an idle worker to exit on its own (it is between jobs, reading its pipe)."""
        with contextlib.suppress(OSError):
            self.conn.send(None)

    def stop(self) -> int | None:
        """Kill the process if it is still there, reap it, and return its exit code."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(STOP_GRACE_SECONDS)
        self.conn.close()
        return self.process.exitcode


def stop_all(idle: Sequence[ProcessWorker], busy: Sequence[ProcessWorker]) -> None:
    """Stop a pool's workers: idle ones politely (they exit between jobs, within
    STOP_GRACE_SECONDS), busy ones at once."""
    for worker in busy:
        worker.stop()
    for worker in idle:
        worker.ask_to_stop()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for worker in idle:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        worker.stop()  # kills one still loading its model (it reads no pipe then)


# --- the worker's side -------------------------------------------------------------------


def reply_json(conn: Any, message: dict[str, Any]) -> None:
    """Send one JSON reply to the server; exit quietly when the server is gone."""
    reply_bytes(conn, json.dumps(message).encode())


def reply_bytes(conn: Any, data: bytes) -> None:
    try:
        conn.send_bytes(data)
    except (BrokenPipeError, OSError):
        os._exit(0)  # the server is gone; nothing is left to clean up
