"""Transcribing a file from disk, for `ballsy transcribe FILE`."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path

from ballsy.errors import NotFound
from ballsy.providers.stt.audio import check_size
from ballsy.providers.stt.base import SpeechToText, Transcript


async def transcribe_file(path: Path, stt: SpeechToText) -> Transcript:
    """Read `path` (refusing it before reading when it is over the size limit) and transcribe it."""
    audio = await asyncio.to_thread(_read_capped, path, stt.max_bytes)
    content_type, _ = mimetypes.guess_type(path.name)
    return await stt.transcribe(audio, content_type=content_type)


def _read_capped(path: Path, max_bytes: int | None) -> bytes:
    if not path.is_file():
        raise NotFound(f"No audio file at {path}.")
    if max_bytes is not None:
        check_size(path.stat().st_size, max_bytes=max_bytes)
        with path.open("rb") as file:
            # Read one byte past the limit: a file that grew since stat() is still refused.
            audio = file.read(max_bytes + 1)
        check_size(len(audio), max_bytes=max_bytes)
        return audio
    return path.read_bytes()
