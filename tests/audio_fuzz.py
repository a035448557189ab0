"""Malformed and mutated audio for the isolation tests: crafted WAV headers, seed files in
every accepted container cut short, bit-flipped and zeroed, and random bytes behind real
magic numbers. Everything is generated (ffmpeg, sox, the standard library) from a fixed
random seed, so a failing case can be regenerated and named.
"""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.audio import ffmpeg, require_tools

SEED = 20_261_203


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    data: bytes
    content_type: str


def wav_bytes(
    *,
    tag: int = 1,
    channels: int = 1,
    rate: int = 16_000,
    byte_rate: int | None = None,
    block_align: int | None = None,
    bits: int = 16,
    frames: bytes = bytes(64),
    riff_size: int | None = None,
    fmt_size: int = 16,
    data_size: int | None = None,
) -> bytes:
    """A WAV file with every header field settable, consistent unless told otherwise."""
    align = channels * bits // 8 if block_align is None else block_align
    rate_bytes = rate * align if byte_rate is None else byte_rate
    fmt = struct.pack(
        "<HHIIHH",
        tag & 0xFFFF,
        channels & 0xFFFF,
        rate & 0xFFFFFFFF,
        rate_bytes & 0xFFFFFFFF,
        align & 0xFFFF,
        bits & 0xFFFF,
    )
    fmt = fmt.ljust(max(16, min(fmt_size, 40)), b"\0")
    size = len(frames) if data_size is None else data_size
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", fmt_size & 0xFFFFFFFF)
        + fmt
        + b"data"
        + struct.pack("<I", size & 0xFFFFFFFF)
        + frames
    )
    total = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", total & 0xFFFFFFFF) + body


def zero_bits_wav() -> bytes:
    """The reported crash: PCM, mono, 16 kHz, byte rate, block align and bits all 0 (108 bytes)."""
    return wav_bytes(bits=0, byte_rate=0, block_align=0)


def unknown_tag_wav() -> bytes:
    """The reported crash: a format tag FFmpeg has no decoder for."""
    return wav_bytes(tag=0x9999)


def wav_header_cases() -> list[Case]:
    """Each header field zeroed, maxed and set odd; unknown and odd format tags."""
    fields = {
        "tag": (0, 0xFFFF, 2, 0x55, 0x9999, 0xFFFE),
        "channels": (0, 0xFFFF, 9, 255),
        "rate": (0, 0xFFFFFFFF, 1, 999, 10_000_000),
        "byte_rate": (0, 0xFFFFFFFF, 1),
        "block_align": (0, 0xFFFF, 3),
        "bits": (0, 0xFFFF, 1, 12, 64, 255),
        "riff_size": (0, 0xFFFFFFFF, 4),
        "fmt_size": (0, 0xFFFFFFFF, 2, 40),
        "data_size": (0, 0xFFFFFFFF, 1),
    }
    cases = [
        Case("wav-0-bits", zero_bits_wav(), "audio/wav"),
        Case("wav-tag-0x9999", unknown_tag_wav(), "audio/wav"),
    ]
    for field, values in fields.items():
        for value in values:
            data = wav_bytes(**{field: value})  # type: ignore[arg-type]
            cases.append(Case(f"wav-{field}-{value}", data, "audio/wav"))
    return cases


