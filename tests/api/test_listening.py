"""Live listening over the WebSocket: raw PCM streamed in, partial words out, the turn
ended by the server's endpointing (no audio_end), then the transcript and the reply.

The speech is espeak-ng through the real embedded Whisper model in its worker pool."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ballsy.providers.stt.pcm import BYTES_PER_SECOND, PCM_MIME
from ballsy.wiring import Overrides
from tests.audio import require_tools, spoken_pcm
from tests.fakes.stt import RecordingSpeechToText

FRAME_SECONDS = 0.1
FRAME_BYTES = int(BYTES_PER_SECOND * FRAME_SECONDS)
STREAM = {"type": "audio_start", "mime": PCM_MIME, "stream": True}


def pcm_of(text: str, tmp_path: Path, *, lead: float = 0.5, tail: float = 2.0) -> bytes:
    """`text` spoken by espeak-ng as 16 kHz PCM16, with silence before and after."""
    require_tools("sox")
    return spoken_pcm(text, tmp_path, lead=lead, tail=tail)


def _frames(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def _hello(ws: Any) -> None:
    ws.send_json({"type": "hello", "token": None})
    assert ws.receive_json()["type"] == "hello"


def _stream_until_end(ws: Any, pcm: bytes, *, pace: bool) -> list[dict[str, Any]]:
    """Send frames (at the speed of speech when `pace`) until the server says speech_end;
    the messages received meanwhile, speech_end last."""
    seen: list[dict[str, Any]] = []
    frames = _frames(pcm)
    for frame in frames:
        ws.send_bytes(frame)
        if pace:
            time.sleep(FRAME_SECONDS)  # the speed at which a microphone delivers audio
    # Pending replies: read until speech_end (it must come: the file ends in silence).
    while True:
        message = ws.receive_json()
        seen.append(message)
        if message["type"] == "speech_end":
            return seen


def test_spoken_command_is_heard_live_and_answered_without_audio_end(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    pcm = pcm_of("what is seven times eight plus twelve", tmp_path)
    client = make_client(stt_enabled=True, stt_preload=True)
    # Partials only use a worker that is ready (they never wait for one): let the model load.
    stt = client.app.state.services.stt
    deadline = time.monotonic() + 120
    while not stt.ready:
        assert time.monotonic() < deadline, "the speech model did not load"
        time.sleep(0.1)  # poll interval
    with client.websocket_connect("/ws/voice/live") as ws:
        _hello(ws)
        ws.send_json(STREAM)
        seen = _stream_until_end(ws, pcm, pace=True)
        assert seen[-1] == {"type": "speech_end", "reason": "silence"}
        partials = [m["text"] for m in seen if m["type"] == "partial"]
        assert partials, f"no words were shown while speaking: {seen}"
        transcript = ws.receive_json()
        assert transcript["type"] == "transcript"
        assert re.search(r"(7|seven) times (8|eight)", transcript["text"], re.I), transcript
        assert ws.receive_json()["type"] == "reply_start"
        while (message := ws.receive_json())["type"] != "reply_end":
            assert message["type"] == "reply_delta"
        assert "68" in message["response"], message


def _fake_client(
    make_client: Callable[..., TestClient], **settings: Any
) -> tuple[TestClient, RecordingSpeechToText]:
    stt = RecordingSpeechToText(text="what is seven times eight", audio_seconds=0.0)
    client = make_client(overrides=Overrides(stt=stt, use_stt_override=True), **settings)
    return client, stt


def test_the_turn_ends_after_the_silence_and_late_frames_are_dropped(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    pcm = pcm_of("what is seven times eight", tmp_path, tail=1.5)
    client, stt = _fake_client(make_client)
    with client.websocket_connect("/ws/voice/fake") as ws:
        _hello(ws)
        ws.send_json(STREAM)
        seen = _stream_until_end(ws, pcm + bytes(FRAME_BYTES * 20), pace=False)
        assert seen[-1]["reason"] == "silence"
        assert ws.receive_json() == {"type": "transcript", "text": "what is seven times eight"}
        assert ws.receive_json()["type"] == "reply_start"
        # Everything the model was given is raw PCM of the speech, declared as such,
        # and ends within the silence window after the speech.
        audio, mime = stt.recordings[-1]
        assert mime == PCM_MIME and len(audio) % 2 == 0
        assert len(audio) <= len(pcm) - int(0.5 * BYTES_PER_SECOND)
        ws.send_json({"type": "ping"})
        while (message := ws.receive_json())["type"] != "pong":
            assert message["type"] in {"reply_delta", "reply_end"}, message


def test_a_stream_without_speech_ends_quietly(make_client: Callable[..., TestClient]) -> None:
    client, stt = _fake_client(make_client, listen_no_speech_seconds=1.0)
    with client.websocket_connect("/ws/voice/quiet") as ws:
        _hello(ws)
        ws.send_json(STREAM)
        seen = _stream_until_end(ws, bytes(FRAME_BYTES * 15), pace=False)
        assert seen == [{"type": "speech_end", "reason": "no_speech"}]
        ws.send_json({"type": "audio_end"})  # late: dropped without an error
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    assert stt.recordings == []


def test_audio_end_ends_the_turn_at_once(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    pcm = pcm_of("what is seven times eight", tmp_path, tail=0.0)
    client, stt = _fake_client(make_client)
    with client.websocket_connect("/ws/voice/click") as ws:
        _hello(ws)
        ws.send_json(STREAM)
        for frame in _frames(pcm):
            ws.send_bytes(frame)
        ws.send_json({"type": "audio_end"})
        messages = [ws.receive_json() for _ in range(2)]
        assert {"type": "speech_end", "reason": "stopped"} in messages
        assert messages[-1]["type"] in {"transcript", "partial", "speech_end"}
    assert stt.recordings


@pytest.mark.parametrize(
    ("start", "frame", "code"),
    [
        ({"type": "audio_start", "mime": "audio/webm", "stream": True}, None, "bad_request"),
        ({"type": "audio_start", "mime": PCM_MIME, "stream": "yes"}, None, "bad_request"),
        (STREAM, b"\x00\x01\x02", "bad_request"),
    ],
)
def test_bad_streams_get_a_coded_error_and_the_socket_stays(
    make_client: Callable[..., TestClient], start: dict[str, Any], frame: bytes | None, code: str
) -> None:
    client, _ = _fake_client(make_client)
    with client.websocket_connect("/ws/voice/bad") as ws:
        _hello(ws)
        ws.send_json(start)
        if frame is not None:
            ws.send_bytes(frame)
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == code, error
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_every_second_streamed_is_paid_from_the_speech_budget(
    make_client: Callable[..., TestClient],
) -> None:
    # Each stream reserves STT_MAX_SECONDS (10) and keeps what it streamed (5 s of silence,
    # ended by LISTEN_NO_SPEECH_SECONDS): of a 25 s budget, four streams use 20 s and the
    # fifth finds 5 s, less than its reservation. Charging less than every second streamed
    # would have let it through.
    client, stt = _fake_client(
        make_client,
        rate_limit_enabled=True,
        stt_max_seconds=10,
        listen_no_speech_seconds=5,
        rate_limit_stt_seconds_per_address_per_hour=25,
        rate_limit_stt_seconds_per_user_per_hour=25,
    )
    outcomes = []
    with client.websocket_connect("/ws/voice/budget") as ws:
        _hello(ws)
        for _ in range(5):
            ws.send_json(STREAM)
            for frame in _frames(bytes(FRAME_BYTES * 50)):
                ws.send_bytes(frame)
            first = ws.receive_json()
            outcomes.append(first.get("reason") or first.get("code"))
    assert outcomes == ["no_speech"] * 4 + ["rate_limited"], outcomes
    assert stt.recordings == []
