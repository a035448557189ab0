"""The wake word worker process: runs every hands-free stream's detector, away from the server.

The feature front end and TensorFlow Lite are native code reading audio from the
network; here a crash, a hang or a memory blow-up costs a moment of wake word
detection, never the server (the same isolation as the speech workers, whose process
machinery `service.py` reuses). `serve` caps its own address space, loads the model
once to check it, says `ready`, then answers batches until told to stop.

Protocol, server -> worker (pickled, the server is trusted): a list of operations,
`("feed", stream_id, pcm)` or `("close", stream_id)`, or `None` to stop. Worker ->
server (JSON, parsed as data): `{"kind": "ready"}` or `{"kind": "failed", "message"}`
once at start, then per batch `{"kind": "fed", "detected": [stream_id, ...],
"refused": [stream_id, ...]}`; a stream is refused when `max_streams` are already open.
"""

from __future__ import annotations

import json
import os
import resource
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.sharedctypes import Synchronized

    from ballsy.providers.wake.detector import StreamDetector


@dataclass(frozen=True, slots=True)
class WakeWorkerSpec:
    """What the worker needs; pickled once into the spawned process."""

    model: str
    max_streams: int
    memory_bytes: int | None


def serve(conn: Connection, spec: WakeWorkerSpec, cancel: Synchronized[int]) -> None:
    """Run the worker until stopped (the target of the spawned process)."""
    del cancel  # a batch is short; the server kills an overrunning worker instead
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spec.memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (spec.memory_bytes, spec.memory_bytes))
    try:
        from ballsy.providers.wake.detector import StreamDetector

        StreamDetector(spec.model).close()  # the model loads, or the server hears why
    except BaseException as exc:
        _send(conn, {"kind": "failed", "message": f"{type(exc).__name__}: {exc}"})
        return
    _send(conn, {"kind": "ready"})
    streams: dict[int, StreamDetector] = {}
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return  # the server is gone
        if batch is None:
            return
        _send(conn, _run_batch(batch, streams, spec, StreamDetector))


def _run_batch(
    batch: list[tuple[Any, ...]],
    streams: dict[int, StreamDetector],
    spec: WakeWorkerSpec,
    make: type[StreamDetector],
) -> dict[str, Any]:
    detected: list[int] = []
    refused: list[int] = []
    for operation in batch:
        kind, stream_id = operation[0], int(operation[1])
        if kind == "close":
            closing = streams.pop(stream_id, None)
            if closing is not None:
                closing.close()
            continue
        detector = streams.get(stream_id)
        if detector is None:
            if len(streams) >= spec.max_streams:
                refused.append(stream_id)
                continue
            detector = streams[stream_id] = make(spec.model)
        if detector.feed(bytes(operation[2])):
            detected.append(stream_id)
    return {"kind": "fed", "detected": detected, "refused": refused}


def _send(conn: Connection, message: dict[str, Any]) -> None:
    try:
        conn.send_bytes(json.dumps(message).encode())
    except (BrokenPipeError, OSError):
        os._exit(0)  # the server is gone; nothing is left to clean up
