"""`POST /api/voice`: recorded audio in, transcript and reply out (legacy shape + transcript)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from ballsy.api.deps import CallerDep, ServicesDep
from ballsy.api.errors import responses
from ballsy.api.routes.command import answer, identity_for
from ballsy.api.schemas import MAX_ID, MIN_ID, VoiceOut
from ballsy.api.speech import transcribe_for
from ballsy.api.uploads import read_upload

router = APIRouter(prefix="/api", tags=["assistant"])


@router.post(
    "/voice", response_model=VoiceOut, responses=responses(400, 401, 404, 413, 422, 429, 501, 503)
)
async def voice(
    caller: CallerDep,
    services: ServicesDep,
    request: Request,
    response: Response,
    file: Annotated[
        UploadFile, File(description="WAV, WebM/Opus, Ogg or MP3 audio of one command.")
    ],
    user_id: int | None = Query(
        default=1, ge=MIN_ID, le=MAX_ID, description="Legacy; ignored with a session token."
    ),
    timezone: str | None = Query(default=None, max_length=64),
) -> VoiceOut:
    received = time.perf_counter()
    limit = services.settings.speech.stt_max_bytes
    audio = await read_upload(file, limit)
    identity = await identity_for(
        caller,
        services,
        legacy_user_id=user_id,
        timezone=timezone,
        request=request,
        response=response,
    )
    transcript = await transcribe_for(services, identity, audio, content_type=file.content_type)
    ended = await answer(services, identity, transcript, received)
    return VoiceOut(**ended.legacy(), transcript=transcript)
