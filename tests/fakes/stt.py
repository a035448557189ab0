"""A speech model stand-in at the provider boundary: it records every recording it is
given and answers a scripted transcript, so door tests can count model runs and see
exactly which bytes reached the model."""

from __future__ import annotations

from ballsy.providers.stt.base import SpeechToText, Transcript


class RecordingSpeechToText(SpeechToText):
    """Answers `text`, covering `audio_seconds`, for every recording; keeps them all."""

    name = "recording-fake"

    def __init__(self, *, text: str = "what is seven times eight", audio_seconds: float) -> None:
        self.text = text
        self.audio_seconds = audio_seconds
        self.recordings: list[tuple[bytes, str | None]] = []

    async def transcribe(self, audio: bytes, *, content_type: str | None = None) -> Transcript:
        self.recordings.append((audio, content_type))
        return Transcript(
            text=self.text, language="en", audio_seconds=self.audio_seconds, processing_seconds=0.01
        )
