"""Untrusted audio cannot take the server down, through either door.

A 108-byte WAV declaring 0 bits per sample, or the unknown format tag 0x9999, used to
kill the whole server with SIGSEGV inside FFmpeg. These tests send those files, and
a fuzz corpus of over 300 malformed and mutated recordings, to a real `ballsy serve`
process (a crash there cannot take the test runner with it) through POST /api/voice
and through the WebSocket audio path: each gets a coded error (or, when it is still
valid audio, a transcript), and the same server process keeps answering.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests import audio
from tests.audio_fuzz import Case, corpus, unknown_tag_wav, zero_bits_wav
from tests.servers import BallsyProcess

pytestmark = [pytest.mark.speech, pytest.mark.slow]

# What either door may answer to bad audio: all coded, none a crash.
CODED = {
    "invalid_audio",
    "audio_too_long",
    "no_speech",
    "unsupported_media",
    "too_large",
    "busy",
    "stt_unavailable",
}
_TURN_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def command_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("isolation-audio")
    return audio.speak_wav("what is seven times eight", folder / "command.wav").read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BallsyProcess]:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    folder = tmp_path_factory.mktemp("isolation-server")
    process = BallsyProcess(
        {
            "DATA_DIR": str(folder / "data"),
            "STT_ENABLED": "true",
            "STT_PRELOAD": "true",
            "STT_DEVICE": "cpu",
            "STT_MAX_CONCURRENCY": "1",
            # One client sends one request at a time: nothing here should be refused busy.
            "STT_QUEUE_TIMEOUT_SECONDS": "60",
            "STT_JOB_TIMEOUT_SECONDS": "60",
            # Hundreds of requests from one address are the point here, not an attack.
            "RATE_LIMIT_ENABLED": "false",
        },
        log_path=folder / "serve.log",
    ).start()
    try:
        process.wait_healthy(timeout=60)
        yield process
    finally:
        process.kill()


@pytest.fixture(scope="module")
def http(server: BallsyProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=_TURN_TIMEOUT) as client:
        yield client


def post_voice(client: httpx.Client, data: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    response = client.post("/api/voice", files={"file": ("upload", data, content_type)})
    return response.status_code, response.json()


def ws_voice(ws: ClientConnection, data: bytes, content_type: str) -> dict[str, Any]:
    """Send one recorded utterance; return the error or the final response of its turn."""
    ws.send(json.dumps({"type": "audio_start", "mime": content_type}))
    for start in range(0, len(data), 16_384):
        ws.send(data[start : start + 16_384])
    ws.send(json.dumps({"type": "audio_end"}))
    transcript = None
    for _ in range(1000):  # bounded: a turn sends a handful of messages
        message = json.loads(ws.recv(timeout=_TURN_TIMEOUT))
        if message["type"] == "transcript":
            transcript = message["text"]
        if message["type"] in {"error", "reply_end"}:
            return {**message, "transcript": transcript}
    raise AssertionError("the turn never ended")


def open_socket(server: BallsyProcess, name: str) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{server.port}/ws/voice/{name}", open_timeout=30)


def assert_still_serving(server: BallsyProcess, client: httpx.Client, pid: int) -> None:
    assert server.proc is not None and server.proc.poll() is None, "the server process died"
    assert server.proc.pid == pid
    assert client.get("/health").status_code == 200


def assert_command_answered(client: httpx.Client, ws: ClientConnection, wav: bytes) -> None:
    status, body = post_voice(client, wav, "audio/wav")
    assert status == 200, body
    assert "56" in body["response"]
    reply = ws_voice(ws, wav, "audio/wav")
    assert reply["type"] == "reply_end", reply
    assert "56" in reply["response"]


@pytest.mark.parametrize(
    "data", [zero_bits_wav(), unknown_tag_wav()], ids=["0-bits-per-sample", "format-0x9999"]
)
def test_the_reported_crashing_wavs_get_invalid_audio_and_the_server_keeps_serving(
    server: BallsyProcess, http: httpx.Client, command_wav: bytes, data: bytes
) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    if data == zero_bits_wav():
        assert len(data) == 108  # the very file of the report

    status, body = post_voice(http, data, "audio/wav")
    assert (status, body["code"]) == (422, "invalid_audio"), body
    assert_still_serving(server, http, pid)

    with open_socket(server, "crash-report") as ws:
        reply = ws_voice(ws, data, "audio/wav")
        assert (reply["type"], reply["code"]) == ("error", "invalid_audio"), reply
        assert_still_serving(server, http, pid)
        # The next request on each door, the same socket included, is answered.
        assert_command_answered(http, ws, command_wav)


def test_a_pulsing_tone_in_noise_is_no_speech_on_both_doors(
    server: BallsyProcess, http: httpx.Client, tmp_path: Path
) -> None:
    # Whisper used to hear "Thank you." in it, and the assistant answered it.
    tone = audio.tone_with_noise_wav(tmp_path / "pulsing.wav").read_bytes()
    status, body = post_voice(http, tone, "audio/wav")
    assert (status, body["code"]) == (422, "no_speech"), body
    with open_socket(server, "tone") as ws:
        reply = ws_voice(ws, tone, "audio/wav")
    assert (reply["type"], reply["code"], reply["transcript"]) == ("error", "no_speech", None)


def test_fuzzed_audio_through_both_doors_gets_coded_answers_and_the_server_stays_up(
    server: BallsyProcess, http: httpx.Client, command_wav: bytes, tmp_path: Path
) -> None:
    cases = corpus(tmp_path)
    assert len(cases) >= 300
    assert server.proc is not None
    pid = server.proc.pid
    outcomes: Counter[str] = Counter()
    unexpected: list[tuple[str, str, Any]] = []
    with open_socket(server, "fuzz") as ws:
        for index, case in enumerate(cases):
            for door, outcome in _both_doors(http, ws, case):
                outcomes[outcome] += 1
                if outcome not in CODED and outcome != "transcript":
                    unexpected.append((case.name, door, outcome))
            if index % 25 == 24:
                assert_still_serving(server, http, pid)
        assert_still_serving(server, http, pid)
        assert not unexpected, unexpected
        assert_command_answered(http, ws, command_wav)
    print(f"fuzz outcomes over {len(cases)} inputs x 2 doors: {dict(outcomes)}")
    # The corpus really exercised the decoder: most inputs were refused as invalid.
    assert outcomes["invalid_audio"] > len(cases) // 2, outcomes


def _both_doors(
    client: httpx.Client, ws: ClientConnection, case: Case
) -> Iterator[tuple[str, str]]:
    status, body = post_voice(client, case.data, case.content_type)
    if status == 200:
        yield "http", "transcript"
    else:
        code = body.get("code", f"uncoded {status}")
        yield "http", code if 400 <= status < 600 and status != 500 else f"{status} {code}"
    reply = ws_voice(ws, case.data, case.content_type)
    if reply["type"] == "reply_end":
        yield "ws", "transcript"
    else:
        yield "ws", str(reply.get("code"))
