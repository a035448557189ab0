"""Sanity checks on untrusted audio before FFmpeg decodes it.

FFmpeg trusts container headers further than it should: a WAV whose `fmt ` chunk says
0 bits per sample, or names an unknown format tag (0x9999), opens as a stream with no
codec, and decoding it anyway crashed the whole process (SIGSEGV inside PyAV). These
checks refuse such inputs with `InvalidAudio` first. They are defence in depth only:
decoding runs in a worker process (see `pool.py`), so a crash these checks miss costs
one request, not the server.

WAV headers are parsed here, not by FFmpeg; other containers are checked on what PyAV
reports once it has opened them (a codec is present, a sane rate and channel count).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ballsy.errors import InvalidAudio

if TYPE_CHECKING:
    from av.audio.stream import AudioStream

MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 8

_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_IEEE_FLOAT = 0x0003
_WAVE_FORMAT_ALAW = 0x0006
_WAVE_FORMAT_MULAW = 0x0007
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# Bits per sample each accepted encoding may declare.
_WAV_BITS = {
    _WAVE_FORMAT_PCM: frozenset({8, 16, 24, 32}),
    _WAVE_FORMAT_IEEE_FLOAT: frozenset({32, 64}),
    _WAVE_FORMAT_ALAW: frozenset({8}),
    _WAVE_FORMAT_MULAW: frozenset({8}),
}
_FMT_MIN_SIZE = 16
_FMT_EXTENSIBLE_SIZE = 40
# The largest real one is WAVE_FORMAT_EXTENSIBLE's 40 bytes; a few codecs add a little.
_FMT_MAX_SIZE = 1024
# Chunks before `fmt ` (LIST, bext, junk...) are skipped, but not without end.
_MAX_CHUNKS_BEFORE_FMT = 32


def check_wav_header(data: bytes) -> None:
    """Refuse a RIFF/WAVE upload whose `fmt ` chunk is missing or not plausible audio.

    Inputs that are not WAV pass untouched (their stream is checked after opening).
    """
    if data[:4] in (b"RIFX", b"RF64", b"BW64") and data[8:12] == b"WAVE":
        # Big-endian and 64-bit WAV are legal but no recorder a browser uses writes them.
        raise InvalidAudio(_bad_wav("is big-endian or RF64, which is not accepted"))
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    fmt = _fmt_chunk(data)
    tag, channels, rate, byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < _FMT_EXTENSIBLE_SIZE:
            raise InvalidAudio(_bad_wav("has a cut-short extensible format chunk"))
        # The sub-format GUID starts with the plain format tag it stands for.
        (tag,) = struct.unpack_from("<H", fmt, 24)
    allowed_bits = _WAV_BITS.get(tag)
    if allowed_bits is None:
        raise InvalidAudio(_bad_wav(f"names format 0x{tag:04x}, not PCM, float, A-law or µ-law"))
    if not 1 <= channels <= MAX_CHANNELS:
        raise InvalidAudio(_bad_wav(f"declares {channels} channels (1 to {MAX_CHANNELS})"))
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InvalidAudio(_bad_wav(f"declares a sample rate of {rate} Hz"))
    if bits not in allowed_bits:
        raise InvalidAudio(_bad_wav(f"declares {bits} bits per sample"))
    if block_align != channels * bits // 8:
        raise InvalidAudio(
            _bad_wav(f"declares a block align of {block_align}, which does not match")
        )
    if byte_rate != rate * block_align:
        raise InvalidAudio(_bad_wav(f"declares a byte rate of {byte_rate}, which does not match"))


def check_stream(stream: AudioStream) -> None:
    """Refuse an opened audio stream FFmpeg found no decoder for, or with absurd parameters."""
    context = stream.codec_context
    if context is None or context.codec is None:
        raise InvalidAudio("The audio uses an encoding this server cannot decode.")
    rate = context.sample_rate
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InvalidAudio(f"The audio declares a sample rate of {rate} Hz, which is not audio.")
    channels = context.layout.nb_channels if context.layout is not None else 0
    if not 1 <= channels <= MAX_CHANNELS:
        raise InvalidAudio(
            f"The audio declares {channels} channels; send a mono or stereo recording."
        )


def _fmt_chunk(data: bytes) -> bytes:
    offset = 12
    for _ in range(_MAX_CHUNKS_BEFORE_FMT):
        header = data[offset : offset + 8]
        if len(header) < 8:
            break
        chunk_id, size = header[:4], int.from_bytes(header[4:], "little")
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            if size < _FMT_MIN_SIZE or len(body) < size:
                raise InvalidAudio(_bad_wav("has a cut-short format chunk"))
            if size > _FMT_MAX_SIZE:
                raise InvalidAudio(_bad_wav(f"declares a {size}-byte format chunk"))
            return body
        if chunk_id == b"data":
            break
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    raise InvalidAudio(_bad_wav("has no format chunk before its data"))


def _bad_wav(why: str) -> str:
    return (
        f"The upload could not be decoded as audio (its WAV header {why}); "
        "send WAV, WebM/Opus, Ogg, MP3 or MP4 audio."
    )
