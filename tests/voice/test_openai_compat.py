"""The OpenAI-compatible speech endpoints, driven by the official `openai` SDK against a
real `ballsy serve` (real Piper and recogniser workers)."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import BallsyProcess
from tests.voice.conftest import require_voice

pytestmark = [pytest.mark.slow, pytest.mark.speech]

OPERATOR_KEY = "test-operator-key-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BallsyProcess]:
    require_voice()
    tmp = tmp_path_factory.mktemp("openai-compat")
    process = BallsyProcess(
        {
            "DATA_DIR": str(tmp / "data"),
            "STT_ENABLED": "true",
            "TTS_ENABLED": "true",
            "OPERATOR_API_KEYS": OPERATOR_KEY,
            "RATE_LIMIT_ENABLED": "true",
        },
        log_path=tmp / "serve.log",
    ).start()
    try:
        process.wait_healthy(timeout=60)
        yield process
    finally:
        process.kill()


def _client(server: BallsyProcess, key: str) -> Any:
    import openai

    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0, timeout=120)


def _session_token(server: BallsyProcess) -> str:
    response = httpx.post(f"{server.base_url}/api/session", timeout=30)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def test_text_to_speech_to_text_round_trip(server: BallsyProcess, tmp_path: Path) -> None:
    client = _client(server, _session_token(server))
    spoken = client.audio.speech.create(
        model="tts-1", voice="alloy", input="What is seven times eight?", response_format="wav"
    )
    audio = spoken.read()
    with wave.open(io.BytesIO(audio)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        assert wav.getnframes() / wav.getframerate() > 0.5
    path = tmp_path / "question.wav"
    path.write_bytes(audio)
    with path.open("rb") as handle:
        heard = client.audio.transcriptions.create(model="whisper-1", file=handle)
    words = heard.text.lower().replace("?", "").replace(",", "")
    assert "seven times eight" in words or "7 times 8" in words, heard.text

    # verbose_json and text, through an operator key this time.
    operator = _client(server, OPERATOR_KEY)
    with path.open("rb") as handle:
        verbose = operator.audio.transcriptions.create(
            model="whisper-1", file=handle, response_format="verbose_json"
        )
    assert verbose.duration > 0.5 and "times" in verbose.text.lower()
    with path.open("rb") as handle:
        text = operator.audio.transcriptions.create(
            model="whisper-1", file=handle, response_format="text"
        )
    assert "times" in str(text).lower()


def test_encoded_formats_and_raw_pcm(server: BallsyProcess) -> None:
    client = _client(server, OPERATOR_KEY)
    pcm = client.audio.speech.create(
        model="tts-1", voice="joe", input="Fifty six.", response_format="pcm"
    ).read()
    assert len(pcm) % 2 == 0 and len(pcm) > 22050  # over half a second of 16-bit audio
    opus = client.audio.speech.create(
        model="tts-1", voice="joe", input="Fifty six.", response_format="opus"
    ).read()
    assert opus[:4] == b"OggS" and b"OpusHead" in opus[:100]
    # The SDK's default format (mp3) works too.
    mp3 = client.audio.speech.create(model="tts-1", voice="joe", input="Fifty six.").read()
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF


def test_models_lists_speech_and_transcription(server: BallsyProcess) -> None:
    ids = {m.id for m in _client(server, OPERATOR_KEY).models.list()}
    assert {"tts-1", "whisper-1"} <= ids


def test_keys_are_checked_and_bad_input_is_refused(server: BallsyProcess) -> None:
    import openai

    with pytest.raises(openai.AuthenticationError):
        _client(server, "not-a-key").models.list()
    client = _client(server, OPERATOR_KEY)
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.audio.speech.create(model="tts-1", voice="joe", input="x", speed=9.0)
    assert "speed" in str(refused.value)
    too_long = "word " * 2000
    with pytest.raises(openai.APIStatusError) as large:
        client.audio.speech.create(model="tts-1", voice="joe", input=too_long)
    assert large.value.status_code == 413
    with pytest.raises(openai.APIStatusError) as garbage:
        client.audio.transcriptions.create(
            model="whisper-1", file=("noise.wav", b"RIFF not really audio", "audio/wav")
        )
    assert garbage.value.status_code == 422
