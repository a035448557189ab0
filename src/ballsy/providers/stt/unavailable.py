"""The speech-to-text provider used when server speech-to-text cannot run.

It keeps the rest of the app simple: routes always have a provider, and this one
answers every request with `FeatureUnavailable` carrying the reason and its fix
(switched off by STT_ENABLED=false, or the `speech` extra not installed).
"""

from __future__ import annotations

from ballsy.errors import FeatureUnavailable
from ballsy.providers.stt.base import SpeechToText, Transcript


class UnavailableSpeechToText(SpeechToText):
    """Refuses every transcription with the reason it was given."""

    name = "unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @property
    def ready(self) -> bool:
        return False

    async def transcribe(self, audio: bytes, *, content_type: str | None = None) -> Transcript:
        raise FeatureUnavailable(self.reason)
