"""How the speech model is loaded and run: plain data, importable without the speech stack.

The server process builds these for its worker processes and must not import
faster-whisper, CTranslate2 or PyAV itself (start-up time, and memory the workers hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How the model is loaded and run; built from settings by `whisper.py`."""

    model_path: Path
    device: str
    compute_type: str
    cpu_threads: int
    workers: int
    beam_size: int
    min_window_seconds: float
    # Decoding tuned for short commands (see engine.py); the defaults are Ballsy's choice.
    language: str = "en"
    initial_prompt: str | None = None
    temperature_fallback: bool = True
