"""Continuous listening: one live utterance streamed as raw PCM, heard while it is spoken.

The page streams 16 kHz PCM16 while it listens (see api/ws_protocol.py). For each
stream a `ListeningSession`:

- finds the speech and the end of the turn (`endpoint.EnergyEndpointer`, audio time);
- every `partial_interval_seconds` of audio re-decodes the growing utterance with the
  warm model in the speech worker pool and reports the words (`on_partial`). Partials
  only take a transcription slot that is free *now* and at most `max_partials` run at
  once on this instance (`Listening.gate`), so under load they thin out and the final
  transcripts queue as before;
- as soon as the speaker falls silent it decodes once more, so when the silence has
  lasted `silence_seconds` the final transcript is usually that decode, already done:
  the final reuses the partial work instead of starting again;

Audio time, not wall-clock time, drives everything, so load on this machine or late
timers in the browser change how fast an answer comes, never what is heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ballsy.errors import BadRequest
from ballsy.providers.stt.base import SpeechToText, Transcript
from ballsy.providers.stt.endpoint import FRAME_BYTES, EnergyEndpointer
from ballsy.providers.stt.pcm import BYTES_PER_SAMPLE, BYTES_PER_SECOND, PCM_MIME, seconds

log = logging.getLogger(__name__)

# A decode that starts this long into a pause is taken to cover everything said, so the
# final reuses it. Shorter gaps happen between words: at 0.12 s the pause in "times
# eight" (espeak-ng) started a decode that missed "eight" in half the runs, and the final
# then had to decode again (bench/bench_listen.py).
_SETTLED_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class ListenOptions:
    """Built from Settings in wiring.py (the LISTEN_* settings)."""

    silence_seconds: float = 0.6
    partial_interval_seconds: float = 0.5
    no_speech_seconds: float = 8.0
    max_seconds: float = 60.0
    max_partials: int = 1
    # Audio kept before the detected start of speech, so a soft first sound is decoded too.
    lead_seconds: float = 0.4


@dataclass
class PartialGate:
    """How many partial decodes run now on this instance, at most `limit`."""

    limit: int
    running: int = 0

    def try_enter(self) -> bool:
        if self.running >= self.limit:
            return False
        self.running += 1
        return True

    def leave(self) -> None:
        self.running = max(0, self.running - 1)


@dataclass
class Listening:
    """The instance's listening: its options and its partial gate."""

    options: ListenOptions
    gate: PartialGate = field(init=False)

    def __post_init__(self) -> None:
        self.gate = PartialGate(self.options.max_partials)

    def session(
        self, stt: SpeechToText, on_partial: Callable[[str], Awaitable[None]]
    ) -> ListeningSession:
        return ListeningSession(stt, self.options, self.gate, on_partial)


@dataclass(slots=True)
class _Decode:
    """One decode of the utterance up to `end` (bytes into the stream)."""

    end: int
    task: asyncio.Task[Transcript | None]


