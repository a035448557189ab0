"""How the speech model is loaded and run: plain data, importable without the speech stack.

The server process builds these for its worker processes and must not import
faster-whisper, CTranslate2 or PyAV itself (start-up time, and memory the workers hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ballsy.providers.stt.command_vocabulary import COMMAND_PROMPT
from ballsy.providers.stt.sums import SUM_PROMPT


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
    # Decoding tuned for short commands by bench/bench_recognition.py; the defaults are
    # what the server runs. The language is pinned for multilingual models.
    language: str = "en"
    initial_prompt: str | None = COMMAND_PROMPT
    temperature_fallback: bool = False
    # A piece that asks for a calculation it cannot be read as is decoded again after this
    # prompt (`sums.py`); None decodes once.
    sum_prompt: str | None = SUM_PROMPT
