"""Audio containers built in the server from PCM (pure Python: no native code)."""

from __future__ import annotations

import struct


def wav_from_pcm(pcm: bytes, sample_rate: int) -> bytes:
    """A 16-bit mono WAV file around `pcm`."""
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        len(pcm),
    )
    return header + pcm
