"""OpenAI-compatible speech endpoints, so other tools can use Ballsy as their speech server.

    POST /v1/audio/speech          text -> audio (Ballsy's voice: Piper, in worker processes)
    POST /v1/audio/transcriptions  audio -> text (the embedded recogniser, in its workers)
    GET  /v1/models                what the two above accept as `model`

Point an OpenAI SDK at `http://HOST:PORT/v1` with a Ballsy session token or an operator
key (OPERATOR_API_KEYS) as its API key. Both audio routes are paid from the caller's
speech budget, like recorded commands (RATE_LIMIT_STT_SECONDS_*), and share the same
bounded, isolated workers as the page. Errors are Ballsy's `{code, message}`.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from ballsy.api.client_ip import client_ip
from ballsy.api.deps import ServicesDep, is_operator_key, user_for_token
from ballsy.api.errors import responses
from ballsy.api.speech import reserve_speech, transcribe_paid
from ballsy.api.uploads import read_upload
from ballsy.assistant.identity import Identity, limit_key
from ballsy.errors import BadRequest, FeatureUnavailable, TooLarge, Unauthorized
from ballsy.providers.tts.base import PCM_FORMAT
from ballsy.providers.tts.formats import wav_from_pcm

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

SPEECH_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "ballsy-voice")
TRANSCRIPTION_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "ballsy-stt")
# Formats written from the voice's PCM in the server; the others are encoded with PyAV.
_PCM_FORMATS = ("wav", "pcm")
_MEDIA_TYPES = {
    "wav": "audio/wav",
    "pcm": "audio/pcm",
    "opus": "audio/ogg",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "aac": "audio/aac",
}


async def openai_identity(request: Request, services: ServicesDep) -> Identity:
    """The caller, from `Authorization: Bearer <session token or operator key>` (what the
    OpenAI SDKs send as their API key); every call here needs one."""
    address = client_ip(request.scope, trusted_proxy_hops=services.settings.trusted_proxy_hops)
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > 200:
        raise Unauthorized(
            "Send a Ballsy session token or an operator key as the API key "
            "('Authorization: Bearer <key>')."
        )
    identity: Identity
    if is_operator_key(services, key):
        # Operators are paid per address, from the budgets tokenless callers share.
        identity = Identity.tokenless("openai-operator", address, connection="operator")
    else:
        user_id = await user_for_token(services, key)
        if user_id is None:
            raise Unauthorized("The API key is neither a session token nor an operator key.")
        identity = Identity.user(user_id, address=address)
    await services.limiter.check_request(identity_key(identity))
    return identity


def speech_formats() -> list[str]:
    """The `response_format`s POST /v1/audio/speech can produce on this server (when the
    voice is available): wav and pcm always, the encoded ones with PyAV installed."""
    if importlib.util.find_spec("av") is None:
        return list(_PCM_FORMATS)
    return list(_MEDIA_TYPES)


def identity_key(identity: Identity) -> str:
    return limit_key(identity.user_id, identity.address or "")


OpenAICaller = Annotated[Identity, Depends(openai_identity)]


class SpeechIn(BaseModel):
    model: str = Field(default="tts-1", max_length=100)
    input: str = Field(min_length=1, max_length=100_000)
    voice: str = Field(default="joe", max_length=100)
    response_format: Literal["wav", "pcm", "opus", "mp3", "flac", "aac"] = "mp3"
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    instructions: str | None = Field(default=None, max_length=4096)


@router.post(
    "/audio/speech",
    response_class=Response,
    responses={
        200: {"content": {t: {} for t in _MEDIA_TYPES.values()}, "description": "the audio"},
        **responses(400, 401, 413, 422, 429, 501, 503),
    },
)
async def speech(body: SpeechIn, identity: OpenAICaller, services: ServicesDep) -> Response:
    """Speak `input` with Ballsy's voice. Every voice name selects this server's voice
    (`voice` is accepted for compatibility); `instructions` are ignored (Piper takes none).
    wav and pcm (16-bit mono at the voice's rate, 22050 Hz) need only the voice extra;
    opus, mp3, flac and aac are encoded with PyAV (the speech extra)."""
    tts = services.tts
    if not tts.available:
        raise FeatureUnavailable(str(getattr(tts, "reason", "Ballsy's voice is not set up.")))
    fmt = body.response_format
    if fmt not in speech_formats():
        raise FeatureUnavailable(
            f"response_format {fmt} needs PyAV (the speech extra): pip install 'ballsy[speech]'; "
            "wav and pcm work without it."
        )
    if len(body.input) > services.settings.tts_max_chars:
        raise TooLarge(
            f"input is {len(body.input)} characters; the limit is "
            f"{services.settings.tts_max_chars} (TTS_MAX_CHARS)."
        )
    reservation = await reserve_speech(services, identity)
    used: float | None = None
    try:
        spoken = await tts.synthesize(
            body.input, speed=body.speed, fmt=fmt if fmt not in _PCM_FORMATS else PCM_FORMAT
        )
        used = spoken.seconds or None
    finally:
        await reservation.settle(used)
    audio = spoken.audio
    if fmt == "wav":
        audio = wav_from_pcm(audio, spoken.sample_rate)
    return Response(
        content=audio,
        media_type=_MEDIA_TYPES[fmt],
        headers={"X-Sample-Rate": str(spoken.sample_rate)},
    )


@router.post("/audio/transcriptions", responses=responses(400, 401, 413, 422, 429, 501, 503))
async def transcriptions(
    identity: OpenAICaller,
    services: ServicesDep,
    file: Annotated[UploadFile, File(description="WAV, WebM/Opus, Ogg, MP3 or MP4 audio.")],
    model: Annotated[str, Form(max_length=100)] = "whisper-1",
    response_format: Annotated[Literal["json", "text", "verbose_json"], Form()] = "json",
    language: Annotated[str | None, Form(max_length=16)] = None,
    prompt: Annotated[str | None, Form(max_length=4096)] = None,
    temperature: Annotated[float | None, Form(ge=0, le=1)] = None,
) -> Response:
    """Transcribe with the embedded recogniser (English; `model`, `prompt` and
    `temperature` are accepted for compatibility and ignored)."""
    if language is not None and language.lower() not in ("en", "english"):
        raise BadRequest("This server's recogniser understands English only (language=en).")
    audio = await read_upload(file, services.settings.stt_max_bytes)
    transcript = await transcribe_paid(services, identity, audio, content_type=file.content_type)
    text = transcript.text.strip()
    if response_format == "text":
        return PlainTextResponse(text)
    if response_format == "json":
        return JSONResponse({"text": text})
    duration = round(transcript.audio_seconds, 3)
    return JSONResponse(
        {
            "task": "transcribe",
            "language": "english",
            "duration": duration,
            "text": text,
            # One segment for the whole utterance: the recogniser keeps no timings.
            "segments": [
                {
                    "id": 0,
                    "seek": 0,
                    "start": 0.0,
                    "end": duration,
                    "text": text,
                    "tokens": [],
                    "temperature": 0.0,
                    "avg_logprob": 0.0,
                    "compression_ratio": 0.0,
                    "no_speech_prob": 0.0,
                }
            ]
            if text
            else [],
        }
    )


@router.get("/models", responses=responses(401, 429))
async def models(identity: OpenAICaller, services: ServicesDep) -> dict[str, object]:
    """The models this server answers to (only those whose backend is available)."""
    data = []
    if services.tts.available:
        data += [_model(name) for name in SPEECH_MODELS]
    if services.stt.available:
        data += [_model(name) for name in TRANSCRIPTION_MODELS]
    return {"object": "list", "data": data}


def _model(name: str) -> dict[str, object]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "ballsy"}