class ListeningSession:
    """One streamed utterance; `feed` returns why the turn ended, once it has."""

    def __init__(
        self,
        stt: SpeechToText,
        options: ListenOptions,
        gate: PartialGate,
        on_partial: Callable[[str], Awaitable[None]],
    ) -> None:
        self.stt = stt
        self.options = options
        self.gate = gate
        self.on_partial = on_partial
        self.pcm = bytearray()
        self.endpointer = EnergyEndpointer()
        self.ended: str | None = None
        self.partials_sent = 0
        self.partials_skipped = 0
        self._decode: _Decode | None = None  # the latest partial decode, running or done
        self._last_text = ""
        self._next_partial_at = 0

    # --- audio in -------------------------------------------------------------------------
    @property
    def audio_seconds(self) -> float:
        return seconds(len(self.pcm))

    @property
    def level(self) -> float:
        return self.endpointer.level

    def feed(self, data: bytes) -> str | None:
        """Add a chunk; the reason the turn ended ("silence", "limit", "no_speech"), or None."""
        if self.ended is not None:
            return self.ended
        if len(data) % BYTES_PER_SAMPLE:
            raise BadRequest("Streamed audio frames must hold whole 16-bit samples.")
        room = int(self.options.max_seconds * BYTES_PER_SECOND) - len(self.pcm)
        data = data[: max(0, room)]
        self.pcm.extend(data)
        self.endpointer.feed(data)
        ended = self._ended_by_audio(room <= len(data))
        if ended is not None:
            self.ended = ended
            return ended
        self._maybe_decode()
        return None

    def stop(self) -> str:
        """The client said the utterance is over (a click); returns the reason."""
        if self.ended is None:
            self.ended = "stopped" if self.endpointer.heard_speech else "no_speech"
        return self.ended

    def _ended_by_audio(self, full: bool) -> str | None:
        options = self.options
        if self.endpointer.heard_speech:
            if self.endpointer.silence_bytes >= options.silence_seconds * BYTES_PER_SECOND:
                return "silence"
            return "limit" if full else None
        if full or self.audio_seconds >= options.no_speech_seconds:
            return "no_speech"
        return None

    # --- partial transcripts ------------------------------------------------------------
    def _speech_bytes(self, end: int) -> bytes:
        """The utterance from a little before the speech began up to `end`."""
        started = self.endpointer.state.started_at or 0
        lead = int(self.options.lead_seconds * BYTES_PER_SECOND)
        start = max(0, started - lead)
        start -= start % FRAME_BYTES
        return bytes(self.pcm[start:end])

    def _covers_all_speech(self, end: int) -> bool:
        """Whether audio up to `end` reaches past the last word said so far."""
        settled = self.endpointer.state.last_voice_end + _SETTLED_SECONDS * BYTES_PER_SECOND
        return end >= settled

    def _maybe_decode(self) -> None:
        if not self.endpointer.heard_speech:
            return
        decode = self._decode
        if decode is not None and not decode.task.done():
            return
        end = len(self.pcm)
        paused = self._covers_all_speech(end) and (
            decode is None or not self._covers_all_speech(decode.end)
        )
        # A regular partial only while the voice is on: one started as the speaker falls
        # silent would hold the worker when the decode that hears everything is due.
        speaking = self.endpointer.silence_bytes <= FRAME_BYTES
        if not paused and (end < self._next_partial_at or not speaking):
            return
        if not self.gate.try_enter():
            self.partials_skipped += 1
            return
        self._next_partial_at = end + int(self.options.partial_interval_seconds * BYTES_PER_SECOND)
        audio = self._speech_bytes(end)
        task = asyncio.get_running_loop().create_task(self._run_partial(audio))
        self._decode = _Decode(end, task)

    async def _run_partial(self, audio: bytes) -> Transcript | None:
        try:
            transcript = await self.stt.transcribe_if_free(audio, content_type=PCM_MIME)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a partial is a preview: the final reports failures
            log.debug("partial transcript failed: %s", type(exc).__name__)
            return None
        finally:
            self.gate.leave()
        if transcript is None:
            self.partials_skipped += 1
            return None
        text = transcript.text.strip()
        if text and text != self._last_text and self.ended is None:
            self._last_text = text
            self.partials_sent += 1
            with contextlib.suppress(Exception):
                await self.on_partial(text)
        return transcript

    # --- the final transcript ----------------------------------------------------------------
    async def final(self) -> Transcript:
        """The whole utterance's transcript: the last partial when it heard everything said
        (awaited if still running), else one more decode, queued like any other."""
        decode = self._decode
        if decode is not None and self._covers_all_speech(decode.end):
            reused = await asyncio.shield(decode.task)
            if reused is not None:
                return Transcript(
                    text=reused.text,
                    language=reused.language,
                    audio_seconds=self.audio_seconds,
                    processing_seconds=0.0,
                )
        audio = self._speech_bytes(len(self.pcm))
        heard = await self.stt.transcribe(audio, content_type=PCM_MIME)
        return Transcript(
            text=heard.text,
            language=heard.language,
            audio_seconds=self.audio_seconds,
            processing_seconds=heard.processing_seconds,
        )

    def close(self) -> None:
        """Stop a partial decode this session no longer needs (the socket went away)."""
        self.ended = self.ended or "closed"
        decode = self._decode
        if decode is not None and not decode.task.done():
            decode.task.cancel()
