"""How speech synthesis runs: plain data, importable without Piper (built in wiring.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SynthesisOptions:
    voice: str
    title: str
    model_path: Path
    config_path: Path
    # The voice's rate in Hz, from its config (None if the config does not say).
    sample_rate: int | None = None
    # One synthesis per worker process; this many at once per instance.
    max_concurrency: int = 1
    # Requests allowed to wait for a worker, and for how long, before `Busy`.
    max_queue: int = 4
    queue_timeout_seconds: float = 2.0
    job_timeout_seconds: float = 30.0
    worker_memory_mb: int = 1024
    max_chars: int = 4096
    preload: bool = True
