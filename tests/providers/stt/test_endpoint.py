"""Server-side endpointing and the raw PCM format of live listening, on generated audio."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from ballsy.errors import AudioTooLong, InvalidAudio
from ballsy.providers.stt.endpoint import FRAME_BYTES, EnergyEndpointer
from ballsy.providers.stt.pcm import BYTES_PER_SECOND, frame_rms, is_pcm, pcm_samples
from tests.audio import require_tools, spoken_pcm


def _tone(seconds: float, amplitude: float = 0.3, frequency: float = 220.0) -> bytes:
    count = int(seconds * 16_000)
    return struct.pack(
        f"<{count}h",
        *(
            int(amplitude * 32767 * math.sin(2 * math.pi * frequency * i / 16_000))
            for i in range(count)
        ),
    )


def _silence(seconds: float) -> bytes:
    return bytes(int(seconds * BYTES_PER_SECOND))


def _feed(endpointer: EnergyEndpointer, pcm: bytes, piece: int = 3200) -> None:
    # Pieces of arbitrary size: frames are cut by the endpointer, not by the sender.
    for offset in range(0, len(pcm), piece):
        endpointer.feed(pcm[offset : offset + piece])


def test_speech_starts_at_the_voice_and_silence_is_counted_after_it() -> None:
    endpointer = EnergyEndpointer()
    _feed(endpointer, _silence(0.5) + _tone(1.0) + _silence(0.7), piece=777)
    state = endpointer.state
    assert endpointer.heard_speech
    assert state.started_at is not None
    assert abs(state.started_at / BYTES_PER_SECOND - 0.5) <= 0.03
    assert abs(state.last_voice_end / BYTES_PER_SECOND - 1.5) <= 0.03
    assert abs(endpointer.silence_bytes / BYTES_PER_SECOND - 0.7) <= 0.03


@pytest.mark.parametrize(
    ("pcm", "why"),
    [
        (_silence(3.0), "digital silence"),
        (_tone(3.0, amplitude=0.005), "sound below the minimum threshold"),
        (
            _silence(0.5) + (_tone(0.06) + _silence(0.4)) * 4,
            "clicks shorter than a syllable",
        ),
    ],
)
def test_what_is_not_speech(pcm: bytes, why: str) -> None:
    endpointer = EnergyEndpointer()
    _feed(endpointer, pcm)
    assert not endpointer.heard_speech, why
    assert endpointer.silence_bytes == 0


def test_real_speech_keeps_going_through_word_gaps(tmp_path: Path) -> None:
    require_tools("sox")
    pcm = spoken_pcm("what is seven times eight", tmp_path, lead=0.5, tail=1.0)
    endpointer = EnergyEndpointer()
    longest_gap = 0
    voice_seen = False
    for offset in range(0, len(pcm) - FRAME_BYTES, FRAME_BYTES):
        endpointer.feed(pcm[offset : offset + FRAME_BYTES])
        if endpointer.heard_speech:
            voice_seen = True
            if endpointer.state.received < len(pcm) - int(1.0 * BYTES_PER_SECOND):
                longest_gap = max(longest_gap, endpointer.silence_bytes)
    assert voice_seen
    # No pause inside the command comes near the 0.6 s that ends a turn.
    assert longest_gap / BYTES_PER_SECOND < 0.4
    assert endpointer.silence_bytes / BYTES_PER_SECOND >= 0.9


def test_pcm_format_helpers() -> None:
    assert is_pcm("audio/pcm;rate=16000")
    assert is_pcm("audio/L16; rate=16000; channels=1")
    assert not is_pcm("audio/pcm;rate=44100")
    assert not is_pcm("audio/pcm;rate=16000;channels=2")
    assert not is_pcm("audio/webm")
    assert not is_pcm(None)
    assert frame_rms(_silence(0.02)) == 0.0
    assert abs(frame_rms(_tone(0.1, amplitude=0.5)) - 0.5 / math.sqrt(2)) < 0.01
    samples = pcm_samples(struct.pack("<3h", 0, 16384, -32768), max_seconds=1)
    assert samples.tolist() == [0.0, 0.5, -1.0]
    with pytest.raises(InvalidAudio):
        pcm_samples(b"\x00\x01\x02", max_seconds=1)
    with pytest.raises(AudioTooLong):
        pcm_samples(_silence(1.5), max_seconds=1)
