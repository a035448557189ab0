"""Raw 16 kHz mono PCM16 (little-endian), the format the page streams while listening.

A stream of raw samples needs no container and no codec: any two bytes are a sample,
so nothing here can be crafted to break a decoder. The server process only measures
loudness (`frame_rms`, pure Python: no NumPy in the server); the samples reach the
model through the worker processes like any other upload, declared as `PCM_MIME`.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING

from ballsy.errors import AudioTooLong, InvalidAudio

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2
BYTES_PER_SECOND = SAMPLE_RATE * BYTES_PER_SAMPLE
PCM_MIME = "audio/pcm;rate=16000"
_FULL_SCALE = 32768.0


def is_pcm(content_type: str | None) -> bool:
    """Whether `content_type` declares this raw format (rate 16000, the only one taken)."""
    if not content_type:
        return False
    media_type, _, params = content_type.partition(";")
    if media_type.strip().lower() not in {"audio/pcm", "audio/l16"}:
        return False
    fields = dict(
        part.strip().lower().partition("=")[::2] for part in params.split(";") if part.strip()
    )
    return fields.get("rate", "16000") == "16000" and fields.get("channels", "1") == "1"


def seconds(byte_count: int) -> float:
    return byte_count / BYTES_PER_SECOND


def frame_rms(pcm: bytes | bytearray | memoryview) -> float:
    """The loudness (root mean square, 0..1 of full scale) of PCM16 samples."""
    samples = array("h")
    samples.frombytes(bytes(pcm))
    if not samples:
        return 0.0
    return math.sqrt(sum(value * value for value in samples) / len(samples)) / _FULL_SCALE


def pcm_samples(data: bytes, *, max_seconds: float) -> npt.NDArray[np.float32]:
    """PCM16 bytes as float32 samples in -1..1 (run in the worker, where NumPy is)."""
    import numpy as np

    if not data or len(data) % BYTES_PER_SAMPLE:
        raise InvalidAudio("Raw PCM audio must be a whole number of 16-bit samples.")
    if seconds(len(data)) > max_seconds:
        raise AudioTooLong(
            f"The audio is longer than {max_seconds:g} s, the limit (STT_MAX_SECONDS); "
            "send a shorter recording."
        )
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / np.float32(_FULL_SCALE)
