"""The wake word models Ballsy can use: the ones `pymicro-wakeword` 2.5.0 ships.

Plain data, importable without the package, so settings and the capabilities route can
name the models without loading TensorFlow Lite.

Licences, checked in the wheel: `pymicro-wakeword` (code, the bundled models and the
TensorFlow Lite C library it ships, built from tphakala/tflite_c) is Apache-2.0, and so is
`pymicro-features`. The four models are Kevin Ahrendt's microWakeWord models (the
ESPHome wake words), shipped in that wheel under its Apache-2.0 licence, which allows use,
modification and redistribution, commercial included. Apache-2.0 grants no trademark
rights (section 6): "Alexa" is Amazon's trademark and "Mycroft" Mycroft AI's, so a
product that others use should not wake to them as if it were those assistants; a
household's own server is unaffected. The models were trained on synthetic speech and
on noise corpora, some under non-commercial licences (WHAM!, per microWakeWord's data
sources); the trained weights themselves are released under Apache-2.0.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class WakeModel:
    name: str  # the WAKE_WORD setting's value and the model's file stem
    phrase: str  # how the page shows it
    say: str  # what a user says (the benchmark's text for speech synthesis)
    languages: tuple[str, ...]
    licence: str
    note: str = ""


_LICENCE = "Apache-2.0 (pymicro-wakeword 2.5.0)"
_TRADEMARK = "Apache-2.0 grants no trademark rights"

WAKE_MODELS: dict[str, WakeModel] = {
    model.name: model
    for model in (
        WakeModel(
            "okay_nabu",
            "Okay Nabu",
            "okay nabu",
            ("en", "nl", "fr", "de", "it", "es", "sv"),
            _LICENCE,
        ),
        WakeModel("hey_jarvis", "Hey Jarvis", "hey jarvis", ("en",), _LICENCE),
        WakeModel(
            "hey_mycroft",
            "Hey Mycroft",
            "hey mycroft",
            ("en",),
            _LICENCE,
            f"“Mycroft” is Mycroft AI's trademark; {_TRADEMARK}.",
        ),
        WakeModel(
            "alexa",
            "Alexa",
            "alexa",
            ("en",),
            _LICENCE,
            f"“Alexa” is Amazon's trademark; {_TRADEMARK}: do not offer it to others as "
            "if Ballsy were Amazon's assistant.",
        ),
    )
}


def package_dir() -> Path | None:
    """Where `pymicro_wakeword` is installed, found without importing it."""
    try:
        spec = importlib.util.find_spec("pymicro_wakeword")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def model_size_bytes(name: str) -> int:
    """The model file's size on disk (the shared TensorFlow Lite library not counted)."""
    folder = package_dir()
    if folder is None:
        return 0
    path = folder / "models" / f"{name}.tflite"
    return path.stat().st_size if path.is_file() else 0
