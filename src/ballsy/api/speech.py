"""Speech-to-text for the doors: limits, budgets and metrics around the provider."""

from __future__ import annotations

from ballsy.assistant.identity import Identity
from ballsy.errors import BallsyError, FeatureUnavailable
from ballsy.wiring import Services


class NoSpeech(BallsyError):
    code = "no_speech"
    status = 422


async def transcribe_for(
    services: Services, identity: Identity, audio: bytes, *, content_type: str | None
) -> str:
    """The transcript of one utterance, charged to the caller's speech budget."""
    if services.stt is None:
        raise FeatureUnavailable(
            "Server speech recognition is switched off here (STT_ENABLED=false); type instead."
        )
    if services.limiter is not None:
        await services.limiter.check_stt_seconds(identity.limit_key, 1.0)
    transcript = await services.stt.transcribe(audio, content_type=content_type)
    services.metrics.stt_duration.observe(transcript.processing_seconds)
    if transcript.audio_seconds:
        services.metrics.stt_rtf.observe(transcript.real_time_factor)
    if services.limiter is not None and transcript.audio_seconds > 1.0:
        await services.limiter.check_stt_seconds(identity.limit_key, transcript.audio_seconds - 1.0)
    text = transcript.text.strip()
    if not text:
        raise NoSpeech("I didn't catch any speech in that recording.")
    return text
