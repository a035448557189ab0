"""A long recording streamed over the WebSocket as the page streams it, transcribed by
the real speech model with every budget on: all of it arrives and all of it is heard."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import audio

SECONDS = 25
CHUNK_SECONDS = 0.25  # the page's MediaRecorder timeslice (TIMESLICE_MS in listener.js)


@pytest.mark.speech
@pytest.mark.slow
def test_a_25_second_recording_in_quarter_second_chunks_is_transcribed_whole(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    spoken = audio.speak_wav(audio.LONG_TEXT, tmp_path / "long.wav")
    padded = audio.fit_duration(spoken, tmp_path / "long25.wav", seconds=SECONDS)
    recording = audio.streamed_webm(padded)
    count = int(SECONDS / CHUNK_SECONDS)
    chunks = audio.split_chunks(recording, size=math.ceil(len(recording) / count))
    assert len(chunks) == count  # 100 frames: more than the whole minute's message budget

    client = make_client(
        stt_enabled=True,
        rate_limit_enabled=True,
        rate_limit_ws_messages_per_minute=60,
        rate_limit_stt_seconds_per_user_per_hour=600,
    )
    messages: list[dict[str, Any]] = []
    with client.websocket_connect("/ws/voice/1") as ws:
        ws.send_json({"type": "audio_start", "mime": "audio/webm;codecs=opus"})
        for chunk in chunks:  # back to back: harsher on a message budget than 4 a second
            ws.send_bytes(chunk)
        ws.send_json({"type": "audio_end"})
        for _ in range(200):
            message = ws.receive_json()
            messages.append(message)
            if message["type"] in {"reply_end", "error"}:
                break
    assert [m for m in messages if m["type"] == "error"] == []
    transcript = next(m["text"] for m in messages if m["type"] == "transcript")
    words = audio.normalise_words(transcript)
    # The first sentence and the last: nothing was dropped from either end.
    assert "assistant" in words and "computer" in words, transcript
    assert "language" in words and "model" in words, transcript
