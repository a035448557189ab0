"""The speech-to-text interface: audio bytes in, a transcript out.

Implementations decode common containers (WAV, WebM/Opus, Ogg, MP3), refuse
oversize or overlong audio with `TooLarge` / `AudioTooLong`, undecodable audio with
`InvalidAudio`, and run the model off the event loop with bounded concurrency,
raising `Busy` when the queue wait runs out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None
    audio_seconds: float
    processing_seconds: float

    @property
    def real_time_factor(self) -> float:
        return self.processing_seconds / self.audio_seconds if self.audio_seconds else 0.0


class SpeechToText(ABC):
    name: str = "base"

    @abstractmethod
    async def transcribe(self, audio: bytes, *, content_type: str | None = None) -> Transcript:
        """Transcribe one utterance."""

    async def transcribe_if_free(
        self, audio: bytes, *, content_type: str | None = None
    ) -> Transcript | None:
        """Transcribe now if a slot is free, else None (never queue): for previews, such as
        partial transcripts, that must not delay the transcriptions people wait for."""
        return await self.transcribe(audio, content_type=content_type)

    async def warm_up(self) -> None:
        """Load the model ahead of the first request (called in the background)."""
        return None

    @property
    def available(self) -> bool:
        """False when this server cannot transcribe at all (switched off, extra missing)."""
        return True

    @property
    def ready(self) -> bool:
        return True

    @property
    def max_bytes(self) -> int | None:
        """The largest upload accepted, so callers can refuse more before buffering it."""
        return None

    async def aclose(self) -> None:
        """Release the model at shutdown."""
        return None
