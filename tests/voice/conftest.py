"""Fixtures for Ballsy's voice: the embedded recogniser that listens to what Piper said."""

from __future__ import annotations

from tests.providers.stt.conftest import whisper_engine

__all__ = ["whisper_engine"]
