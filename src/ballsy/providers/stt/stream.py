"""One spoken utterance arriving in pieces, as the browser's MediaRecorder sends it.

MediaRecorder emits a WebM (or MP4) stream cut into chunks at arbitrary byte offsets:
only the first chunk carries the container header, so no later chunk decodes on its
own. The chunks of an utterance are therefore kept whole, first one included, and
transcribed together when the utterance ends. The byte limit is enforced as chunks
arrive, so an endless stream is refused early instead of buffered.
"""

from __future__ import annotations

from ballsy.errors import BadRequest, InvalidAudio, TooLarge
from ballsy.providers.stt.base import SpeechToText, Transcript


class AudioUtterance:
    """Accumulates the binary chunks of one utterance (between `start` and `end`).

    `add` raises `TooLarge` once the total passes `max_bytes`; the buffered audio is
    dropped then, and every later `add` or `finish` raises the same error, so the
    caller can discard the utterance and ignore its remaining frames.
    """

    def __init__(self, *, max_bytes: int, content_type: str | None = None) -> None:
        self.max_bytes = max_bytes
        self.content_type = content_type
        self._chunks: list[bytes] = []
        self._size = 0
        self._too_large = False
        self._finished = False

    @property
    def size(self) -> int:
        """Bytes received so far."""
        return self._size

    @property
    def first_chunk(self) -> bytes | None:
        """The chunk holding the container header, once one has arrived."""
        return self._chunks[0] if self._chunks else None

    def add(self, chunk: bytes) -> None:
        """Append one chunk; empty chunks (MediaRecorder sends some) are ignored."""
        if self._finished:
            raise BadRequest("Audio arrived after the utterance ended; send audio_start first.")
        if self._too_large:
            raise self._refusal()
        if not chunk:
            return
        self._size += len(chunk)
        if self._size > self.max_bytes:
            self._too_large = True
            self._chunks.clear()  # release the memory now, not when the caller lets go
            raise self._refusal()
        self._chunks.append(chunk)

    def finish(self) -> bytes:
        """End the utterance and return its whole recording."""
        if self._too_large:
            raise self._refusal()
        self._finished = True
        if not self._chunks:
            raise InvalidAudio("No audio arrived between the start and the end of the utterance.")
        audio = b"".join(self._chunks)
        self._chunks = [audio]
        return audio

    async def transcribe(self, stt: SpeechToText) -> Transcript:
        """Finish the utterance and transcribe it with `stt`."""
        return await stt.transcribe(self.finish(), content_type=self.content_type)

    def _refusal(self) -> TooLarge:
        return TooLarge(
            f"The recording passed {self.max_bytes / 1_000_000:.1f} MB, the limit "
            "(STT_MAX_BYTES); speak a shorter command."
        )