def seed_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """One second of tone with noise in each container (tone: no speech, so quick)."""
    require_tools("ffmpeg")
    source = folder / "source.wav"
    with wave.open(str(source), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        rng = random.Random(SEED)
        out.writeframes(
            b"".join(
                struct.pack(
                    "<h", int(4000 * ((i * 440 // 16_000) % 2 - 0.5) + rng.randint(-800, 800))
                )
                for i in range(16_000)
            )
        )
    formats = {
        "webm": ("-c:a libopus -b:a 24k -f webm", "audio/webm"),
        "ogg-opus": ("-c:a libopus -b:a 24k -f ogg", "audio/ogg"),
        "ogg-vorbis": ("-c:a libvorbis -f ogg", "audio/ogg"),
        "mp3": ("-c:a libmp3lame -b:a 32k -f mp3", "audio/mpeg"),
        "flac": ("-c:a flac -f flac", "audio/flac"),
        "mp4": ("-c:a aac -b:a 32k -f mp4", "audio/mp4"),
        "wav": ("-c:a pcm_s16le -f wav", "audio/wav"),
    }
    seeds: dict[str, tuple[Path, str]] = {}
    for name, (args, content_type) in formats.items():
        path = folder / f"seed.{name}"
        ffmpeg("-i", str(source), *args.split(), str(path))
        seeds[name] = (path, content_type)
    if shutil.which("sox"):
        # sox writes its own headers (a second WAV writer, and AIFF).
        for name, content_type in (("aiff", "audio/aiff"), ("sox.wav", "audio/wav")):
            path = folder / f"seed.{name}"
            subprocess.run(["sox", str(source), str(path)], check=True, timeout=60)
            seeds[name.replace(".", "-")] = (path, content_type)
    return seeds


def mutations(name: str, data: bytes, content_type: str, rng: random.Random) -> Iterator[Case]:
    """Cut short, bit-flipped, zeroed and shuffled versions of one seed file."""
    size = len(data)
    for cut in (4, 12, 44, 100, size // 4, size // 2, size - 7):
        if 0 < cut < size:
            yield Case(f"{name}-cut-{cut}", data[:cut], content_type)
    for round_ in range(12):
        flipped = bytearray(data)
        # Most flips land in the first kilobyte: that is where the headers are.
        region = 1024 if round_ % 2 == 0 else size
        for _ in range(1 + round_ % 5):
            position = rng.randrange(min(region, size))
            flipped[position] ^= 1 << rng.randrange(8)
        yield Case(f"{name}-flip-{round_}", bytes(flipped), content_type)
    for start in (0, 4, 8, 16, 32):
        zeroed = bytearray(data)
        zeroed[start : start + 16] = bytes(16)
        yield Case(f"{name}-zero-{start}", bytes(zeroed), content_type)
    head = data[:64]
    yield Case(f"{name}-random-tail", head + rng.randbytes(2048), content_type)
    yield Case(f"{name}-header-repeated", head * 50, content_type)


MAGIC_NUMBERS = {
    "riff-wave": b"RIFF\x00\x10\x00\x00WAVE",
    "rifx": b"RIFX\x00\x00\x10\x00WAVE",
    "rf64": b"RF64\xff\xff\xff\xffWAVE",
    "ogg": b"OggS\x00\x02",
    "id3": b"ID3\x04\x00\x00",
    "mpeg-frame": b"\xff\xfb\x90\x64",
    "flac": b"fLaC\x00\x00\x00\x22",
    "ebml": b"\x1a\x45\xdf\xa3",
    "mp4": b"\x00\x00\x00\x20ftypisom",
    "aiff": b"FORM\x00\x00\x10\x00AIFF",
    "caf": b"caff\x00\x01\x00\x00",
    "au": b".snd\x00\x00\x00\x18",
    "amr": b"#!AMR\n",
    "wavpack": b"wvpk",
}


def magic_cases(rng: random.Random) -> list[Case]:
    """Random bytes behind each container's magic number, at a few lengths."""
    return [
        Case(f"magic-{name}-{length}", magic + rng.randbytes(length), "application/octet-stream")
        for name, magic in MAGIC_NUMBERS.items()
        for length in (0, 50, 4000)
    ]


def corpus(folder: Path) -> list[Case]:
    """The whole fuzz corpus, in a fixed order."""
    rng = random.Random(SEED)
    cases = wav_header_cases()
    for name, (path, content_type) in seed_files(folder).items():
        data = path.read_bytes()
        cases.append(Case(f"{name}-intact", data, content_type))
        cases.extend(mutations(name, data, content_type, rng))
    cases.extend(magic_cases(rng))
    return cases
