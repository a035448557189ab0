"""Fixtures for speech-to-text tests: generated audio and one shared loaded model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import audio


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stt-audio")


@pytest.fixture(scope="session")
def phrase_wav(audio_dir: Path) -> Callable[[str], Path]:
    """A function returning the espeak-ng WAV of a phrase, generated once per session."""

    def make(phrase: str) -> Path:
        path = audio_dir / (phrase.replace(" ", "_") + ".wav")
        if not path.exists():
            audio.speak_wav(phrase, path)
        return path

    return make


@pytest.fixture(scope="session")
def seven_times_eight_wav(phrase_wav: Callable[[str], Path]) -> Path:
    return phrase_wav("what is seven times eight")


@pytest.fixture(scope="session")
def long_speech_wav(audio_dir: Path) -> Path:
    """About 17 s of continuous speech: long enough to keep the model busy a while."""
    return audio.speak_wav(audio.LONG_TEXT, audio_dir / "long_speech.wav")


@pytest.fixture(scope="session")
def whisper_engine() -> Any:
    """The embedded tiny.en model, loaded once for the whole session (about 1.5 s)."""
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    from ballsy.providers.stt.engine import EngineOptions, WhisperEngine
    from ballsy.providers.stt.whisper import resolve_model_path

    return WhisperEngine(
        EngineOptions(
            model_path=resolve_model_path("embedded"),
            device="cpu",
            compute_type="int8",
            cpu_threads=1,
            workers=1,
            beam_size=2,
            min_window_seconds=15,
        )
    )


@pytest.fixture
def make_stt(whisper_engine: Any) -> Iterator[Callable[..., Any]]:
    """Build a provider around the shared model with the given limits."""
    from ballsy.providers.stt.whisper import WhisperConfig, WhisperSpeechToText

    def factory(**overrides: Any) -> WhisperSpeechToText:
        config = WhisperConfig(model_path=whisper_engine.options.model_path, **overrides)
        return WhisperSpeechToText(config, engine=whisper_engine)

    yield factory
