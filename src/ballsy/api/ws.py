"""The WebSocket door: one `VoiceSocket` per connection, all tracked by a `SocketHub`.

The receive loop never runs a turn itself: each turn runs in its own task so that a
`cancel` (or a new command: barge-in) can stop it at once, AI call included.
Replies go only to the socket that asked, whatever its client id. Bad frames get
an `error` message and the socket stays open; oversize frames close with 1009,
flooding with 1008, idle sockets with 1000, and shutdown with 1012.

Budgets: every message counts against the caller's message budget (the signed-in
user once `hello` named them, else the address) and its address's, which outlive
the socket, so reconnecting buys nothing. The binary frames of a recording are the
exception: they count against the speech budget instead, reserved when the
recording starts (`audio_start`, see `api/speech.py`). A recording that cannot be
paid for, or that passes its size or frame limits, fails whole with one `error`;
its remaining frames and its `audio_end` are dropped, and nothing is transcribed.
A hands-free stream waiting for the wake word is paid for by neither budget until the
wake word is heard: its frames are held to a rate instead (`api/wake_stream.py`), and
those beyond it count against the message budget.
Open sockets are capped per address and, after `hello`, per signed-in user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ballsy.api import ws_protocol as proto
from ballsy.api.deps import user_for_token
from ballsy.api.errors import to_error
from ballsy.api.speech import listened_for, reserve_speech, transcribe_for
from ballsy.api.voice_stream import FRAME_BYTES, TurnVoice
from ballsy.api.wake_stream import AudioRate, WakeWait
from ballsy.assistant.events import TextDelta, TurnEnded, TurnStarted
from ballsy.assistant.heard import store_heard
from ballsy.assistant.identity import Identity, parse_zone
from ballsy.assistant.pipeline import TurnRequest
from ballsy.errors import (
    BadRequest,
    BallsyError,
    Busy,
    FeatureUnavailable,
    RateLimited,
    TooLarge,
    Unauthorized,
)
from ballsy.providers.ratelimit.sockets import WebSocketSlot
from ballsy.providers.ratelimit.speech import SpeechReservation
from ballsy.providers.stt.listen import ListeningSession
from ballsy.providers.stt.pcm import PCM_MIME, is_pcm
from ballsy.providers.stt.stream import AudioUtterance
from ballsy.wiring import Services

log = logging.getLogger("ballsy.ws")

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013

# Binary frames one recording may take, per second of the longest utterance
# (STT_MAX_SECONDS): the page sends 4 a second; this leaves room for other clients
# while bounding the frames a recording exempt from the message budget can carry.
FRAMES_PER_AUDIO_SECOND = 20


@dataclass(slots=True)
class Recording:
    """One utterance being streamed, paid for by its speech reservation.

    `utterance` None means the recording failed and its error was sent: its other
    frames and its `audio_end` are dropped without another word.
    """

    utterance: AudioUtterance | None
    reservation: SpeechReservation | None
    max_frames: int
    frames: int = 0
    # A live stream (audio_start with stream: true) is heard by a listening session instead.
    listening: ListeningSession | None = None
    # A hands-free stream waiting for the wake word (audio_start with wake: true).
    wake: WakeWait | None = None

    @property
    def failed(self) -> bool:
        return self.utterance is None and self.listening is None and self.wake is None


class SocketHub:
    """Every open voice socket, so shutdown can let replies finish and then close them,
    and timers can reach every page of a user (`of_user`)."""

    def __init__(self) -> None:
        self.sockets: set[VoiceSocket] = set()
        self.draining = False
        # Awaited after a socket's hello names a user (api/timer_delivery.py announces
        # what fell due while no page was open).
        self.on_sign_in: Callable[[VoiceSocket], Coroutine[Any, Any, None]] | None = None

    def of_user(self, user_id: int) -> list[VoiceSocket]:
        """The open sockets signed in as `user_id`."""
        return [s for s in self.sockets if s.identity.user_id == user_id and not s.closed]

    def __len__(self) -> int:
        return len(self.sockets)

    async def drain(self, grace_seconds: float) -> None:
        """Stop new turns, let turns in flight finish (up to `grace_seconds`), then close 1012."""
        self.draining = True
        busy = [s.turn for s in self.sockets if s.turn is not None and not s.turn.done()]
        if busy:
            await asyncio.wait(busy, timeout=grace_seconds)
        await self.close_all(code=1012, reason="server restarting")

    async def close_all(self, *, code: int, reason: str) -> None:
        self.draining = True
        await asyncio.gather(
            *(s.close(code, reason) for s in list(self.sockets)), return_exceptions=True
        )


class VoiceSocket:
    def __init__(
        self,
        websocket: WebSocket,
        services: Services,
        hub: SocketHub,
        *,
        client_id: str,
        address: str,
    ) -> None:
        self.ws = websocket
        self.services = services
        self.settings = services.settings
        # Read on every frame: this socket's groups, built once.
        self.conversation = services.settings.conversation
        self.speech = services.settings.speech
        self.hub = hub
        self.client_id = client_id
        self.address = address
        self.connection_id = uuid.uuid4().hex
        self.identity = self._tokenless(None)
        self.timezone: str | None = None
        # Where this socket's weather questions are about (see ws_protocol's location).
        self.location: proto.Location = proto.Location(None, None)
        self.turn: asyncio.Task[None] | None = None
        # Telling a page what it missed after hello (timers due while it was closed).
        self.signed_in_task: asyncio.Task[None] | None = None
        self.turn_id: str | None = None
        self.turn_streaming = False
        self.partial: list[str] = []
        self.recording: Recording | None = None
        self.wake_rate = AudioRate()  # how fast this socket's wake streams may send audio
        self.user_slot: WebSocketSlot | None = None
        self.strikes = services.limiter.flood_strikes()
        # Ballsy's own voice, for a client that opted in (`voice`); the turn being spoken.
        self.voice_on = False
        self.voice_speed = 1.0
        self.voice: TurnVoice | None = None
        self.closed = False
        self._send_lock = asyncio.Lock()

    # --- lifecycle -------------------------------------------------------------------

    async def serve(self) -> None:
        await self.ws.accept()
        slot = await self._acquire_slot()
        if slot is None:
            return
        self.hub.sockets.add(self)
        self.services.metrics.ws_connections.inc()
        try:
            await self._loop()
        finally:
            self.hub.sockets.discard(self)
            self.services.metrics.ws_connections.dec()
            if self.signed_in_task is not None:
                self.signed_in_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.signed_in_task
            await self._stop_turn()
            await self._stop_voice()
            await self._drop_recording()
            if self.user_slot is not None:
                self.user_slot.release()
            slot.release()

    async def _acquire_slot(self) -> WebSocketSlot | None:
        """This socket's place among its address's; None when refused (and closed)."""
        if self.hub.draining:
            await self.close(1012, "server restarting")
            return None
        try:
            return self.services.limiter.acquire_ws(self.address)
        except RateLimited as exc:
            await self.send(proto.error(exc))
            await self.close(CLOSE_TRY_AGAIN, "too many connections")
            return None

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            if self.ws.application_state == WebSocketState.CONNECTED:
                await self.ws.close(code=code, reason=reason)

    async def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_text(proto.dumps(message))
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.closed = True
                return
        self.services.metrics.ws_messages_of("out", str(message.get("type"))).inc()

    async def send_audio(self, start: dict[str, Any], audio: bytes, end: dict[str, Any]) -> None:
        """One sentence of Ballsy's voice: its start, its PCM frames, its end, with nothing
        else in between (binary frames belong to the latest voice_start)."""
        if self.closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_text(proto.dumps(start))
                for offset in range(0, len(audio), FRAME_BYTES):
                    await self.ws.send_bytes(audio[offset : offset + FRAME_BYTES])
                await self.ws.send_text(proto.dumps(end))
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.closed = True
                return
        self.services.metrics.ws_messages_of("out", "voice").inc()

    # --- the receive loop --------------------------------------------------------------

    async def _loop(self) -> None:
        idle = self.conversation.ws_idle_timeout_seconds
        while not self.closed:
            try:
                # A deadline on this task, not `wait_for` (which wraps each receive in a
                # task of its own): one timer per message.
                async with asyncio.timeout(idle):
                    message = await self.ws.receive()
            except TimeoutError:
                await self.close(CLOSE_NORMAL, "idle timeout")
                return
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                self.closed = True
                return
            text, data = message.get("text"), message.get("bytes")
            size = len(text) if text is not None else len(data or b"")
            if size > self.conversation.ws_max_frame_bytes:
                await self.close(CLOSE_TOO_BIG, "frame too large")
                return
            audio_frame = text is None and self._takes_audio_frame(size)
            if not audio_frame and not await self._admit():
                if self.closed:
                    return
                continue
            try:
                if text is not None:
                    self.services.metrics.ws_messages_of("in", "text").inc()
                    await self._dispatch(proto.parse(text))
                elif data is not None:
                    self.services.metrics.ws_messages_of("in", "binary").inc()
                    await self._audio_chunk(data, paid=audio_frame)
            except Exception as exc:  # answered with an error frame; the socket stays open
                await self.send(proto.error(to_error(exc)))

    async def _admit(self) -> bool:
        """The caller's and its address's message budgets: False drops the frame
        (after a warning); a client that keeps flooding after
        RATE_LIMIT_WS_FLOOD_WARNINGS warnings is closed with 1008."""
        try:
            await self.services.limiter.check_ws_message(
                user_id=self.identity.user_id, address=self.address
            )
        except RateLimited as exc:
            if self.strikes.refused():
                await self.close(CLOSE_POLICY, "rate limit exceeded")
                return False
            await self.send(proto.error(exc))
            return False
        self.strikes.admitted()
        return True

    async def _dispatch(self, message: proto.ClientMessage) -> None:
        match message:
            case proto.Command(text=text, streaming=streaming):
                await self._start_turn(text, streaming=streaming)
            case proto.Hello(token=token, timezone=timezone):
                await self._hello(token, timezone)
            case proto.Cancel(turn_id=turn_id):
                await self._cancel(turn_id)
            case proto.Ping():
                await self.send(proto.pong())
            case proto.StatusListening():
                await self.send(proto.status_ready())
            case proto.AudioStart(mime=mime, stream=stream, wake=wake):
                await self._audio_start(mime, stream=stream, wake=wake)
            case proto.AudioEnd():
                await self._audio_end()
            case proto.Location():
                self.location = message
            case proto.VoiceConfig(enabled=enabled, speed=speed):
                await self._voice_config(enabled, speed)
            case proto.VoicePlayed(turn_id=turn_id, seq=seq, seconds=seconds):
                await self._voice_played(turn_id, seq, seconds)

    async def _hello(self, token: str | None, timezone: str | None) -> None:
        if timezone is not None and parse_zone(timezone) is None:
            raise BadRequest("timezone must be an IANA time zone name such as Europe/Paris.")
        self.timezone = timezone
        if not token:
            self._sign_in(None)
            self.identity = self._tokenless(timezone)
            await self.send(proto.hello(None))
            return
        user_id = await user_for_token(self.services, token)
        if user_id is None:
            raise Unauthorized("The session token is not valid; start a new session.")
        try:
            self._sign_in(user_id)
        except RateLimited as exc:
            await self.send(proto.error(exc))
            await self.close(CLOSE_TRY_AGAIN, "too many connections")
            return
        self.identity = Identity.user(user_id, timezone=timezone, address=self.address)
        await self.send(proto.hello(user_id))
        if self.hub.on_sign_in is not None and self.signed_in_task is None:
            # Beside the socket's loop, not in it: the announcement reads the database,
            # and a slow or unreachable one must not hold up this socket's first command.
            self.signed_in_task = asyncio.create_task(self.hub.on_sign_in(self))

    def _tokenless(self, timezone: str | None) -> Identity:
        """This connection's own tokenless scope: a second socket with the same client id
        from the same address (another tab, another program) shares nothing with it."""
        return Identity.tokenless(
            f"ws:{self.client_id}", self.address, connection=self.connection_id, timezone=timezone
        )

    def _sign_in(self, user_id: int | None) -> None:
        """Hold a place among `user_id`'s open sockets (RATE_LIMIT_WS_PER_USER), freeing
        the previous user's; raises `RateLimited` when that user has no place left."""
        if user_id is not None and user_id == self.identity.user_id and self.user_slot:
            return
        slot = None if user_id is None else self.services.limiter.acquire_ws_user(user_id)
        if self.user_slot is not None:
            self.user_slot.release()
        self.user_slot = slot

    # --- turns -----------------------------------------------------------------------------

    async def _start_turn(
        self,
        text: object,
        *,
        streaming: bool,
        recording: Recording | None = None,
    ) -> None:
        if self.hub.draining:
            raise Busy("The server is restarting; please reconnect.")
        received = time.perf_counter()
        previous = self.turn
        if previous is not None and not previous.done() and streaming:
            await self._cancel(None)  # barge-in: a new command replaces the reply
            previous = None
        if streaming:
            await self._stop_voice()
        turn_id = str(uuid.uuid4())
        self.turn_id, self.turn_streaming, self.partial = turn_id, streaming, []
        self.turn = asyncio.create_task(
            self._run_turn(text, turn_id, streaming, received, previous, recording)
        )

    async def _run_turn(
        self,
        text: object,
        turn_id: str,
        streaming: bool,
        received: float,
        previous: asyncio.Task[None] | None,
        recording: Recording | None,
    ) -> None:
        if previous is not None:  # legacy clients get their replies in order
            try:
                await previous
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # this turn was cancelled
                    if recording is not None and recording.reservation is not None:
                        # Before the model started: only the minimum is kept.
                        await asyncio.shield(recording.reservation.settle(None))
                    raise
            except Exception:  # noqa: S110 - the previous turn reported its own failure
                pass
        voice: TurnVoice | None = None
        try:
            if recording is not None and recording.listening is not None:
                heard = await listened_for(
                    self.services, recording.listening, recording.reservation
                )
                await self.send(proto.transcript(heard))
                text = heard
            elif recording is not None and recording.utterance is not None:
                heard = await transcribe_for(
                    self.services,
                    self.identity,
                    recording.utterance.finish(),
                    content_type=recording.utterance.content_type,
                    reservation=recording.reservation,
                )
                await self.send(proto.transcript(heard))
                text = heard
            request = TurnRequest(
                identity=self.identity,
                text=text,  # type: ignore[arg-type]
                turn_id=turn_id,
                received_at=received,
                location=self.location.coordinates,
                place=self.location.place,
            )
            if streaming:
                voice = self._new_voice(turn_id)
            async for event in self.services.assistant.run_turn(request):
                if isinstance(event, TextDelta):
                    self.partial.append(event.text)
                    if streaming:
                        await self.send(proto.reply_delta(event))
                    if voice is not None:
                        voice.feed(event.text)
                elif isinstance(event, TurnStarted):
                    if streaming:
                        await self.send(proto.reply_start(event))
                elif isinstance(event, TurnEnded):
                    # Each reply once, in the client's own dialect.
                    end = proto.reply_end(event) if streaming else proto.command_response(event)
                    await self.send(end)
                    if voice is not None:
                        voice.finish(event.response)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if voice is not None:
                await voice.stop()  # no reply to speak
            await self.send(proto.error(to_error(exc)))

    async def _cancel(self, turn_id: str | None, *, heard: str | None = None) -> bool:
        """Stop the turn in flight (and its voice); True when one was stopped. `heard`:
        what the user heard of it (barge-in on Ballsy's voice), reported as the reply."""
        if turn_id is None or (self.voice is not None and self.voice.turn_id == turn_id):
            await self._stop_voice()
        task = self.turn
        if task is None or task.done():
            return False
        if turn_id is not None and turn_id != self.turn_id:
            return False
        current_id, streaming = self.turn_id, self.turn_streaming
        task.cancel()
        await asyncio.wait([task], timeout=5)
        if streaming and current_id is not None:
            said = "".join(self.partial).strip() if heard is None else heard
            await self.send(proto.interrupted(current_id, said))
        return True

    async def _stop_turn(self) -> None:
        task = self.turn
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=5)

    # --- Ballsy's voice ---------------------------------------------------------------------

    async def _voice_config(self, enabled: bool, speed: float | None) -> None:
        """Opt this socket in or out of Ballsy's voice (and set its speed)."""
        tts = self.services.tts
        self.voice_on = enabled and tts.available
        if speed is not None:
            self.voice_speed = speed
        reason = None if tts.available else getattr(tts, "reason", None)
        await self.send(
            proto.voice_config(
                enabled=self.voice_on,
                available=tts.available,
                voice=tts.voice,
                title=str(getattr(tts, "title", tts.voice)),
                reason=reason,
            )
        )

    def _new_voice(self, turn_id: str) -> TurnVoice | None:
        if not self.voice_on:
            return None
        self.voice = TurnVoice(
            self.services.tts,
            turn_id=turn_id,
            speed=self.voice_speed,
            send_audio=self.send_audio,
            send=self.send,
        )
        return self.voice

    async def _stop_voice(self) -> None:
        voice = self.voice
        if voice is not None:
            await voice.stop()

    async def _voice_played(self, turn_id: str, seq: int, seconds: float) -> None:
        """Barge-in: the client stopped playback in sentence `seq` after `seconds` of it.
        The reply is stopped and stored as what was heard, marked interrupted."""
        voice = self.voice
        if voice is None or voice.turn_id != turn_id:
            raise BadRequest("No reply with that turn_id is being spoken here.")
        heard = voice.heard(seq, seconds)
        if not await self._cancel(turn_id, heard=heard):
            await self._stop_voice()  # the reply was whole and stored; only speech remained
        await store_heard(self.services.assistant, self.identity, turn_id, heard)
        await self.send(proto.voice_stopped(turn_id, heard))

    # --- recorded audio -----------------------------------------------------------------------

    async def _audio_start(
        self, mime: str | None, *, stream: bool = False, wake: bool = False
    ) -> None:
        """Open a recording, paid for now from the speech budget; a recording still
        open is abandoned. Refused: one `rate_limited` error, and the recording's
        frames and end are dropped. A wake stream is paid for only once the wake word
        is heard (`_wake_heard`)."""
        await self._drop_recording()
        if stream and not is_pcm(mime):
            raise BadRequest(f"A live stream must be raw audio declared as {PCM_MIME}.")
        max_frames = math.ceil(self.speech.stt_max_seconds * FRAMES_PER_AUDIO_SECOND)
        if wake:
            self.recording = Recording(None, None, max_frames)  # failed until it opens
            service = self.services.wake
            if service is None:
                raise FeatureUnavailable("The wake word is off on this server (WAKE_WORD).")
            # Busy past WAKE_MAX_STREAMS listeners on this instance.
            self.recording.wake = WakeWait(service.listener(), self.wake_rate)
            return
        try:
            reservation = await reserve_speech(self.services, self.identity)
        except RateLimited:
            self.recording = Recording(None, None, max_frames)
            raise
        if stream:
            session = self.services.listening.session(self.services.stt, self._send_partial)
            self.recording = Recording(None, reservation, max_frames, listening=session)
            return
        utterance = AudioUtterance(max_bytes=self.speech.stt_max_bytes, content_type=mime)
        self.recording = Recording(utterance, reservation, max_frames)

    def _takes_audio_frame(self, size: int) -> bool:
        """True when the next binary frame belongs to a recording's speech budget
        rather than the message budget: every frame of an open recording, up to its
        frame limit; of a wake stream, every frame within its rate."""
        recording = self.recording
        if recording is not None and recording.wake is not None:
            return recording.wake.admits(size)
        return recording is not None and recording.frames < recording.max_frames

    async def _audio_chunk(self, data: bytes, *, paid: bool = True) -> None:
        recording = self.recording
        if recording is None:
            raise BadRequest("Binary frames are only accepted between audio_start and audio_end.")
        if recording.wake is not None:
            await self._wake_chunk(recording, recording.wake, data, within_rate=paid)
            return
        recording.frames += 1
        if recording.listening is not None:
            if recording.frames > recording.max_frames:
                await self._listen_end("limit")
                return
            ended = recording.listening.feed(data)
            if ended is not None:
                await self._listen_end(ended)
            return
        if recording.utterance is None:
            return  # the recording failed (the client was told so) or its stream ended
        try:
            if recording.frames > recording.max_frames:
                raise TooLarge(
                    f"The recording came in more than {recording.max_frames} pieces; "
                    "it was dropped. Speak a shorter command."
                )
            recording.utterance.add(data)
        except TooLarge:
            await self._fail_recording()
            raise

    async def _audio_end(self) -> None:
        if self.recording is not None and self.recording.wake is not None:
            await self._drop_recording()  # the wake word was not said: no command
            await self.send(proto.speech_end("no_speech"))
            return
        if self.recording is not None and self.recording.listening is not None:
            await self._listen_end(self.recording.listening.stop())  # ended by the client
            return
        recording, self.recording = self.recording, None
        if recording is None:
            raise BadRequest("audio_end without audio_start.")
        if recording.failed:
            return  # its error was sent when it failed
        try:
            await self._start_turn("", streaming=True, recording=recording)
        except BallsyError:
            if recording.reservation is not None:
                await recording.reservation.settle(None)
            raise

    async def _wake_chunk(
        self, recording: Recording, wait: WakeWait, data: bytes, *, within_rate: bool
    ) -> None:
        """Feed the wake word detector; once it hears the wake word, this stream listens
        for the command that follows. A detector that fails ends the wait (one error)."""
        try:
            after = await wait.feed(data, within_rate=within_rate)
        except BadRequest:
            raise  # a malformed frame: the wait goes on
        except BallsyError:
            await self._fail_recording()
            raise
        if after is None or self.recording is not recording:
            return
        recording.wake = None
        await wait.aclose()
        await self.send(proto.wake(wait.word))
        try:
            recording.reservation = await reserve_speech(self.services, self.identity)
        except RateLimited:
            await self._fail_recording()
            raise
        recording.listening = self.services.listening.session(self.services.stt, self._send_partial)
        if after:
            await self._audio_chunk(after)

    async def _send_partial(self, text: str) -> None:
        await self.send(proto.partial(text))

    async def _listen_end(self, reason: str) -> None:
        """A live stream's turn is over (the server heard the silence, or the client said
        so): tell the client, keep dropping the frames still in flight, and answer what was
        said (nothing when nobody spoke)."""
        recording = self.recording
        if recording is None or recording.listening is None:
            return
        session = recording.listening
        self.recording = Recording(None, None, recording.max_frames, recording.frames)
        await self.send(proto.speech_end(reason))
        if reason == "no_speech":
            session.close()
            if recording.reservation is not None:
                await recording.reservation.settle(session.audio_seconds)
            return
        try:
            await self._start_turn("", streaming=True, recording=recording)
        except BallsyError:
            session.close()
            if recording.reservation is not None:
                await recording.reservation.settle(session.audio_seconds)
            raise

    async def _fail_recording(self) -> None:
        """Drop the open recording's audio (nothing of it is transcribed); keep the
        recording open, failed, so its remaining frames and end are dropped too."""
        recording = self.recording
        if recording is None or recording.failed:
            return
        recording.utterance = None
        if recording.wake is not None:
            await recording.wake.aclose()
            recording.wake = None
        if recording.listening is not None:
            recording.listening.close()
            recording.listening = None
        if recording.reservation is not None:
            await recording.reservation.settle(None)

    async def _drop_recording(self) -> None:
        """Forget the open recording, if any, and return its unused reservation."""
        await self._fail_recording()
        self.recording = None
