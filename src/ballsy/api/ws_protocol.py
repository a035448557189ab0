"""The WebSocket wire format: parse client frames, build server messages.

Every server message is built here (the socket loop in ws.py only chooses which).

Client -> server (JSON text frames):
  {"type": "hello", "token": str, "timezone": str?}     authenticate this socket
  {"type": "command", "command": str}                   a turn, streamed back:
                                                        reply_start, reply_delta*, reply_end
  {"command": str}                                      legacy turn: command_response only
  {"type": "cancel", "turn_id": str?}                   stop the reply in flight
  {"type": "audio_start", "mime": str?} … binary frames … {"type": "audio_end"}
                                                        -> transcript, then a streamed turn
  {"type": "audio_start", "mime": "audio/pcm;rate=16000", "stream": true}
      … binary frames of raw 16 kHz mono PCM16 little-endian (whole samples, any length) …
      [{"type": "audio_end"}]                           live listening (providers/stt/listen.py):
                                                        partial* while speaking, then
                                                        speech_end, transcript, a streamed turn;
                                                        the server ends the turn after the
                                                        silence, audio_end only ends it sooner
  {"type": "audio_start", "mime": "audio/pcm;rate=16000", "stream": true, "wake": true}
      … binary frames as above …                        hands-free, waiting for the wake word
                                                        (WAKE_WORD; api/wake_stream.py): the
                                                        audio goes to the wake word detector
                                                        only (not transcribed, no speech budget;
                                                        frames beyond 1.5x real time after a 5 s
                                                        burst are dropped and count against the
                                                        message budget). On the wake word:
                                                        wake {word}, and the same stream is
                                                        live listening from then on (partial*,
                                                        speech_end, transcript, a turn).
                                                        audio_end before it: speech_end
                                                        {reason: "no_speech"}. With WAKE_WORD
                                                        off: error feature_unavailable.
  {"type": "ping"}                                      -> {"type": "pong"}
  {"type": "location", "latitude": num?, "longitude": num?, "place": str?}
                                                        where weather questions on this
                                                        socket are about (the browser's
                                                        position, shared with consent, kept
                                                        to 2 decimals; or a place name);
                                                        no fields: forget it. No answer.
  {"status": "listening"}                               legacy -> status_update
  {"type": "voice", "enabled": bool, "speed": number?}  opt in to Ballsy's own voice
                                                        -> voice {enabled, available, ...}
  {"type": "voice_played", "turn_id": str, "seq": int, "seconds": number}
                                                        barge-in: playback was stopped in
                                                        sentence `seq` after `seconds` of it
                                                        (the sentences before it all played)
                                                        -> voice_stopped {turn_id, heard}
                                                        (and reply_end {interrupted: true,
                                                        response: heard} if still running)
Ballsy's voice (only to a client that opted in): for each sentence of a reply, as soon
as it is complete, voice_start {turn_id, seq, text, format: "pcm_s16le", sample_rate},
then binary frames of 16-bit little-endian mono PCM, then voice_end {turn_id, seq,
seconds}; after the last sentence voice_done {turn_id, sentences}. When the voice is busy
or fails, voice_fallback {turn_id, seq, text, code, message} carries the rest of the
reply for the browser's own voice. Binary frames always belong to the latest
voice_start; a sentence's frames are never interleaved with another's.
Server -> client: hello {user_id}, reply_start, reply_delta, reply_end, command_response,
transcript, status_update, pong, wake {word} (the wake word was heard on a hands-free
stream: start listening for a command), error {code, message, retry_after?},
timer_fired {id, kind, label, text, due_at, late} when a timer, alarm or reminder of this
socket's user is due (on every signed-in socket of theirs, any instance; `late` when it
is announced after it was due, e.g. on the first connection after it fell due);
partial {text} (the words heard so far in a live stream), speech_end {reason} (the server
stopped taking the live stream's audio: "silence", "stopped", "limit" or "no_speech"; frames
still in flight are dropped; no_speech is followed by nothing). A turn is answered
once: streaming clients get reply_end, legacy clients command_response. Errors carry the
same code and message as the HTTP error body (`api/errors.to_error` decides both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ballsy.assistant.due import DueItem
from ballsy.assistant.events import TextDelta, TurnEnded, TurnStarted
from ballsy.errors import BadRequest, BallsyError


@dataclass(frozen=True, slots=True)
class Hello:
    token: str | None
    timezone: str | None


@dataclass(frozen=True, slots=True)
class Command:
    text: object
    streaming: bool


@dataclass(frozen=True, slots=True)
class Cancel:
    turn_id: str | None


@dataclass(frozen=True, slots=True)
class StatusListening:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class AudioStart:
    mime: str | None
    stream: bool = False  # live listening: raw PCM, ended by the server's endpointing
    wake: bool = False  # hands-free: wait for the wake word first (api/wake_stream.py)


@dataclass(frozen=True, slots=True)
class AudioEnd:
    pass


@dataclass(frozen=True, slots=True)
class Location:
    coordinates: tuple[float, float] | None
    place: str | None


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    enabled: bool
    speed: float | None


@dataclass(frozen=True, slots=True)
class VoicePlayed:
    turn_id: str
    seq: int
    seconds: float


ClientMessage = (
    Hello
    | Command
    | Cancel
    | StatusListening
    | Ping
    | AudioStart
    | AudioEnd
    | Location
    | VoiceConfig
    | VoicePlayed
)


def _coordinate(payload: dict[str, Any], key: str, bound: float) -> float | None:
    value = payload.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not -bound <= value <= bound
    ):
        raise BadRequest(f"'{key}' must be a number between -{bound:g} and {bound:g}.")
    # About a kilometre: enough for a forecast, and no more of where the user is.
    return round(float(value), 2)


def _location(payload: dict[str, Any]) -> Location:
    latitude = _coordinate(payload, "latitude", 90)
    longitude = _coordinate(payload, "longitude", 180)
    if (latitude is None) != (longitude is None):
        raise BadRequest("Send both 'latitude' and 'longitude', or neither.")
    place = _optional_str(payload, "place", 100)
    coordinates = None if latitude is None or longitude is None else (latitude, longitude)
    return Location(coordinates, place.strip() or None if place else None)


def _optional_str(payload: dict[str, Any], key: str, limit: int = 200) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"'{key}' must be a string of at most {limit} characters.")
    return value


def parse(raw: str) -> ClientMessage:
    """A client frame as a typed message, or `BadRequest` saying what is wrong."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Messages must be JSON objects.") from None
    if not isinstance(payload, dict):
        raise BadRequest("Messages must be JSON objects.")
    kind = payload.get("type")
    if kind is None:
        if "command" in payload:
            return Command(payload["command"], streaming=False)
        if payload.get("status") == "listening":
            return StatusListening()
        raise BadRequest('Unknown message: send {"command": "..."} or a typed message.')
    if kind == "command":
        return Command(payload.get("command"), streaming=True)
    if kind == "hello":
        return Hello(_optional_str(payload, "token"), _optional_str(payload, "timezone", 64))
    if kind == "cancel":
        return Cancel(_optional_str(payload, "turn_id", 64))
    if kind == "ping":
        return Ping()
    if kind == "location":
        return _location(payload)
    if kind == "audio_start":
        stream = payload.get("stream", False)
        wake = payload.get("wake", False)
        if not isinstance(stream, bool) or not isinstance(wake, bool):
            raise BadRequest("'stream' and 'wake' must be true or false.")
        if wake and not stream:
            raise BadRequest("'wake' needs a live stream ('stream': true).")
        return AudioStart(_optional_str(payload, "mime", 100), stream=stream, wake=wake)
    if kind == "audio_end":
        return AudioEnd()
    if kind == "voice":
        return _voice_config(payload)
    if kind == "voice_played":
        return _voice_played(payload)
    if kind == "status" and payload.get("status") == "listening":
        return StatusListening()
    shown = kind if isinstance(kind, str) and len(kind) <= 40 else "?"
    raise BadRequest(f"Unknown message type '{shown}'.")


