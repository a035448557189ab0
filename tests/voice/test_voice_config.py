"""What the server knows about its voice before speaking: the sample rate in its config."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballsy.providers.tts.voices import config_sample_rate, resolve_voice
from tests.voice.conftest import require_voice


def test_the_packaged_voice_names_its_rate() -> None:
    require_voice()
    assert config_sample_rate(resolve_voice("joe").config_path) == 22050


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '{"audio": {}}', '{"audio": {"sample_rate": "22050"}}'],
)
def test_a_config_that_does_not_say_gives_no_rate(tmp_path: Path, text: str) -> None:
    config = tmp_path / "voice.onnx.json"
    config.write_text(text, encoding="utf-8")
    assert config_sample_rate(config) is None
    assert config_sample_rate(tmp_path / "absent.onnx.json") is None
