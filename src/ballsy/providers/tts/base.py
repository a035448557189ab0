"""The text-to-speech interface: text in, 16-bit mono PCM out.

Implementations run synthesis off the event loop with bounded concurrency and raise
`Busy` when no slot frees in time, so a caller can fall back to the browser's voices.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ballsy.providers.unavailable import Unavailable

PCM_FORMAT = "pcm_s16le"


@dataclass(frozen=True, slots=True)
class Speech:
    """Synthesised audio: `audio` in `format` ("pcm_s16le" mono, or "opus" in Ogg)."""

    audio: bytes
    sample_rate: int
    format: str = PCM_FORMAT
    processing_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        """How long the audio plays (PCM only; 0 for encoded audio)."""
        if self.format != PCM_FORMAT or not self.sample_rate:
            return 0.0
        return len(self.audio) / 2 / self.sample_rate


class TextToSpeech(ABC):
    name: str = "base"
    # The voice's name as clients show it (settings panel, /v1/models).
    voice: str = ""
    # The rate of the PCM it speaks, in Hz, when known before it speaks (None otherwise).
    sample_rate: int | None = None

    @abstractmethod
    async def synthesize(self, text: str, *, speed: float = 1.0, fmt: str = PCM_FORMAT) -> Speech:
        """Speak `text` at `speed` (1.0 normal, 2.0 twice as fast)."""

    @property
    def available(self) -> bool:
        """False when this server cannot speak at all (switched off, extra missing)."""
        return True

    @property
    def ready(self) -> bool:
        return True

    async def warm_up(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class UnavailableTextToSpeech(Unavailable, TextToSpeech):
    """Refuses every synthesis with the reason it was given (and its fix)."""

    async def synthesize(self, text: str, *, speed: float = 1.0, fmt: str = PCM_FORMAT) -> Speech:
        self.refuse()
