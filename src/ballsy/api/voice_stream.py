"""Ballsy's voice on the WebSocket: each sentence of a reply spoken as soon as it is complete.

A `TurnVoice` follows one turn. Text comes in as the reply streams (`feed`) and when it
ends (`finish`); complete sentences queue up and one task per turn synthesises them in
order (off the event loop, in the voice workers, see providers/tts) and sends each as
voice_start, binary PCM frames, voice_end. While a sentence plays the next is being made,
so playback runs on without gaps. When the voice is busy or fails, the rest of the reply
goes to the client once, as voice_fallback, for the browser's own voice.

It also remembers what it sent, so a client that stops playback (barge-in) and says how
far it got can be told, and the turn stored, with exactly what was heard (`heard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ballsy.api import ws_protocol as proto
from ballsy.errors import BallsyError, TtsUnavailable
from ballsy.providers.tts.base import Speech, TextToSpeech
from ballsy.providers.tts.sentences import SentenceSplitter

log = logging.getLogger("ballsy.voice")

# PCM is sent in frames of at most this many bytes (0.74 s at 22 kHz), so a client
# starts on a long sentence's audio before all of it has crossed the network.
FRAME_BYTES = 32 * 1024

SendAudio = Callable[[dict[str, object], bytes, dict[str, object]], Awaitable[None]]
SendMessage = Callable[[dict[str, object]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Sentence:
    seq: int
    text: str
    seconds: float  # 0 when it was not sent as audio


class TurnVoice:
    def __init__(
        self,
        tts: TextToSpeech,
        *,
        turn_id: str,
        speed: float,
        send_audio: SendAudio,
        send: SendMessage,
    ) -> None:
        self.tts = tts
        self.turn_id = turn_id
        self.speed = speed
        self._send_audio = send_audio
        self._send = send
        self._splitter = SentenceSplitter()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._fed = ""
        self._finished = False
        self.sentences: list[Sentence] = []
        self.task = asyncio.create_task(self._speak(), name=f"voice-{turn_id}")

    # --- text in -------------------------------------------------------------------------

    def feed(self, text: str) -> None:
        """More of the streamed reply; complete sentences are queued at once."""
        if self._finished:
            return
        self._fed += text
        for sentence in self._splitter.feed(text):
            self._queue.put_nowait(sentence)

    def finish(self, response: str) -> None:
        """The reply is over; `response` is the whole reply as stored. What of it was not
        streamed (a local answer, a lookup, a fallback added after a failure) is spoken
        too, unless it does not continue what was already spoken."""
        if self._finished:
            return
        streamed = self._fed.strip()
        if not streamed:
            self.feed(response)
        elif response.startswith(streamed) and len(response) > len(streamed):
            self.feed(response[len(streamed) :])
        self._finished = True
        for sentence in self._splitter.flush():
            self._queue.put_nowait(sentence)
        self._queue.put_nowait(None)

    async def stop(self) -> None:
        """Stop speaking at once (barge-in, a new turn, the socket closing)."""
        self._finished = True
        if not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    # --- what was heard ----------------------------------------------------------------------

    def heard(self, seq: int, seconds: float) -> str:
        """The reply up to where playback stopped: every sentence before `seq`, and the
        words of sentence `seq` that fit in the `seconds` of it that played (speech runs
        at an even pace within one sentence, so the share of its duration is the share
        of its words, rounded down: a word cut in half was not heard)."""
        parts = [s.text for s in self.sentences if s.seq < seq]
        current = next((s for s in self.sentences if s.seq == seq), None)
        if current is not None and current.seconds > 0 and seconds > 0:
            words = current.text.split()
            share = min(1.0, seconds / current.seconds)
            kept = int(len(words) * share + 1e-9)
            if kept:
                parts.append(" ".join(words[:kept]))
        return " ".join(parts).strip()

    # --- speaking ------------------------------------------------------------------------------

    async def _speak(self) -> None:
        seq = 0
        while True:
            text = await self._queue.get()
            if text is None:
                break
            try:
                speech = await self.tts.synthesize(text, speed=self.speed)
            except BallsyError as exc:
                await self._fall_back(seq, text, exc)
                return
            except Exception:
                log.exception("speech synthesis failed")
                await self._fall_back(seq, text, TtsUnavailable("Ballsy's voice failed."))
                return
            await self._send_sentence(seq, text, speech)
            seq += 1
        await self._send(proto.voice_done(self.turn_id, seq))

    async def _send_sentence(self, seq: int, text: str, speech: Speech) -> None:
        self.sentences.append(Sentence(seq, text, speech.seconds))
        await self._send_audio(
            proto.voice_start(self.turn_id, seq, text, speech.format, speech.sample_rate),
            speech.audio,
            proto.voice_end(self.turn_id, seq, speech.seconds),
        )

    async def _fall_back(self, seq: int, text: str, exc: BallsyError) -> None:
        """Hand the rest of the reply to the browser's voice, once."""
        rest = [text]
        while not self._finished or not self._queue.empty():
            more = await self._queue.get()
            if more is None:
                break
            rest.append(more)
        self.sentences.append(Sentence(seq, " ".join(rest), 0.0))
        await self._send(proto.voice_fallback(self.turn_id, seq, " ".join(rest), exc))
