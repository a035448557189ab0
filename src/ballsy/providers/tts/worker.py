"""The speech-synthesis worker process: Piper runs here, never in the server.

`serve` is the entry point of each process `pool.py` spawns. Piper (GPL-3.0-or-later)
is imported only here, so the MIT server talks to it across a process boundary, the
way it would talk to any separate program. The worker caps its own address space,
loads the voice once (ONNX Runtime on one thread: concurrency is the number of
workers), says `ready`, then answers one job at a time.

Protocol, server -> worker: `(text, length_scale, format)` per job, `None` to stop.
Worker -> server: `{"kind": "ready", "sample_rate"}` or `{"kind": "failed", "message"}`
once; per job `{"kind": "audio", "format", "sample_rate", "bytes"}` followed by one
message of exactly that many raw bytes, or `{"kind": "error", "message"}`.
"""

from __future__ import annotations

import io
import json
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ballsy.providers.isolation.process import reply_bytes, reply_json

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

# Formats a worker produces; WAV is PCM with a header, added by the server. Encoded
# ones need PyAV (the speech extra) in the worker.
WORKER_FORMATS = frozenset({"pcm_s16le", "opus", "mp3", "flac", "aac"})


@dataclass(frozen=True, slots=True)
class SynthesisSpec:
    """What a worker needs; pickled once into the spawned process."""

    model_path: Path
    config_path: Path
    memory_bytes: int | None
    warm: bool


def load_voice(model_path: Path, config_path: Path) -> Any:
    """A Piper voice on one ONNX Runtime thread (benchmarks load it the same way)."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    with open(config_path, encoding="utf-8") as handle:
        config = PiperConfig.from_dict(json.load(handle))
    session = onnxruntime.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(config=config, session=session)


def synthesize_pcm(voice: Any, text: str, length_scale: float) -> bytes:
    """16-bit mono PCM at the voice's sample rate for `text` (every sentence in it)."""
    from piper.config import SynthesisConfig

    config = SynthesisConfig(length_scale=length_scale)
    return b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text, config))


# Encoded formats: (container, codec, codec sample rate or None for the voice's own).
ENCODINGS: dict[str, tuple[str, str, int | None]] = {
    "opus": ("ogg", "libopus", 48000),
    "mp3": ("mp3", "libmp3lame", None),
    "flac": ("flac", "flac", None),
    "aac": ("adts", "aac", None),
}


def encode_audio(pcm: bytes, sample_rate: int, fmt: str) -> bytes:
    """`pcm` (16-bit mono) encoded as `fmt` (see ENCODINGS); needs PyAV (the speech extra)."""
    import av
    import numpy as np

    container_format, codec, rate = ENCODINGS[fmt]
    samples = np.frombuffer(pcm, dtype=np.int16).reshape(1, -1)
    out = io.BytesIO()
    with av.open(out, "w", format=container_format) as container:
        stream: Any = container.add_stream(codec, rate=rate or sample_rate, layout="mono")
        if samples.size:
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = sample_rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def serve(conn: Connection, spec: SynthesisSpec) -> None:
    """Run one worker until stopped (the target of each spawned process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spec.memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (spec.memory_bytes, spec.memory_bytes))
    try:
        voice = load_voice(spec.model_path, spec.config_path)
        if spec.warm:
            synthesize_pcm(voice, "Ready.", 1.0)
    except BaseException as exc:  # anything at all: the server must hear why
        reply_json(conn, {"kind": "failed", "message": f"{type(exc).__name__}: {exc}"})
        return
    sample_rate = int(voice.config.sample_rate)
    reply_json(conn, {"kind": "ready", "sample_rate": sample_rate})
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError, MemoryError):
            return
        if job is None:
            return
        text, length_scale, fmt = job
        started = time.perf_counter()
        try:
            audio = synthesize_pcm(voice, str(text), float(length_scale))
            if fmt != "pcm_s16le":
                audio = encode_audio(audio, sample_rate, fmt)
        except MemoryError:
            reply_json(conn, {"kind": "error", "message": "Synthesis ran out of memory."})
            return
        except Exception as exc:
            reply_json(conn, {"kind": "error", "message": f"Synthesis failed ({exc})."})
            continue
        header = {
            "kind": "audio",
            "format": fmt,
            "sample_rate": sample_rate,
            "bytes": len(audio),
            "processing_seconds": time.perf_counter() - started,
        }
        reply_json(conn, header)
        reply_bytes(conn, audio)
