"""The speech worker process: decodes and recognises untrusted audio away from the server.

`serve` is the entry point of each process `pool.py` spawns. It caps its own address
space first (so a memory blow-up fails here, not in the server), loads and warms the
model once, says `ready`, then answers one job at a time until told to stop or until
its pipe closes (the server is gone).

Replies are small JSON documents, never pickles: if a crafted file ever took over the
decoder, what it sends back is parsed as data by the server, not executed.

Protocol, server -> worker: `(content_type, audio)` per job, `None` to stop.
Worker -> server: `{"kind": "ready"}` or `{"kind": "failed", "message"}` once at start;
per job `{"kind": "decoded", "audio_seconds"}` when decoding is over, then
`{"kind": "done", ...}` or `{"kind": "error", "code", "message"}`. The `decoded` mark
tells the server which stage a crash happened in: decoding (the input's fault) or
recognition (the server's).
"""

from __future__ import annotations

import resource
import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ballsy.errors import BallsyError
from ballsy.providers.isolation.process import reply_json
from ballsy.providers.stt.audio import SAMPLE_RATE, decode_audio, warm_decoder

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.sharedctypes import Synchronized

    from ballsy.providers.stt.options import EngineOptions

# Error codes a worker may report for a job; anything else is refused by the server.
DECODE_ERROR_CODES = frozenset({"invalid_audio", "audio_too_long"})
RECOGNITION_ERROR_CODE = "stt_unavailable"


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a worker needs; pickled once into the spawned process."""

    engine: EngineOptions
    max_seconds: float
    memory_bytes: int | None
    warm: bool


class _Flag:
    """The server's "stop early" flag, read without a lock (a killed worker cannot hold one)."""

    def __init__(self, value: Synchronized[int]) -> None:
        self._value = value

    def is_set(self) -> bool:
        return bool(self._value.value)


def serve(conn: Connection, spec: WorkerSpec, cancel: Synchronized[int]) -> None:
    """Run one worker until stopped (the target of each spawned process)."""
    # Ctrl-C in the server's terminal reaches the whole process group; the server
    # decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spec.memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (spec.memory_bytes, spec.memory_bytes))
    try:
        # Imported here so that a speech stack that cannot load is reported as `failed`.
        from ballsy.providers.stt.engine import WhisperEngine

        engine = WhisperEngine(spec.engine)
        warm_decoder()
        if spec.warm:
            engine.warm()
    except BaseException as exc:  # anything at all: the server must hear why
        _send(conn, {"kind": "failed", "message": f"{type(exc).__name__}: {exc}"})
        return
    _send(conn, {"kind": "ready", "device": engine.device})
    flag = _Flag(cancel)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the server is gone
        except MemoryError:  # the upload itself did not fit under the cap
            message = "The upload needed more memory than allowed (STT_WORKER_MEMORY_MB)."
            _send(conn, _error("invalid_audio", message, exiting=True))
            return
        if job is None:
            return
        content_type, audio = job
        if not _run_job(conn, engine, spec, flag, audio, content_type):
            return


def _run_job(
    conn: Connection, engine: Any, spec: WorkerSpec, flag: _Flag, audio: bytes, ct: str | None
) -> bool:
    """Answer one job; False when this worker should exit (it ran out of memory)."""
    started = time.perf_counter()
    try:
        samples = decode_audio(audio, max_seconds=spec.max_seconds, content_type=ct)
    except BallsyError as exc:
        code = exc.code if exc.code in DECODE_ERROR_CODES else "invalid_audio"
        _send(conn, {"kind": "error", "code": code, "message": exc.message})
        return True
    except MemoryError:
        _send(
            conn,
            _error(
                "invalid_audio",
                "Decoding the audio needed more memory than allowed (STT_WORKER_MEMORY_MB).",
                exiting=True,
            ),
        )
        return False
    except Exception as exc:  # an unexpected decoder failure is still this input's fault
        _send(conn, _error("invalid_audio", f"The audio could not be decoded ({exc})."))
        return True
    del audio
    audio_seconds = samples.size / SAMPLE_RATE
    _send(conn, {"kind": "decoded", "audio_seconds": audio_seconds})
    try:
        result = engine.transcribe(samples, cancelled=flag)
    except MemoryError:
        _send(
            conn,
            _error(
                RECOGNITION_ERROR_CODE,
                "Recognition needed more memory than allowed (STT_WORKER_MEMORY_MB).",
                exiting=True,
            ),
        )
        return False
    except Exception as exc:
        # CTranslate2 reports its failures as RuntimeError; start afresh after one.
        _send(conn, _error(RECOGNITION_ERROR_CODE, f"Recognition failed ({exc}).", exiting=True))
        return False
    _send(
        conn,
        {
            "kind": "done",
            "text": result.text,
            "language": result.language,
            "audio_seconds": audio_seconds,
            "processing_seconds": time.perf_counter() - started,
        },
    )
    return True


def _error(code: str, message: str, *, exiting: bool = False) -> dict[str, Any]:
    # `exiting`: this worker stops after the reply, so the server replaces it at once.
    return {"kind": "error", "code": code, "message": message, "exiting": exiting}


def _send(conn: Connection, message: dict[str, Any]) -> None:
    reply_json(conn, message)
