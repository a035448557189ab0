"""The wake word over the WebSocket: a hands-free stream (`audio_start` with `wake: true`)
is heard by the real wake word detector in its worker process; the wake phrase
("okay nabu", synthesised) produces `wake` and the command said after it is transcribed
by the real speech model and answered, while ordinary speech produces nothing at all.

Every exchange ends with a ping: the server feeds a socket's frames to the detector in
order before it reads the next message, so the pong proves every frame was heard."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ballsy.api.wake_stream import AudioRate
from ballsy.providers.stt.pcm import BYTES_PER_SECOND, PCM_MIME
from ballsy.providers.wake.service import WakeOptions, WakeWordService
from ballsy.wiring import Overrides
from tests import voices
from tests.fakes.stt import RecordingSpeechToText

FRAME_BYTES = int(BYTES_PER_SECOND * 0.1)  # 100 ms, as the page sends them
WAKE_STREAM = {"type": "audio_start", "mime": PCM_MIME, "stream": True, "wake": True}


def _frames(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def _hello(ws: Any) -> None:
    ws.send_json({"type": "hello", "token": None})
    assert ws.receive_json()["type"] == "hello"


def _until_pong(ws: Any) -> list[dict[str, Any]]:
    """Ping, and every message the server sent before the pong."""
    ws.send_json({"type": "ping"})
    seen = []
    while (message := ws.receive_json())["type"] != "pong":
        seen.append(message)
    return seen


def _wait_ready(client: TestClient) -> None:
    stt = client.app.state.services.stt
    deadline = time.monotonic() + 180
    while not stt.ready:
        assert time.monotonic() < deadline, "the speech model did not load"
        time.sleep(0.1)  # poll interval


@pytest.fixture
def wake_client(make_client: Callable[..., TestClient]) -> TestClient:
    client = make_client(wake_word="okay_nabu", stt_enabled=True, stt_preload=True)
    _wait_ready(client)
    return client


def test_the_wake_phrase_then_a_command_is_answered(wake_client: TestClient) -> None:
    wake = voices.silence(0.5) + voices.say("okay nabu", "en-us") + voices.silence(1.0)
    command = voices.say("what is seven times eight", "en-us") + voices.silence(2.0)
    with wake_client.websocket_connect("/ws/voice/wake") as ws:
        _hello(ws)
        ws.send_json(WAKE_STREAM)
        for frame in _frames(wake):
            ws.send_bytes(frame)
        assert _until_pong(ws) == [{"type": "wake", "word": "Okay Nabu"}]
        for frame in _frames(command):
            ws.send_bytes(frame)
        seen = []
        while (message := ws.receive_json())["type"] != "speech_end":
            seen.append(message)
        assert message == {"type": "speech_end", "reason": "silence"}
        assert all(m["type"] == "partial" for m in seen), seen
        transcript = ws.receive_json()
        assert transcript["type"] == "transcript"
        assert "nabu" not in transcript["text"].lower(), transcript
        assert ws.receive_json()["type"] == "reply_start"
        while (message := ws.receive_json())["type"] != "reply_end":
            assert message["type"] == "reply_delta"
        assert "56" in message["response"], (transcript, message)


def test_ordinary_speech_wakes_nothing_and_is_not_transcribed(
    make_client: Callable[..., TestClient],
) -> None:
    stt = RecordingSpeechToText(audio_seconds=0.0)
    client = make_client(overrides=Overrides(stt=stt, use_stt_override=True), wake_word="okay_nabu")
    with client.websocket_connect("/ws/voice/ordinary") as ws:
        _hello(ws)
        ws.send_json(WAKE_STREAM)
        for voice in ("en-us", voices.PIPER):
            speech = voices.say("what is seven times eight", voice) + voices.silence(1.0)
            for frame in _frames(speech):
                ws.send_bytes(frame)
            # Nothing: no wake, no partial words, no end of speech, no transcript.
            assert _until_pong(ws) == [], voice
            # The audio was heard by the detector, and only by it.
            assert client.app.state.services.wake.listeners == 1
        ws.send_json({"type": "audio_end"})  # the user stopped waiting: nothing to answer
        assert ws.receive_json() == {"type": "speech_end", "reason": "no_speech"}
        assert _until_pong(ws) == []
    assert stt.recordings == []  # no speech model saw any of it


def test_waiting_for_the_wake_word_costs_no_speech_budget(
    make_client: Callable[..., TestClient],
) -> None:
    # A speech budget of one utterance (STT_MAX_SECONDS), reserved only when it is full.
    stt = RecordingSpeechToText(audio_seconds=0.0)
    client = make_client(
        overrides=Overrides(stt=stt, use_stt_override=True),
        wake_word="okay_nabu",
        rate_limit_enabled=True,
        stt_max_seconds=10,
        listen_no_speech_seconds=3,
        rate_limit_stt_seconds_per_address_per_hour=10,
        rate_limit_stt_seconds_per_user_per_hour=10,
    )
    wake = voices.say("okay nabu", "en-us") + voices.silence(1.0)
    with client.websocket_connect("/ws/voice/free") as ws:
        _hello(ws)
        ws.send_json(WAKE_STREAM)
        for frame in _frames(voices.say("what time is it", "en-us") + voices.silence(1.0)):
            ws.send_bytes(frame)
        assert _until_pong(ws) == []
        ws.send_json({"type": "audio_end"})
        assert ws.receive_json() == {"type": "speech_end", "reason": "no_speech"}
        # The wait cost nothing: the command after the wake word finds the budget full...
        ws.send_json(WAKE_STREAM)
        for frame in _frames(wake + voices.silence(4.0)):
            ws.send_bytes(frame)
        seen = _until_pong(ws)
        assert seen == [
            {"type": "wake", "word": "Okay Nabu"},
            {"type": "speech_end", "reason": "no_speech"},
        ]
        # ...and is paid for: the next one cannot be.
        ws.send_json(WAKE_STREAM)
        for frame in _frames(wake):
            ws.send_bytes(frame)
        seen = _until_pong(ws)
        assert seen[0] == {"type": "wake", "word": "Okay Nabu"}
        assert [m.get("code") for m in seen[1:]] == ["rate_limited"], seen
    assert stt.recordings == []


def test_a_wake_stream_is_held_to_real_time_and_a_flood_is_closed(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(
        wake_word="okay_nabu",
        rate_limit_enabled=True,
        rate_limit_ws_messages_per_minute=30,
        rate_limit_ws_flood_warnings=2,
    )
    with client.websocket_connect("/ws/voice/flood") as ws:
        _hello(ws)
        ws.send_json(WAKE_STREAM)
        # A minute of "audio" at once: the first 8 s are heard, the rest is over the rate,
        # counts against the message budget, is refused and finally closes the socket.
        for frame in _frames(voices.silence(60.0)):
            ws.send_bytes(frame)
        errors = []
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                errors.append(ws.receive_json())
    assert closed.value.code == 1008  # policy: the flood
    assert errors and all(e["code"] == "rate_limited" for e in errors), errors
    assert client.app.state.services.wake.listeners == 0  # the detector's place was freed


def test_the_rate_allows_a_burst_then_real_time() -> None:
    now = [0.0]
    rate = AudioRate(burst_seconds=5.0, speed=1.5, clock=lambda: now[0])  # 5 s for round numbers
    second = BYTES_PER_SECOND
    assert rate.take(5 * second)
    assert not rate.take(FRAME_BYTES)
    now[0] += 1.0
    assert rate.take(int(1.5 * second))
    assert not rate.take(2)
    now[0] += 1000.0  # a long pause earns no more than the burst
    assert rate.take(5 * second) and not rate.take(2)


@pytest.mark.parametrize(
    ("start", "code"),
    [
        ({**WAKE_STREAM, "stream": False}, "bad_request"),
        ({**WAKE_STREAM, "wake": "yes"}, "bad_request"),
        ({**WAKE_STREAM, "mime": "audio/webm"}, "bad_request"),
    ],
)
def test_bad_wake_streams_get_a_coded_error(
    make_client: Callable[..., TestClient], start: dict[str, Any], code: str
) -> None:
    client = make_client(wake_word="okay_nabu")
    with client.websocket_connect("/ws/voice/bad") as ws:
        _hello(ws)
        ws.send_json(start)
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == code, error
        assert _until_pong(ws) == []


def test_without_a_wake_word_a_wake_stream_is_refused_and_its_frames_dropped(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    with client.websocket_connect("/ws/voice/off") as ws:
        _hello(ws)
        ws.send_json(WAKE_STREAM)
        error = ws.receive_json()
        assert error["code"] == "feature_unavailable" and "WAKE_WORD" in error["message"]
        for frame in _frames(voices.silence(1.0)):
            ws.send_bytes(frame)
        assert _until_pong(ws) == []


def test_a_detector_that_cannot_load_ends_the_wait_with_one_error(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(wake_word="okay_nabu")
    services = client.app.state.services
    working = services.wake
    # An address-space cap far below what TensorFlow Lite needs: the worker cannot start.
    services.wake = WakeWordService(WakeOptions(model="okay_nabu", worker_memory_mb=40))
    try:
        with client.websocket_connect("/ws/voice/broken") as ws:
            _hello(ws)
            ws.send_json(WAKE_STREAM)
            for frame in _frames(voices.silence(1.0)):
                ws.send_bytes(frame)
            seen = _until_pong(ws)
            assert [m.get("code") for m in seen] == ["provider_unavailable"], seen
            assert services.wake.listeners == 0  # the wait ended; its frames are dropped
    finally:
        client.portal.call(services.wake.aclose)
        services.wake = working


def test_wake_streams_beyond_the_limit_are_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(wake_word="okay_nabu", wake_max_streams=1)
    with (
        client.websocket_connect("/ws/voice/first") as first,
        client.websocket_connect("/ws/voice/second") as second,
    ):
        _hello(first)
        _hello(second)
        first.send_json(WAKE_STREAM)
        assert _until_pong(first) == []
        second.send_json(WAKE_STREAM)
        error = second.receive_json()
        assert error["code"] == "busy" and "WAKE_MAX_STREAMS" in error["message"], error
        for frame in _frames(voices.silence(0.5)):
            second.send_bytes(frame)
        assert _until_pong(second) == []
        first.send_json({"type": "audio_end"})  # the first stops waiting: its place is free
        assert first.receive_json() == {"type": "speech_end", "reason": "no_speech"}
        second.send_json(WAKE_STREAM)
        assert _until_pong(second) == []
        assert client.app.state.services.wake.listeners == 1
