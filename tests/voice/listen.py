"""Helpers for voice tests: read a spoken reply off the WebSocket, and transcribe it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SpokenReply:
    """Everything a client got for one turn, in order, with each sentence's PCM."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    audio: dict[int, bytearray] = field(default_factory=dict)
    sample_rate: int = 0

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def pcm(self) -> bytes:
        return b"".join(bytes(self.audio[seq]) for seq in sorted(self.audio))


def read_until(ws: Any, reply: SpokenReply, *kinds: str) -> dict[str, Any]:
    """Read frames into `reply` until a JSON message of one of `kinds` arrives."""
    current: int | None = None
    while True:
        frame = ws.receive()
        if frame.get("bytes") is not None:
            assert current is not None, "audio arrived outside voice_start/voice_end"
            reply.audio[current].extend(frame["bytes"])
            continue
        message = json.loads(frame["text"])
        reply.messages.append(message)
        if message["type"] == "voice_start":
            current = message["seq"]
            reply.audio[current] = bytearray()
            reply.sample_rate = message["sample_rate"]
            assert message["format"] == "pcm_s16le"
        elif message["type"] == "voice_end":
            assert message["seq"] == current
            current = None
        if message["type"] in kinds:
            return message


def transcribe_pcm(engine: Any, pcm: bytes, sample_rate: int) -> str:
    """What the embedded recogniser hears in 16-bit mono PCM."""
    from ballsy.providers.stt.audio import decode_audio
    from ballsy.providers.tts.formats import wav_from_pcm

    samples = decode_audio(wav_from_pcm(pcm, sample_rate), max_seconds=60, content_type="audio/wav")
    return str(engine.transcribe(samples).text)
