"""The speech-to-text provider used when server speech-to-text cannot run.

It keeps the rest of the app simple: routes always have a provider, and this one
answers every request with `FeatureUnavailable` carrying the reason and its fix
(switched off by STT_ENABLED=false, or the `speech` extra not installed).
"""

from __future__ import annotations

from ballsy.providers.stt.base import SpeechToText, Transcript
from ballsy.providers.unavailable import Unavailable


class UnavailableSpeechToText(Unavailable, SpeechToText):
    """Refuses every transcription with the reason it was given."""

    async def transcribe(self, audio: bytes, *, content_type: str | None = None) -> Transcript:
        self.refuse()
