"""The listening session's scheduling, with a speech model stand-in that records each
decode: partials only on a free slot and within the instance's gate, the final reusing the
decode that heard everything, and a fresh final decode when none did."""

from __future__ import annotations

import asyncio
import math
import struct
from typing import Any

from ballsy.providers.stt.base import SpeechToText, Transcript
from ballsy.providers.stt.listen import Listening, ListenOptions
from ballsy.providers.stt.pcm import BYTES_PER_SECOND, PCM_MIME

FRAME = int(0.1 * BYTES_PER_SECOND)


def _tone(seconds: float) -> bytes:
    count = int(seconds * 16_000)
    return struct.pack(
        f"<{count}h", *(int(9000 * math.sin(2 * math.pi * 220 * i / 16_000)) for i in range(count))
    )


def _silence(seconds: float) -> bytes:
    return bytes(int(seconds * BYTES_PER_SECOND))


class CountingStt(SpeechToText):
    """Answers how many seconds it was given; `busy` makes previews find no free slot."""

    def __init__(self) -> None:
        self.busy = False
        self.previews: list[int] = []
        self.finals: list[int] = []

    async def transcribe(self, audio: bytes, *, content_type: str | None = None) -> Transcript:
        assert content_type == PCM_MIME
        self.finals.append(len(audio))
        return self._heard(audio)

    async def transcribe_if_free(
        self, audio: bytes, *, content_type: str | None = None
    ) -> Transcript | None:
        if self.busy:
            return None
        self.previews.append(len(audio))
        await asyncio.sleep(0)  # a real decode returns later
        return self._heard(audio)

    @staticmethod
    def _heard(audio: bytes) -> Transcript:
        seconds = len(audio) / BYTES_PER_SECOND
        return Transcript(f"{seconds:.1f} seconds", "en", seconds, 0.01)


async def _stream(stt: CountingStt, pcm: bytes, **options: Any) -> tuple[list[str], str, str]:
    partials: list[str] = []

    async def on_partial(text: str) -> None:
        partials.append(text)

    session = Listening(ListenOptions(**options)).session(stt, on_partial)
    ended = None
    for offset in range(0, len(pcm), FRAME):
        ended = session.feed(pcm[offset : offset + FRAME])
        for _ in range(3):  # let a started decode finish, as time passing would
            await asyncio.sleep(0)
        if ended:
            break
    assert ended is not None
    final = await session.final()
    return partials, ended, final.text


async def test_partials_while_speaking_and_a_final_that_reuses_the_last_one() -> None:
    stt = CountingStt()
    partials, ended, final = await _stream(stt, _silence(0.5) + _tone(2.0) + _silence(1.0))
    assert ended == "silence"
    assert len(partials) >= 3, partials  # about every 0.5 s of speech, and at the pause
    assert stt.finals == [], "the final decoded again instead of reusing the partial"
    assert final == partials[-1]


async def test_under_load_partials_are_skipped_and_the_final_still_decodes() -> None:
    stt = CountingStt()
    stt.busy = True
    partials, ended, final = await _stream(stt, _silence(0.5) + _tone(2.0) + _silence(1.0))
    assert ended == "silence"
    assert partials == [] and stt.previews == []
    assert len(stt.finals) == 1
    # From a little before the speech to the end of the stream: the speech is all there.
    assert stt.finals[0] >= len(_tone(2.0))
    assert final.endswith("seconds")


async def test_no_partials_when_the_gate_is_closed() -> None:
    stt = CountingStt()
    partials, _, _ = await _stream(stt, _silence(0.5) + _tone(1.5) + _silence(1.0), max_partials=0)
    assert partials == [] and stt.previews == [] and len(stt.finals) == 1


async def test_silence_alone_ends_without_speech_and_long_speech_hits_the_limit() -> None:
    stt = CountingStt()
    partials: list[str] = []

    async def on_partial(text: str) -> None:
        partials.append(text)

    quiet = Listening(ListenOptions(no_speech_seconds=1.0)).session(stt, on_partial)
    reasons = {quiet.feed(_silence(0.1)) for _ in range(12)}
    assert "no_speech" in reasons
    loud = Listening(ListenOptions(max_seconds=2.0)).session(stt, on_partial)
    reasons = {loud.feed(_tone(0.1)) for _ in range(25)}
    assert "limit" in reasons
    assert loud.audio_seconds == 2.0
