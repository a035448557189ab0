"""Fixtures for Ballsy's voice: the embedded recogniser that listens to what Piper said."""

from __future__ import annotations

import importlib.util

import pytest

from tests.providers.stt.conftest import whisper_engine

__all__ = ["require_voice", "whisper_engine"]


def require_voice() -> None:
    """Skip (fail under CI) without the voice extra, without importing Piper here: the
    server process never imports it, and the tests check that."""
    if importlib.util.find_spec("piper") is None:
        pytest.skip("the voice extra is not installed: pip install 'ballsy[voice]'")
