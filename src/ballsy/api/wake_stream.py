"""A hands-free stream waiting for the wake word (`audio_start` with `"wake": true`).

While a page in hands-free mode waits to be called, it streams its microphone as it
does when listening, but the server gives that audio to the wake word detector only
(`providers/wake/service.py`): nothing is transcribed, nothing is stored, and no speech
budget is spent. When the detector hears the wake word the socket sends `wake` and the
same stream turns into ordinary live listening (`providers/stt/listen.py`), paid from the
speech budget from that moment: what is said after the wake word is the command.

A wake stream has no natural end (a page may wait for hours), so what bounds it is its
rate, not its length: audio comes in no faster than `SPEED` times real time, after a
`BURST_SECONDS` allowance (the page's one-second pre-roll, and the backlog of a tab the
browser paused for a moment). The rate is the socket's, not the stream's, so starting
stream after stream buys no new allowance. Frames beyond that are not fed to the
detector; they count against the socket's message budget instead, so a client flooding
the socket with "audio" is warned and then closed like any other flood, and no socket
makes the detector's worker hear more than `SPEED` seconds of audio a second. How many
wake streams run at once is bounded by WAKE_MAX_STREAMS (the service's listeners) and
by the sockets allowed per address and per user.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ballsy.errors import BadRequest
from ballsy.providers.stt.pcm import BYTES_PER_SAMPLE, BYTES_PER_SECOND
from ballsy.providers.wake.service import MAX_FEED_BYTES, WakeListener

# Audio seconds a socket's wake streams may send at once before the rate applies.
BURST_SECONDS = 8.0
# Audio seconds per wall-clock second, sustained (a page sends 1.0).
SPEED = 1.5


class AudioRate:
    """A token bucket in bytes of 16 kHz PCM16: `take` says whether a frame fits."""

    def __init__(
        self,
        *,
        burst_seconds: float = BURST_SECONDS,
        speed: float = SPEED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = burst_seconds * BYTES_PER_SECOND
        self.per_second = speed * BYTES_PER_SECOND
        self.clock = clock
        self.tokens = self.capacity
        self.updated = clock()

    def take(self, size: int) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if size > self.tokens:
            return False
        self.tokens -= size
        return True


class WakeWait:
    """One stream's wait for the wake word: its detector and its rate."""

    def __init__(self, listener: WakeListener, rate: AudioRate) -> None:
        self.listener = listener
        self.rate = rate
        self.fed_bytes = 0
        self.dropped_bytes = 0

    @property
    def word(self) -> str:
        return self.listener.word

    def admits(self, size: int) -> bool:
        """Whether a binary frame of `size` bytes is within the stream's rate (and so is
        not charged to the message budget); a frame that is not is dropped unheard."""
        return self.rate.take(size)

    async def feed(self, data: bytes, *, within_rate: bool) -> bytes | None:
        """Give a frame to the detector. None: not heard (yet). Bytes: the wake word was
        heard, and these are the frame's samples after the piece in which it was (the
        start of the command, often empty)."""
        if len(data) % BYTES_PER_SAMPLE:
            raise BadRequest("Streamed audio frames must hold whole 16-bit samples.")
        if not within_rate:
            self.dropped_bytes += len(data)
            return None
        for start in range(0, len(data), MAX_FEED_BYTES):
            end = start + MAX_FEED_BYTES
            self.fed_bytes += len(data[start:end])
            if await self.listener.feed(data[start:end]):
                return data[end:]
        return None

    @property
    def fed_seconds(self) -> float:
        return self.fed_bytes / BYTES_PER_SECOND

    async def aclose(self) -> None:
        await self.listener.aclose()
