"""Real test audio: spoken phrases from espeak-ng, converted with ffmpeg.

Nothing here is a recording checked into the repository: every file is generated,
so the tests show exactly what was said. Also used by bench/bench_stt.py.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import struct
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Commands the assistant must recognise from speech, as a person would say them.
COMMAND_PHRASES = (
    "what is seven times eight",
    "what time is it",
    "open youtube",
    "tell me a joke",
    "set a timer for five minutes",
    "what is the weather like today",
    "play some relaxing music",
    "how many days until christmas",
)
# A paragraph for long audio: about 12 s at espeak's 150 words per minute.
LONG_TEXT = (
    "Ballsy is a voice assistant you can run on your own computer. "
    "It listens to a short command, works out what you meant, and answers out loud. "
    "Simple questions like the time or a sum are answered at once, "
    "and anything else goes to the language model."
)

_NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
}
# Spellings Whisper may choose for the same spoken word.
_EQUIVALENT_WORDS = {"youtube": "youtube", "you tube": "youtube"}


def require_tools(*tools: str) -> None:
    """Skip (fail in CI) when a command-line tool the audio needs is missing."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = (
            f"{', '.join(missing)} not installed; install the Debian packages "
            "espeak-ng and ffmpeg to generate test audio"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def normalise_words(text: str) -> list[str]:
    """Lower-case words without punctuation, digits for number words ("seven" -> "7")."""
    text = text.lower().replace("-", " ")
    for spelling, word in _EQUIVALENT_WORDS.items():
        text = text.replace(spelling, word)
    words = re.sub(r"[^a-z0-9' ]+", " ", text).replace("'", "").split()
    return [_NUMBER_WORDS.get(word, word) for word in words]


def word_errors(reference: str, hypothesis: str) -> int:
    """Word-level edit distance (substitutions + insertions + deletions)."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(
                    previous[j] + 1,
                    current[j - 1] + 1,
                    previous[j - 1] + (ref_word != hyp_word),
                )
            )
        previous = current
    return previous[-1]


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER: total word errors over total reference words."""
    errors = sum(word_errors(r, h) for r, h in zip(references, hypotheses, strict=True))
    words = sum(len(normalise_words(r)) for r in references)
    return errors / words if words else 0.0


def speak_wav(text: str, path: Path, *, voice: str = "en-us", words_per_minute: int = 150) -> Path:
    """Say `text` with espeak-ng into a WAV file (22.05 kHz mono)."""
    require_tools("espeak-ng")
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        timeout=60,
        capture_output=True,
    )
    return path


def spoken_pcm(text: str, folder: Path, *, lead: float = 0.5, tail: float = 2.0) -> bytes:
    """`text` spoken by espeak-ng as raw 16 kHz mono PCM16 (what the page streams), with
    `lead` and `tail` seconds of silence around it."""
    raw = speak_wav(text, folder / "raw.wav")
    out = folder / "speech.raw"
    subprocess.run(
        [
            *("sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer"),
            *("-t", "raw", str(out), "pad", str(lead), str(tail)),
        ],
        check=True,
        timeout=60,
    )
    return out.read_bytes()


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly, failing loudly."""
    require_tools("ffmpeg")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=120,
        capture_output=True,
    )


def to_webm_opus(source: Path, path: Path) -> Path:
    """WebM/Opus as Chrome's and Firefox's MediaRecorder produce it."""
    ffmpeg("-i", str(source), "-c:a", "libopus", "-b:a", "32k", "-f", "webm", str(path))
    return path


def to_ogg_opus(source: Path, path: Path) -> Path:
    ffmpeg("-i", str(source), "-c:a", "libopus", "-b:a", "32k", "-f", "ogg", str(path))
    return path


def to_mp3(source: Path, path: Path) -> Path:
    ffmpeg("-i", str(source), "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", str(path))
    return path


def to_mp4_aac(source: Path, path: Path) -> Path:
    """MP4/AAC, as Safari's MediaRecorder produces it."""
    ffmpeg("-i", str(source), "-c:a", "aac", "-b:a", "64k", "-f", "mp4", str(path))
    return path


def streamed_webm(source: Path) -> bytes:
    """WebM written to a pipe, so like MediaRecorder's it declares no duration and no cues."""
    require_tools("ffmpeg")
    result = subprocess.run(
        [
            "ffmpeg",
            *("-nostdin", "-hide_banner", "-loglevel", "error"),
            *("-i", str(source), "-c:a", "libopus", "-b:a", "32k", "-f", "webm", "pipe:1"),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    return result.stdout


def tone_wav(path: Path, *, seconds: float, frequency: int = 300) -> Path:
    """A sine tone: sound that holds no speech."""
    ffmpeg(
        *("-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}"),
        *("-ar", "16000", "-ac", "1", str(path)),
    )
    return path


def silence_wav(path: Path, *, seconds: float) -> Path:
    """Digital silence, written with the standard library."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(bytes(2 * int(16_000 * seconds)))
    return path


def fit_duration(source: Path, path: Path, *, seconds: float) -> Path:
    """Resample to 16 kHz mono and pad with silence (or cut) to exactly `seconds`."""
    ffmpeg(
        *("-i", str(source), "-af", "apad", "-t", f"{seconds:g}"),
        *("-ar", "16000", "-ac", "1", str(path)),
    )
    return path


def corrupt_audio() -> bytes:
    """Bytes that start like a WAV file but hold garbage: a broken upload."""
    garbage = bytes((i * 7919 + 13) % 251 for i in range(4000))
    return b"RIFF\x24\x10\x00\x00WAVEjunk" + garbage


def split_chunks(data: bytes, *, size: int) -> list[bytes]:
    """Cut bytes at fixed offsets, as MediaRecorder's timeslice does, ignoring structure."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def tone_with_noise_wav(
    path: Path,
    *,
    seconds: float = 3.0,
    frequency: float = 300.0,
    pulse_hz: float = 4.0,
    seed: int = 0,
) -> Path:
    """A tone pulsing at a syllable-like rate over white noise: sound, but no speech.

    Voice activity detection lets it through, and with these defaults Whisper tiny.en
    used to hear "Thank you." in it (and the assistant answered "You're welcome!").
    """
    rng = random.Random(seed)
    rate = 16_000
    frames = bytearray()
    for i in range(int(rate * seconds)):
        t = i / rate
        envelope = 0.5 + 0.5 * math.sin(2 * math.pi * pulse_hz * t)
        sample = 0.6 * envelope * math.sin(2 * math.pi * frequency * t) + rng.gauss(0, 0.05)
        frames += struct.pack("<h", max(-32767, min(32767, int(sample * 32767))))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(frames))
    return path
