"""Where the model runs: `STT_DEVICE=auto` takes the GPU only when the model can run there.

CTranslate2 counts the GPUs it sees, but runs on one only with the CUDA libraries it was
built for; a machine whose GPU has others (or no driver at all, as here) would leave the
server with no speech recognition. These tests make CTranslate2 believe there is a GPU
(its count of devices is the one thing replaced) and let the real library fail on it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests import audio

pytestmark = pytest.mark.speech


def _options(device: str, compute_type: str = "int8") -> Any:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    from ballsy.providers.stt.whisper import WhisperConfig, resolve_model_path

    config = WhisperConfig(model_path=resolve_model_path("embedded"), device="cpu")
    return replace(config.engine_options(), device=device, compute_type=compute_type)


@pytest.fixture
def a_gpu_that_cannot_run_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ctranslate2", reason="the speech extra is not installed")
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("this machine has a GPU CTranslate2 can count: the case is a missing one")
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)


@pytest.mark.parametrize("compute_type", ["int8", "float16"])
def test_auto_falls_back_to_the_cpu_and_still_transcribes(
    a_gpu_that_cannot_run_the_model: None,
    seven_times_eight_wav: Path,
    compute_type: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ballsy.providers.stt.audio import decode_audio
    from ballsy.providers.stt.engine import WhisperEngine, resolve_device

    assert resolve_device("auto") == "cuda"  # what CTranslate2's count alone would pick
    with caplog.at_level(logging.WARNING, logger="ballsy.providers.stt.engine"):
        engine = WhisperEngine(_options("auto", compute_type))
    assert engine.device == "cpu"
    assert any("using the CPU" in record.getMessage() for record in caplog.records)
    samples = decode_audio(seven_times_eight_wav.read_bytes(), max_seconds=60)
    assert audio.word_errors("what is seven times eight", engine.transcribe(samples).text) <= 1


def test_an_explicit_cuda_device_fails_loudly(a_gpu_that_cannot_run_the_model: None) -> None:
    from ballsy.providers.stt.engine import WhisperEngine

    # The operator asked for the GPU: quietly running on the CPU would hide the problem.
    with pytest.raises(RuntimeError, match="CUDA"):
        WhisperEngine(_options("cuda"))