def _number(payload: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"'{key}' must be a number from {low:g} to {high:g}.")
    return float(value)


def _voice_config(payload: dict[str, Any]) -> VoiceConfig:
    enabled = payload.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequest("'enabled' must be true or false.")
    return VoiceConfig(enabled, _number(payload, "speed", 0.25, 4.0))


def _voice_played(payload: dict[str, Any]) -> VoicePlayed:
    turn_id = _optional_str(payload, "turn_id", 64)
    seq = payload.get("seq")
    if turn_id is None:
        raise BadRequest("voice_played needs the 'turn_id' of the reply that was stopped.")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 100_000:
        raise BadRequest("'seq' must be the number of the sentence that was playing.")
    seconds = _number(payload, "seconds", 0, 3600)
    return VoicePlayed(turn_id, seq, seconds or 0.0)


def dumps(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def error(exc: BallsyError) -> dict[str, Any]:
    """An error frame: the HTTP error body (`{code, message, retry_after?}`) plus its type."""
    return {"type": "error", **exc.to_dict()}


def hello(user_id: int | None) -> dict[str, Any]:
    """The answer to hello: whose socket this now is (None: a tokenless scope)."""
    return {"type": "hello", "user_id": user_id}


def pong() -> dict[str, Any]:
    return {"type": "pong"}


def status_ready() -> dict[str, Any]:
    """The legacy answer to {"status": "listening"}."""
    return {"type": "status_update", "status": "ready"}


def transcript(text: str) -> dict[str, Any]:
    """What the server heard in a recorded utterance, before the reply."""
    return {"type": "transcript", "text": text}


def partial(text: str) -> dict[str, Any]:
    """The words heard so far in a live stream (they may still change)."""
    return {"type": "partial", "text": text}


def speech_end(reason: str) -> dict[str, Any]:
    """The server stopped taking a live stream's audio, and why."""
    return {"type": "speech_end", "reason": reason}


def wake(word: str) -> dict[str, Any]:
    """The wake word (`word`, as the page shows it) was heard on this hands-free stream."""
    return {"type": "wake", "word": word}


def reply_start(event: TurnStarted) -> dict[str, Any]:
    return {"type": "reply_start", "turn_id": event.turn_id, "source": event.source}


def reply_delta(event: TextDelta) -> dict[str, Any]:
    return {"type": "reply_delta", "turn_id": event.turn_id, "text": event.text}


def reply_end(event: TurnEnded) -> dict[str, Any]:
    return {
        "type": "reply_end",
        "turn_id": event.turn_id,
        "response": event.response,
        "action": event.action,
        "data": event.data,
        "source": event.source,
        "interrupted": event.interrupted,
        # Which command family answered and which AI model wrote the reply (None when
        # Ballsy answered itself), so the page can say who answered.
        "family": event.family,
        "model": event.model,
    }


def interrupted(turn_id: str, partial: str) -> dict[str, Any]:
    return {
        "type": "reply_end",
        "turn_id": turn_id,
        "response": partial,
        "action": None,
        "data": None,
        "source": "ai",
        "interrupted": True,
    }


def command_response(event: TurnEnded) -> dict[str, Any]:
    """The legacy message, exactly as the original sent it."""
    return {"type": "command_response", "data": event.legacy()}


def timer_fired(due: DueItem) -> dict[str, Any]:
    """A timer, alarm or reminder is due: the page speaks `text`, chimes and notifies."""
    item = due.item
    return {
        "type": "timer_fired",
        "id": item.id,
        "kind": item.kind,
        "label": item.label,
        "text": due.text,
        "due_at": item.due_at.isoformat(),
        "late": due.late,
    }


# --- Ballsy's voice ------------------------------------------------------------------------


def voice_config(
    *, enabled: bool, available: bool, voice: str, title: str, reason: str | None
) -> dict[str, Any]:
    """The answer to `voice`: whether this socket now gets audio, and why not."""
    return {
        "type": "voice",
        "enabled": enabled,
        "available": available,
        "voice": voice,
        "title": title,
        "reason": reason,
    }


def voice_start(turn_id: str, seq: int, text: str, fmt: str, sample_rate: int) -> dict[str, Any]:
    return {
        "type": "voice_start",
        "turn_id": turn_id,
        "seq": seq,
        "text": text,
        "format": fmt,
        "sample_rate": sample_rate,
    }


def voice_end(turn_id: str, seq: int, seconds: float) -> dict[str, Any]:
    return {"type": "voice_end", "turn_id": turn_id, "seq": seq, "seconds": round(seconds, 3)}


def voice_done(turn_id: str, sentences: int) -> dict[str, Any]:
    return {"type": "voice_done", "turn_id": turn_id, "sentences": sentences}


def voice_fallback(turn_id: str, seq: int, text: str, exc: BallsyError) -> dict[str, Any]:
    """The rest of a reply, for the browser's own voice (Ballsy's is busy or failed)."""
    return {
        "type": "voice_fallback",
        "turn_id": turn_id,
        "seq": seq,
        "text": text,
        "code": exc.code,
        "message": exc.message,
    }


def voice_stopped(turn_id: str, heard: str) -> dict[str, Any]:
    """Barge-in acknowledged: the reply is stored as `heard`, marked interrupted."""
    return {"type": "voice_stopped", "turn_id": turn_id, "heard": heard}
