"""The WebSocket door: one `VoiceSocket` per connection, all tracked by a `SocketHub`.

The receive loop never runs a turn itself: each turn runs in its own task so that a
`cancel` (or a new command: barge-in) can stop it at once, AI call included.
Replies go only to the socket that asked, whatever its client id. Bad frames get
an `error` message and the socket stays open; oversize frames close with 1009,
flooding with 1008, idle sockets with 1000, and shutdown with 1012.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ballsy.api import ws_protocol as proto
from ballsy.api.deps import user_for_token
from ballsy.api.errors import to_error
from ballsy.api.speech import transcribe_for
from ballsy.assistant.events import TextDelta, TurnEnded, TurnStarted
from ballsy.assistant.identity import Identity, limit_key, parse_zone
from ballsy.assistant.pipeline import TurnRequest
from ballsy.errors import (
    BadRequest,
    Busy,
    RateLimited,
    TooLarge,
    Unauthorized,
)
from ballsy.providers.stt.stream import AudioUtterance
from ballsy.wiring import Services

log = logging.getLogger("ballsy.ws")

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013


class SocketHub:
    """Every open voice socket, so shutdown can let replies finish and then close them."""

    def __init__(self) -> None:
        self.sockets: set[VoiceSocket] = set()
        self.draining = False

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
        self.hub = hub
        self.client_id = client_id
        self.address = address
        self.connection_id = uuid.uuid4().hex
        self.identity = self._tokenless(None)
        self.timezone: str | None = None
        self.turn: asyncio.Task[None] | None = None
        self.turn_id: str | None = None
        self.turn_streaming = False
        self.partial: list[str] = []
        self.audio: AudioUtterance | None = None
        self.strikes = services.limiter.flood_strikes() if services.limiter else None
        self.closed = False
        self._send_lock = asyncio.Lock()

    # --- lifecycle -------------------------------------------------------------------

    async def serve(self) -> None:
        await self.ws.accept()
        slot = await self._acquire_slot()
        if slot is False:
            return
        self.hub.sockets.add(self)
        self.services.metrics.ws_connections.inc()
        try:
            await self._loop()
        finally:
            self.hub.sockets.discard(self)
            self.services.metrics.ws_connections.dec()
            await self._stop_turn()
            if slot is not None and self.services.limiter is not None:
                self.services.limiter.release_ws(slot)

    async def _acquire_slot(self) -> Any:
        limiter = self.services.limiter
        if self.hub.draining:
            await self.close(1012, "server restarting")
            return False
        if limiter is None:
            return None
        try:
            return limiter.acquire_ws(limit_key(None, self.address))
        except RateLimited as exc:
            await self.send(proto.error(exc))
            await self.close(CLOSE_TRY_AGAIN, "too many connections")
            return False

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
        self.services.metrics.ws_messages.labels("out", str(message.get("type"))).inc()

    # --- the receive loop --------------------------------------------------------------

    async def _loop(self) -> None:
        idle = self.settings.ws_idle_timeout_seconds
        while not self.closed:
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout=idle)
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
            if size > self.settings.ws_max_frame_bytes:
                await self.close(CLOSE_TOO_BIG, "frame too large")
                return
            if not await self._admit():
                if self.closed:
                    return
                continue
            try:
                if text is not None:
                    self.services.metrics.ws_messages.labels("in", "text").inc()
                    await self._dispatch(proto.parse(text))
                elif data is not None:
                    self.services.metrics.ws_messages.labels("in", "binary").inc()
                    self._audio_chunk(data)
            except Exception as exc:  # answered with an error frame; the socket stays open
                await self.send(proto.error(to_error(exc)))

    async def _admit(self) -> bool:
        """Per-connection message budget: False drops the frame (after a warning);
        a client that keeps flooding after RATE_LIMIT_WS_FLOOD_WARNINGS warnings is
        closed with 1008."""
        limiter = self.services.limiter
        if limiter is None or self.strikes is None:
            return True
        try:
            await limiter.check_ws_message(self.connection_id)
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
            case proto.AudioStart(mime=mime):
                self.audio = AudioUtterance(
                    max_bytes=self.settings.stt_max_bytes, content_type=mime
                )
            case proto.AudioEnd():
                await self._audio_end()

    async def _hello(self, token: str | None, timezone: str | None) -> None:
        if timezone is not None and parse_zone(timezone) is None:
            raise BadRequest("timezone must be an IANA time zone name such as Europe/Paris.")
        self.timezone = timezone
        if not token:
            self.identity = self._tokenless(timezone)
            await self.send(proto.hello(None))
            return
        user_id = await user_for_token(self.services, token)
        if user_id is None:
            raise Unauthorized("The session token is not valid; start a new session.")
        self.identity = Identity.user(user_id, timezone=timezone)
        await self.send(proto.hello(user_id))

    def _tokenless(self, timezone: str | None) -> Identity:
        """This connection's own tokenless scope: a second socket with the same client id
        from the same address (another tab, another program) shares nothing with it."""
        return Identity.legacy(
            f"ws:{self.client_id}", self.address, connection=self.connection_id, timezone=timezone
        )

    # --- turns -----------------------------------------------------------------------------

    async def _start_turn(
        self,
        text: object,
        *,
        streaming: bool,
        utterance: AudioUtterance | None = None,
    ) -> None:
        if self.hub.draining:
            raise Busy("The server is restarting; please reconnect.")
        received = time.perf_counter()
        previous = self.turn
        if previous is not None and not previous.done() and streaming:
            await self._cancel(None)  # barge-in: a new command replaces the reply
            previous = None
        turn_id = str(uuid.uuid4())
        self.turn_id, self.turn_streaming, self.partial = turn_id, streaming, []
        self.turn = asyncio.create_task(
            self._run_turn(text, turn_id, streaming, received, previous, utterance)
        )

    async def _run_turn(
        self,
        text: object,
        turn_id: str,
        streaming: bool,
        received: float,
        previous: asyncio.Task[None] | None,
        utterance: AudioUtterance | None,
    ) -> None:
        if previous is not None:  # legacy clients get their replies in order
            with contextlib.suppress(BaseException):
                await previous
        try:
            if utterance is not None:
                heard = await transcribe_for(
                    self.services,
                    self.identity,
                    utterance.finish(),
                    content_type=utterance.content_type,
                )
                await self.send(proto.transcript(heard))
                text = heard
            request = TurnRequest(
                identity=self.identity,
                text=text,  # type: ignore[arg-type]
                turn_id=turn_id,
                received_at=received,
            )
            async for event in self.services.assistant.run_turn(request):
                if isinstance(event, TextDelta):
                    self.partial.append(event.text)
                    if streaming:
                        await self.send(proto.reply_delta(event))
                elif isinstance(event, TurnStarted):
                    if streaming:
                        await self.send(proto.reply_start(event))
                elif isinstance(event, TurnEnded):
                    # Each reply once, in the client's own dialect.
                    end = proto.reply_end(event) if streaming else proto.command_response(event)
                    await self.send(end)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self.send(proto.error(to_error(exc)))

    async def _cancel(self, turn_id: str | None) -> None:
        task = self.turn
        if task is None or task.done():
            return
        if turn_id is not None and turn_id != self.turn_id:
            return
        current_id, streaming = self.turn_id, self.turn_streaming
        task.cancel()
        await asyncio.wait([task], timeout=5)
        if streaming and current_id is not None:
            await self.send(proto.interrupted(current_id, "".join(self.partial).strip()))

    async def _stop_turn(self) -> None:
        task = self.turn
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=5)

    # --- recorded audio -----------------------------------------------------------------------

    def _audio_chunk(self, data: bytes) -> None:
        if self.audio is None:
            raise BadRequest("Binary frames are only accepted between audio_start and audio_end.")
        try:
            self.audio.add(data)
        except TooLarge:
            self.audio = None  # the recording is dropped; the next one starts afresh
            raise

    async def _audio_end(self) -> None:
        if self.audio is None:
            raise BadRequest("audio_end without audio_start.")
        utterance, self.audio = self.audio, None
        await self._start_turn("", streaming=True, utterance=utterance)
