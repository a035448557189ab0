"""Decoding real audio files with PyAV, and the limits enforced around it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ballsy.errors import AudioTooLong, InvalidAudio, TooLarge, UnsupportedMedia
from tests import audio

pytest.importorskip("av", reason="the speech extra (PyAV) is not installed")

from ballsy.providers.stt.audio import (
    SAMPLE_RATE,
    check_content_type,
    check_size,
    decode_audio,
)


def _seconds(samples_count: int) -> float:
    return samples_count / SAMPLE_RATE


@pytest.mark.parametrize("container", ["wav", "webm", "ogg", "mp3", "mp4"])
def test_each_container_decodes_to_16khz_mono_float32(
    container: str, seven_times_eight_wav: Path, tmp_path: Path
) -> None:
    converters = {
        "wav": lambda src, dst: src,
        "webm": audio.to_webm_opus,
        "ogg": audio.to_ogg_opus,
        "mp3": audio.to_mp3,
        "mp4": audio.to_mp4_aac,
    }
    path = converters[container](seven_times_eight_wav, tmp_path / f"phrase.{container}")
    reference = decode_audio(seven_times_eight_wav.read_bytes(), max_seconds=60)

    samples = decode_audio(path.read_bytes(), max_seconds=60)

    assert samples.dtype.name == "float32"
    assert samples.ndim == 1
    # Lossy codecs add or drop a few milliseconds of padding, never more.
    assert abs(_seconds(samples.size) - _seconds(reference.size)) < 0.1
    assert 1.0 < _seconds(samples.size) < 4.0
    assert 0.01 < float(abs(samples).max()) <= 1.0


def test_corrupt_upload_is_invalid_audio() -> None:
    with pytest.raises(InvalidAudio, match="could not be decoded as audio"):
        decode_audio(audio.corrupt_audio(), max_seconds=60, content_type="audio/wav")


def test_random_bytes_are_invalid_audio() -> None:
    garbage = bytes((i * 31 + 7) % 256 for i in range(20_000))
    with pytest.raises(InvalidAudio):
        decode_audio(garbage, max_seconds=60)


def test_file_without_an_audio_stream_is_refused(tmp_path: Path) -> None:
    video = tmp_path / "video.webm"
    audio.ffmpeg(
        *("-f", "lavfi", "-i", "testsrc=size=32x32:rate=5:duration=0.4"),
        *("-c:v", "libvpx", str(video)),
    )
    with pytest.raises(InvalidAudio, match="no audio stream"):
        decode_audio(video.read_bytes(), max_seconds=60)


def test_empty_and_oversize_uploads_are_refused_before_decoding() -> None:
    with pytest.raises(InvalidAudio, match="empty"):
        check_size(0, max_bytes=1000)
    with pytest.raises(TooLarge, match=r"2\.0 MB but the limit is 1\.0 MB \(STT_MAX_BYTES\)"):
        check_size(2_000_000, max_bytes=1_000_000)
    check_size(1_000_000, max_bytes=1_000_000)


def test_overlong_wav_is_refused_from_its_declared_duration(tmp_path: Path) -> None:
    long_wav = audio.tone_wav(tmp_path / "long.wav", seconds=70)
    with pytest.raises(AudioTooLong, match="longer than 60 s"):
        decode_audio(long_wav.read_bytes(), max_seconds=60)


def test_overlong_stream_without_duration_is_refused_while_decoding(tmp_path: Path) -> None:
    tone = audio.tone_wav(tmp_path / "long.wav", seconds=90)
    streamed = audio.streamed_webm(tone)
    whole_audio = decode_audio(streamed, max_seconds=300)
    assert _seconds(whole_audio.size) == pytest.approx(90, abs=0.1)

    started = time.perf_counter()
    with pytest.raises(AudioTooLong, match="longer than 10 s"):
        decode_audio(streamed, max_seconds=10)
    early = time.perf_counter() - started
    started = time.perf_counter()
    decode_audio(streamed, max_seconds=300)
    whole = time.perf_counter() - started
    # Refused after decoding just past 10 s of 90 s, so in a fraction of the full time.
    assert early < whole / 2


def test_truncated_recording_keeps_what_decoded(seven_times_eight_wav: Path) -> None:
    whole = audio.streamed_webm(seven_times_eight_wav)
    full = decode_audio(whole, max_seconds=60)
    head = decode_audio(whole[: len(whole) // 2], max_seconds=60)
    assert 0 < head.size < full.size


def test_a_later_chunk_alone_does_not_decode(seven_times_eight_wav: Path) -> None:
    chunks = audio.split_chunks(audio.streamed_webm(seven_times_eight_wav), size=2000)
    assert len(chunks) >= 3
    with pytest.raises(InvalidAudio):
        decode_audio(b"".join(chunks[1:]), max_seconds=60)


def test_silence_decodes_to_zeros(tmp_path: Path) -> None:
    quiet = audio.silence_wav(tmp_path / "quiet.wav", seconds=1.5)
    samples = decode_audio(quiet.read_bytes(), max_seconds=60)
    assert _seconds(samples.size) == pytest.approx(1.5, abs=0.01)
    assert float(abs(samples).max()) == 0.0


@pytest.mark.parametrize(
    "content_type",
    [None, "", "audio/webm;codecs=opus", "video/webm", "audio/wav", "application/octet-stream"],
)
def test_audio_content_types_are_accepted(content_type: str | None) -> None:
    check_content_type(content_type)


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "image/png"])
def test_non_audio_content_types_are_refused(content_type: str) -> None:
    with pytest.raises(UnsupportedMedia, match="is not audio"):
        check_content_type(content_type)
