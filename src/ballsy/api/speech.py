"""Speech-to-text for the doors: limits, budgets and metrics around the provider.

Speech is paid for before the model runs: the caller's and its address's speech
budgets are charged the most one utterance may cost (STT_MAX_SECONDS: the model
refuses longer audio), and what the transcript shows was not used is given back
afterwards. A caller without that much left is refused up front with
`rate_limited`, so no transcription ever runs beyond the budget.
"""

from __future__ import annotations

import asyncio

from ballsy.assistant.identity import Identity
from ballsy.errors import BallsyError
from ballsy.providers.ratelimit.speech import SpeechReservation
from ballsy.providers.stt.base import Transcript
from ballsy.providers.stt.listen import ListeningSession
from ballsy.wiring import Services


class NoSpeech(BallsyError):
    code = "no_speech"
    status = 422


async def reserve_speech(services: Services, identity: Identity) -> SpeechReservation:
    """Charge the caller for one utterance before it is transcribed (or raise)."""
    return await services.limiter.reserve_speech(user_id=identity.user_id, address=identity.address)


async def transcribe_for(
    services: Services,
    identity: Identity,
    audio: bytes,
    *,
    content_type: str | None,
    reservation: SpeechReservation | None = None,
) -> str:
    """The transcript of one utterance, paid from the caller's speech budget;
    `NoSpeech` when nothing was said.

    `reservation` is one taken already (the WebSocket takes it when the utterance
    starts); without one it is taken here, before the model runs.
    """
    transcript = await transcribe_paid(
        services, identity, audio, content_type=content_type, reservation=reservation
    )
    text = transcript.text.strip()
    if not text:
        raise NoSpeech("I didn't catch any speech in that recording.")
    return text


async def transcribe_paid(
    services: Services,
    identity: Identity,
    audio: bytes,
    *,
    content_type: str | None,
    reservation: SpeechReservation | None = None,
) -> Transcript:
    """The whole transcript (text, language, duration), paid as `transcribe_for`."""
    if reservation is None:
        reservation = await reserve_speech(services, identity)
    used: float | None = None
    try:
        transcript = await services.stt.transcribe(audio, content_type=content_type)
        used = transcript.audio_seconds
    except asyncio.CancelledError:
        raise  # the model may still be running: the reservation is kept whole
    except Exception:
        await reservation.settle(None)
        raise
    await reservation.settle(used)
    services.metrics.stt_duration.observe(transcript.processing_seconds)
    if transcript.audio_seconds:
        services.metrics.stt_rtf.observe(transcript.real_time_factor)
    return transcript


async def listened_for(
    services: Services, session: ListeningSession, reservation: SpeechReservation | None
) -> str:
    """The final transcript of a live stream, paid for by every second streamed
    (silence included: the stream was received and measured)."""
    used = session.audio_seconds
    try:
        transcript = await session.final()
    except asyncio.CancelledError:
        raise
    except Exception:
        if reservation is not None:
            await reservation.settle(used)
        raise
    if reservation is not None:
        await reservation.settle(used)
    if transcript.processing_seconds:
        services.metrics.stt_duration.observe(transcript.processing_seconds)
    text = transcript.text.strip()
    if not text:
        raise NoSpeech("I didn't catch any speech in that recording.")
    return text
