"""AudioUtterance: MediaRecorder-style chunks gathered into one decodable recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballsy.errors import BadRequest, InvalidAudio, TooLarge
from ballsy.providers.stt.stream import AudioUtterance
from tests import audio


def test_chunks_reassemble_into_the_original_recording(seven_times_eight_wav: Path) -> None:
    pytest.importorskip("av", reason="the speech extra (PyAV) is not installed")
    from ballsy.providers.stt.audio import decode_audio

    recording = audio.streamed_webm(seven_times_eight_wav)
    utterance = AudioUtterance(max_bytes=len(recording), content_type="audio/webm;codecs=opus")
    for chunk in audio.split_chunks(recording, size=1500):
        utterance.add(chunk)
        utterance.add(b"")  # MediaRecorder sometimes delivers empty blobs

    assert utterance.first_chunk == recording[:1500]
    whole = utterance.finish()
    assert whole == recording
    assert utterance.size == len(recording)
    assert decode_audio(whole, max_seconds=60).size == decode_audio(recording, max_seconds=60).size


def test_byte_limit_is_enforced_as_chunks_arrive() -> None:
    utterance = AudioUtterance(max_bytes=2500)
    utterance.add(b"x" * 1000)
    utterance.add(b"x" * 1000)
    with pytest.raises(TooLarge, match="STT_MAX_BYTES"):
        utterance.add(b"x" * 1000)
    assert utterance.first_chunk is None  # the buffered audio was released
    with pytest.raises(TooLarge):
        utterance.add(b"x")
    with pytest.raises(TooLarge):
        utterance.finish()


def test_an_utterance_without_audio_is_invalid() -> None:
    utterance = AudioUtterance(max_bytes=1000)
    utterance.add(b"")
    with pytest.raises(InvalidAudio, match="No audio arrived"):
        utterance.finish()


def test_audio_after_the_end_is_refused() -> None:
    utterance = AudioUtterance(max_bytes=1000)
    utterance.add(b"abc")
    assert utterance.finish() == b"abc"
    with pytest.raises(BadRequest, match="after the utterance ended"):
        utterance.add(b"def")
