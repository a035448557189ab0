"""Ballsy's voice over the WebSocket: real Piper workers, real recogniser listening back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ballsy.db.models import CommandHistory, Message
from ballsy.wiring import Overrides
from tests.clients import new_user
from tests.scripted_llm import Script, ScriptedLLM
from tests.voice.conftest import require_voice
from tests.voice.listen import SpokenReply, read_until, transcribe_pcm

pytestmark = [pytest.mark.slow, pytest.mark.speech]


def _voice_client(
    make_client: Callable[..., TestClient], llm: ScriptedLLM | None, **settings: Any
) -> TestClient:
    require_voice()
    return make_client(
        overrides=Overrides(llm=llm, use_llm_override=True), tts_enabled=True, **settings
    )


def _open(ws: Any, token: str | None, *, speed: float | None = None) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token})
    assert ws.receive_json()["type"] == "hello"
    ws.send_json({"type": "voice", "enabled": True, "speed": speed})
    config: dict[str, Any] = ws.receive_json()
    assert config["type"] == "voice"
    return config


def _token(auth: dict[str, str]) -> str:
    return auth["Authorization"].split()[1]


def test_the_spoken_answer_to_seven_times_eight_says_56(
    make_client: Callable[..., TestClient], whisper_engine: Any
) -> None:
    client = _voice_client(make_client, None)
    advertised = client.get("/api/capabilities").json()["voice"]
    assert advertised["available"] is True and advertised["reason"] is None
    assert advertised["name"] == "joe" and advertised["title"].startswith("Ballsy")
    assert advertised["stream_format"] == "pcm_s16le"
    assert {"wav", "pcm"} <= set(advertised["formats"])
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        config = _open(ws, None)
        assert config["enabled"] is True and config["available"] is True
        assert config["voice"] == "joe"
        ws.send_json({"type": "command", "command": "what is seven times eight"})
        reply = SpokenReply()
        done = read_until(ws, reply, "voice_done")
    end = reply.of_type("reply_end")[0]
    assert "56" in end["response"]
    # What /api/capabilities advertised before anything was spoken is what was spoken.
    starts = reply.of_type("voice_start")
    assert {(s["format"], s["sample_rate"]) for s in starts} == {
        (advertised["stream_format"], advertised["sample_rate"])
    }
    assert done["sentences"] == len(reply.audio) >= 1
    # Real speech: about 15 words a second at most, and no silence-only audio.
    seconds = len(reply.pcm) / 2 / reply.sample_rate
    assert seconds > 0.5
    heard = transcribe_pcm(whisper_engine, reply.pcm, reply.sample_rate)
    words = heard.lower().replace("-", " ")
    assert "56" in heard.replace(",", "") or "fifty six" in words, heard


def test_a_socket_that_did_not_opt_in_gets_no_audio(make_client: Callable[..., TestClient]) -> None:
    client = _voice_client(make_client, None)
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        ws.send_json({"type": "command", "command": "what is two plus two"})
        assert ws.receive_json()["type"] == "reply_start"
        assert ws.receive_json()["type"] == "reply_end"
        ws.send_json({"type": "ping"})
        # Nothing voice_* came before the pong: legacy and text clients are unaffected.
        assert ws.receive_json() == {"type": "pong"}


def test_first_audio_arrives_while_the_provider_is_still_writing(
    make_client: Callable[..., TestClient],
) -> None:
    # The provider sends two sentences and then stalls (until cancelled): any audio the
    # client gets was made before the provider's last chunk was sent.
    llm = ScriptedLLM(
        Script(
            chunks=["The moon is about ", "384 thousand kilometres away. ", "It", " shines."],
            delay=0.01,
            hold_after=2,
        )
    )
    client = _voice_client(make_client, llm)
    _user, auth = new_user(client)
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        _open(ws, _token(auth))
        ws.send_json({"type": "command", "command": "tell me a fun fact about the moon"})
        reply = SpokenReply()
        end = read_until(ws, reply, "voice_end")
        assert llm.holding.is_set() and llm.completed == 0
        first = reply.of_type("voice_start")[0]
        assert first["text"] == "The moon is about 384 thousand kilometres away."
        assert end["seconds"] > 0.5 and len(reply.audio[0]) > 0
        assert not reply.of_type("reply_end")
        ws.send_json({"type": "cancel"})
        read_until(ws, reply, "reply_end")
    assert llm.cancelled.is_set()


def test_voice_speed_applies(make_client: Callable[..., TestClient]) -> None:
    client = _voice_client(make_client, None)
    lengths = []
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        for speed in (1.0, 2.0):
            _open(ws, None, speed=speed)
            ws.send_json({"type": "command", "command": "what is seven times eight"})
            reply = SpokenReply()
            read_until(ws, reply, "voice_done")
            lengths.append(len(reply.pcm))
    # Twice as fast is clearly shorter (Piper's pauses do not all scale).
    assert lengths[1] < lengths[0] * 0.75


@pytest.mark.parametrize("played", ["none_of_the_second", "half_of_the_second"])
def test_barge_in_stores_exactly_what_was_heard(
    make_client: Callable[..., TestClient], database_url: str, played: str
) -> None:
    first = "Saturn has more than a hundred moons."
    second = "Titan is the biggest of them, larger than the planet Mercury."
    third = "It has lakes of liquid methane."
    llm = ScriptedLLM(Script(chunks=[first + " ", second + " ", third]))
    client = _voice_client(make_client, llm, database_url=database_url)
    _user, auth = new_user(client)
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        _open(ws, _token(auth))
        ws.send_json({"type": "command", "command": "tell me a fun fact about saturn"})
        reply = SpokenReply()
        read_until(ws, reply, "reply_end")
        # Sentence 1 has started arriving: the user speaks over it.
        second_end = read_until(ws, reply, "voice_end")
        while second_end["seq"] != 1:
            second_end = read_until(ws, reply, "voice_end")
        turn_id = second_end["turn_id"]
        seconds = 0.0 if played == "none_of_the_second" else second_end["seconds"] / 2
        ws.send_json({"type": "voice_played", "turn_id": turn_id, "seq": 1, "seconds": seconds})
        stopped = read_until(ws, reply, "voice_stopped")
        words = second.split()
        expected = first if seconds == 0 else f"{first} {' '.join(words[: len(words) // 2])}"
        assert stopped == {"type": "voice_stopped", "turn_id": turn_id, "heard": expected}

        # The next AI turn knows the reply was cut off, and where.
        ws.send_json({"type": "command", "command": "why did you stop"})
        read_until(ws, SpokenReply(), "reply_end")
    context = [m.content for m in llm.calls[1]]
    assert any(c.startswith(expected + " [The user interrupted here") for c in context), context
    assert not any(third in c for c in context)

    async def stored() -> tuple[CommandHistory, Message]:
        services = client.app.state.services  # type: ignore[attr-defined]
        async with services.sessions() as session:
            row = (
                await session.execute(
                    select(CommandHistory).where(CommandHistory.turn_id == turn_id)
                )
            ).scalar_one()
            message = (
                await session.execute(
                    select(Message).where(Message.turn_id == turn_id, Message.is_user.is_(False))
                )
            ).scalar_one()
            return row, message

    row, message = client.portal.call(stored)  # type: ignore[union-attr]
    assert (row.result, row.interrupted) == (expected, True)
    assert (message.content, message.interrupted) == (expected, True)


def test_barge_in_names_only_the_turn_being_spoken(make_client: Callable[..., TestClient]) -> None:
    client = _voice_client(make_client, None)
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        _open(ws, None)
        ws.send_json({"type": "voice_played", "turn_id": "not-a-turn", "seq": 0, "seconds": 1})
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == "bad_request"
        ws.send_json({"type": "voice_played", "turn_id": "x", "seq": -1})
        assert ws.receive_json()["code"] == "bad_request"
        ws.send_json({"type": "voice", "enabled": "yes"})
        assert ws.receive_json()["code"] == "bad_request"


def test_without_the_voice_the_socket_says_why_and_sends_no_audio(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(tts_enabled=False)
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        ws.send_json({"type": "voice", "enabled": True})
        config = ws.receive_json()
        assert config["enabled"] is False and config["available"] is False
        assert "TTS_ENABLED=false" in config["reason"]
        ws.send_json({"type": "command", "command": "what is two plus two"})
        assert ws.receive_json()["type"] == "reply_start"
        assert ws.receive_json()["type"] == "reply_end"
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_a_tokenless_socket_remembers_the_cut_off_reply_too(
    make_client: Callable[..., TestClient],
) -> None:
    first = "Jupiter is the largest planet."
    llm = ScriptedLLM(Script(chunks=[first + " ", "It has a great red spot. ", "It is gas."]))
    client = _voice_client(make_client, llm)
    with client.websocket_connect("/ws/voice/tab-1") as ws:
        _open(ws, None)
        ws.send_json({"type": "command", "command": "tell me a fun fact about jupiter"})
        reply = SpokenReply()
        end = read_until(ws, reply, "voice_end")
        ws.send_json({"type": "voice_played", "turn_id": end["turn_id"], "seq": 1, "seconds": 0})
        assert read_until(ws, reply, "voice_stopped")["heard"] == first
        ws.send_json({"type": "command", "command": "go on"})
        read_until(ws, SpokenReply(), "reply_end")
    context = [m.content for m in llm.calls[1]]
    assert f"{first} [The user interrupted here; they did not hear the rest of this reply.]" in (
        context
    )
