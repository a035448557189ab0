"""Header checks that run before FFmpeg sees an upload: implausible WAV headers are
refused with `InvalidAudio` without decoding anything; real recordings pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballsy.errors import InvalidAudio
from ballsy.providers.stt.validate import check_wav_header
from tests import audio
from tests.audio_fuzz import unknown_tag_wav, wav_bytes, zero_bits_wav

# Each field zeroed, maxed and set to a value no recorder writes.
BAD_FIELDS = [
    ("tag", 0),
    ("tag", 0xFFFF),
    ("tag", 0x0055),  # MP3 inside WAV: not something a browser records
    ("tag", 0x9999),
    ("channels", 0),
    ("channels", 0xFFFF),
    ("channels", 9),
    ("rate", 0),
    ("rate", 0xFFFFFFFF),
    ("rate", 999),
    ("byte_rate", 0),
    ("byte_rate", 0xFFFFFFFF),
    ("block_align", 0),
    ("block_align", 0xFFFF),
    ("bits", 0),
    ("bits", 0xFFFF),
    ("bits", 12),
    ("fmt_size", 0),
    ("fmt_size", 0xFFFFFFFF),
    ("fmt_size", 14),
]


def test_the_reported_crashing_headers_are_refused() -> None:
    with pytest.raises(InvalidAudio, match="declares 0 bits per sample"):
        check_wav_header(zero_bits_wav())
    with pytest.raises(InvalidAudio, match="format 0x9999"):
        check_wav_header(unknown_tag_wav())


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=[f"{f}={v}" for f, v in BAD_FIELDS])
def test_implausible_header_fields_are_refused(field: str, value: int) -> None:
    with pytest.raises(InvalidAudio) as refused:
        check_wav_header(wav_bytes(**{field: value}))  # type: ignore[arg-type]
    assert refused.value.code == "invalid_audio"
    assert "could not be decoded as audio" in refused.value.message


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"channels": 2},
        {"rate": 48_000, "bits": 24},
        {"tag": 3, "bits": 32},
        {"tag": 7, "bits": 8},
        {"riff_size": 0},  # streamed WAV writers leave the sizes at 0 or 0xFFFFFFFF
        {"data_size": 0xFFFFFFFF},
    ],
)
def test_plausible_headers_pass(fields: dict[str, int]) -> None:
    check_wav_header(wav_bytes(**fields))  # type: ignore[arg-type]


def test_extensible_format_is_checked_by_its_sub_format() -> None:
    pcm = wav_bytes(tag=0xFFFE, fmt_size=40)
    # The sub-format GUID sits at byte 24 of the format chunk; this one is all zero.
    with pytest.raises(InvalidAudio, match="format 0x0000"):
        check_wav_header(pcm)


def test_missing_format_chunk_and_other_containers() -> None:
    with pytest.raises(InvalidAudio, match="no format chunk"):
        check_wav_header(b"RIFF\x10\x00\x00\x00WAVEdata\x04\x00\x00\x00\x00\x00\x00\x00")
    with pytest.raises(InvalidAudio, match="big-endian or RF64"):
        check_wav_header(b"RIFX\x00\x00\x00\x10WAVEfmt ")
    check_wav_header(b"OggS\x00\x02" + bytes(100))  # not WAV: checked after opening


def test_real_wav_files_pass(tmp_path: Path) -> None:
    spoken = audio.speak_wav("open youtube", tmp_path / "spoken.wav")
    converted = audio.fit_duration(spoken, tmp_path / "converted.wav", seconds=2)
    for path in (spoken, converted, audio.silence_wav(tmp_path / "quiet.wav", seconds=1)):
        check_wav_header(path.read_bytes())
