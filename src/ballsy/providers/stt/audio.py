"""Audio decoding for speech-to-text: any container PyAV reads, to 16 kHz mono float32.

WAV, WebM/Opus, Ogg (Opus or Vorbis), MP3 and MP4/AAC (Safari's MediaRecorder) all go
through the same path. Headers are sanity-checked first (`validate.py`). Limits are
enforced as early as possible: the byte limit before anything is decoded, the duration
limit while decoding, so an overlong stream is refused after decoding just past the
limit rather than all of it.

PyAV and NumPy come with the `speech` extra, so they are imported inside the functions:
importing this module never fails on an install without it.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

from ballsy.errors import AudioTooLong, InvalidAudio, TooLarge, UnsupportedMedia
from ballsy.providers.stt.pcm import is_pcm, pcm_samples
from ballsy.providers.stt.validate import check_stream, check_wav_header

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    import numpy.typing as npt
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import InputContainer

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
# Browsers label MediaRecorder output video/webm or video/mp4 even when it holds only audio.
_ACCEPTED_MEDIA_PREFIXES = ("audio/", "video/")
_ACCEPTED_MEDIA_TYPES = frozenset({"application/octet-stream", "application/ogg"})
# A few damaged packets are tolerated (a recording cut mid-packet); more means garbage.
_MAX_BAD_PACKETS = 8


def check_content_type(content_type: str | None) -> None:
    """Refuse uploads whose declared type cannot be audio; no declared type is fine."""
    if not content_type:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type.startswith(_ACCEPTED_MEDIA_PREFIXES) or media_type in _ACCEPTED_MEDIA_TYPES:
        return
    raise UnsupportedMedia(
        f"Content type {media_type!r} is not audio; send WAV, WebM/Opus, Ogg, MP3 or MP4 audio."
    )


def check_size(size: int, *, max_bytes: int) -> None:
    """Refuse empty or oversize audio before any decoding."""
    if size == 0:
        raise InvalidAudio("The audio upload is empty.")
    if size > max_bytes:
        raise TooLarge(
            f"The audio is {_megabytes(size)} but the limit is {_megabytes(max_bytes)} "
            "(STT_MAX_BYTES); send a shorter recording."
        )


def decode_audio(
    data: bytes, *, max_seconds: float, content_type: str | None = None
) -> npt.NDArray[np.float32]:
    """Decode `data` to 16 kHz mono float32 samples.

    Raises `InvalidAudio` when nothing can be decoded (corrupt, not audio, no samples)
    and `AudioTooLong` as soon as the decoded audio passes `max_seconds`.
    """
    if is_pcm(content_type):  # the page's live stream: raw samples, no container
        return pcm_samples(data, max_seconds=max_seconds)
    import av
    import numpy as np

    max_samples = int(max_seconds * SAMPLE_RATE)
    chunks: list[npt.NDArray[np.float32]] = []
    total = 0
    check_wav_header(data)
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise InvalidAudio(_undecodable(content_type)) from exc
    with container:
        if not container.streams.audio:
            raise InvalidAudio("The upload holds no audio stream; send a recording with sound.")
        stream = container.streams.audio[0]
        check_stream(stream)
        _refuse_declared_overlong(container.duration, max_seconds=max_seconds)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        for frame in _decoded_frames(container, stream):
            for out in resampler.resample(frame):
                samples = _mono_samples(out)
                total += samples.size
                if total > max_samples:
                    raise _too_long(max_seconds)
                chunks.append(samples)
        chunks.extend(_mono_samples(out) for out in resampler.resample(None))
    audio = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else None
    if audio is None or audio.size == 0:
        raise InvalidAudio(_undecodable(content_type))
    if audio.size > max_samples:
        raise _too_long(max_seconds)
    return audio


def warm_decoder() -> None:
    """Decode a tenth of a second of in-memory WAV, paying PyAV's first-use cost early."""
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(bytes(2 * SAMPLE_RATE // 10))
    decode_audio(buffer.getvalue(), max_seconds=1)


def _decoded_frames(container: InputContainer, stream: AudioStream) -> Iterator[AudioFrame]:
    """Yield decoded frames, skipping a few damaged packets and stopping at a broken tail."""
    import av

    bad_packets = 0
    demuxed = container.demux(stream)
    while True:
        try:
            packet = next(demuxed)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            # A truncated upload ends in a broken packet: keep what decoded before it.
            log.debug("audio demuxing stopped early: %s", exc)
            return
        try:
            frames = stream.decode(packet)
        except av.FFmpegError:
            bad_packets += 1
            if bad_packets > _MAX_BAD_PACKETS:
                return
            continue
        yield from frames


def _mono_samples(frame: AudioFrame) -> npt.NDArray[np.float32]:
    import numpy as np

    return np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(-1)


def _refuse_declared_overlong(duration_us: int | None, *, max_seconds: float) -> None:
    # Containers that declare their length (WAV, MP3) are refused before decoding at all.
    # Streams without one (MediaRecorder WebM) are caught while decoding instead.
    if duration_us is not None and duration_us > 0 and duration_us / 1_000_000 > max_seconds + 1:
        raise _too_long(max_seconds)


def _too_long(max_seconds: float) -> AudioTooLong:
    return AudioTooLong(
        f"The audio is longer than {max_seconds:g} s, the limit (STT_MAX_SECONDS); "
        "send a shorter recording."
    )


def _undecodable(content_type: str | None) -> str:
    declared = f" (declared {content_type})" if content_type else ""
    return (
        f"The upload could not be decoded as audio{declared}; "
        "send WAV, WebM/Opus, Ogg, MP3 or MP4 audio."
    )


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
