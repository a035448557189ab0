"""The orb page at `/`, its static files, and what the page may use."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from ballsy.api.deps import ServicesDep
from ballsy.api.routes.openai_audio import speech_formats
from ballsy.api.schemas import Capabilities, VoiceCapabilities
from ballsy.providers.tts.base import PCM_FORMAT, TextToSpeech

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

router = APIRouter(tags=["page"])


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(
        WEB_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"}
    )


@router.get("/api/capabilities", response_model=Capabilities, tags=["session"])
async def capabilities(services: ServicesDep) -> Capabilities:
    settings = services.settings
    conversation, speech = settings.conversation, settings.speech
    return Capabilities(
        ai=services.llm is not None,
        ai_provider=services.llm.name if services.llm is not None else "none",
        stt=services.stt.available,
        max_command_chars=conversation.max_command_chars,
        max_audio_bytes=speech.stt_max_bytes,
        max_audio_seconds=speech.stt_max_seconds,
        max_frame_bytes=conversation.ws_max_frame_bytes,
        max_request_bytes=settings.service.max_body_bytes,
        wake_word=services.wake.word if services.wake is not None else None,
        voice=_voice(services.tts),
    )


def _voice(tts: TextToSpeech) -> VoiceCapabilities:
    available = tts.available
    return VoiceCapabilities(
        available=available,
        name=tts.voice if available else "",
        title=str(getattr(tts, "title", tts.voice)) if available else "",
        sample_rate=tts.sample_rate if available else None,
        stream_format=PCM_FORMAT,
        formats=speech_formats() if available else [],
        reason=None if available else getattr(tts, "reason", None),
    )


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR, check_dir=False), name="static")
