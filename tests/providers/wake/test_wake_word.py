"""The wake word: synthesised wake phrases are heard, ordinary commands are not, and the
worker process that runs the detectors can crash or hang without the server noticing more
than a moment without detections."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ballsy.api import ws_protocol
from ballsy.errors import BadRequest, Busy, FeatureUnavailable, ProviderUnavailable
from ballsy.providers.wake import service as wake_service
from ballsy.providers.wake.catalogue import WAKE_MODELS, model_size_bytes
from ballsy.providers.wake.detector import StreamDetector
from ballsy.providers.wake.service import (
    MAX_FEED_BYTES,
    WakeListener,
    WakeOptions,
    WakeWordService,
)
from tests import voices

CHUNK = 640  # 20 ms, as the page streams it
COMMANDS = (
    "what is seven times eight",
    "what time is it",
    "set a timer for five minutes",
    "play some jazz on youtube",
    "okay, what is the weather like today",
)


def clip(text: str, voice: str) -> bytes:
    return voices.silence(0.5) + voices.say(text, voice) + voices.silence(1.0)


async def detections(listener: WakeListener, pcm: bytes, chunk: int = CHUNK) -> int:
    found = 0
    for start in range(0, len(pcm), chunk):
        found += await listener.feed(pcm[start : start + chunk])
    return found


@pytest.fixture
async def okay_nabu() -> AsyncIterator[WakeWordService]:
    service = WakeWordService(WakeOptions(model="okay_nabu", max_streams=8))
    try:
        yield service
    finally:
        await service.aclose()


async def test_a_spoken_wake_phrase_is_heard_and_ordinary_commands_are_not(
    okay_nabu: WakeWordService,
) -> None:
    for voice in ("en-us", voices.PIPER):
        listener = okay_nabu.listener()
        assert await detections(listener, clip("okay nabu", voice)) == 1, voice
        await listener.aclose()
    listener = okay_nabu.listener()
    for voice in ("en-us", "en-gb-x-rp", voices.PIPER):
        for command in COMMANDS:
            assert await detections(listener, clip(command, voice)) == 0, (voice, command)
    await listener.aclose()
    assert okay_nabu.pid() is not None and okay_nabu.pid() != os.getpid()


async def test_the_wake_phrase_then_a_command_wakes_once(okay_nabu: WakeWordService) -> None:
    listener = okay_nabu.listener()
    speech = clip("okay nabu", "en-us") + clip("what time is it", "en-us")
    # Uneven chunks, some splitting a sample in two: the detector reassembles them.
    assert await detections(listener, speech, chunk=1001) == 1
    await listener.aclose()


async def test_streams_are_independent_and_fed_together(okay_nabu: WakeWordService) -> None:
    wake, command = clip("okay nabu", voices.PIPER), clip("tell me a joke", voices.PIPER)
    listeners = [okay_nabu.listener() for _ in range(4)]
    pcms = [wake, command, wake, command]
    found = await asyncio.gather(
        *(detections(one, pcm) for one, pcm in zip(listeners, pcms, strict=True))
    )
    assert found == [1, 0, 1, 0]
    for listener in listeners:
        await listener.aclose()
    assert okay_nabu.listeners == 0


@pytest.mark.parametrize("name", sorted(WAKE_MODELS))
def test_every_packaged_model_hears_its_own_phrase_only(name: str) -> None:
    model = WAKE_MODELS[name]
    assert 10_000 < model_size_bytes(name) < 200_000  # the measured sizes: 52-81 kB
    assert model.licence.startswith("Apache-2.0")
    heard = StreamDetector(name)
    assert heard.feed(clip(model.say, voices.PIPER)), f"{name} missed {model.say!r}"
    for command in COMMANDS[:3]:
        assert not heard.feed(clip(command, voices.PIPER)), (name, command)


async def test_a_worker_killed_mid_stream_is_replaced_and_detection_goes_on(
    okay_nabu: WakeWordService,
) -> None:
    listener = okay_nabu.listener()
    assert await detections(listener, clip("what time is it", "en-us")) == 0
    first = okay_nabu.pid()
    assert first is not None
    os.kill(first, signal.SIGKILL)
    # The batch that finds it dead reports nothing; the next one starts a new worker.
    assert await listener.feed(voices.silence(0.1)) is False
    assert await detections(listener, clip("okay nabu", "en-us")) == 1
    assert okay_nabu.replaced == 1
    assert okay_nabu.pid() not in (None, first)
    await listener.aclose()


async def test_a_hung_worker_is_killed_after_the_batch_deadline() -> None:
    service = WakeWordService(
        WakeOptions(model="okay_nabu", max_streams=2, batch_timeout_seconds=5.0)
    )
    try:
        listener = service.listener()
        assert await listener.feed(voices.silence(0.1)) is False
        hung = service.pid()
        assert hung is not None
        os.kill(hung, signal.SIGSTOP)
        assert await listener.feed(voices.silence(0.1)) is False
        assert service.replaced == 1
        assert await detections(listener, clip("okay nabu", voices.PIPER)) == 1
    finally:
        await service.aclose()


async def test_closing_the_service_answers_a_listener_waiting_on_a_hung_worker() -> None:
    service = WakeWordService(WakeOptions(model="okay_nabu", batch_timeout_seconds=600))
    listener = service.listener()
    assert await listener.feed(voices.silence(0.1)) is False
    hung = service.pid()
    assert hung is not None
    os.kill(hung, signal.SIGSTOP)
    waiting = asyncio.create_task(listener.feed(voices.silence(0.1)))
    async with asyncio.timeout(60):
        while not service._in_flight:  # the feed has reached the hung worker
            await asyncio.sleep(0.01)
    async with asyncio.timeout(60):  # far below the 600 s batch deadline
        await service.aclose()
        assert await waiting is False
    with pytest.raises(Busy, match="shutting down"):
        service.listener()


async def test_a_model_that_cannot_load_is_reported_not_retried_in_a_loop() -> None:
    # An address-space cap far below what TensorFlow Lite needs: the worker cannot start.
    service = WakeWordService(WakeOptions(model="okay_nabu", worker_memory_mb=40))
    try:
        listener = service.listener()
        with pytest.raises(ProviderUnavailable, match="wake word model 'okay_nabu'"):
            await listener.feed(voices.silence(0.1))
        # Within the cool-down the failure is answered without starting another process.
        with pytest.raises(ProviderUnavailable):
            await listener.feed(voices.silence(0.1))
        assert service.pid() is None
    finally:
        await service.aclose()


async def test_limits_and_bad_input_get_clear_errors(okay_nabu: WakeWordService) -> None:
    listeners = [okay_nabu.listener() for _ in range(8)]
    with pytest.raises(Busy, match="WAKE_MAX_STREAMS"):
        okay_nabu.listener()
    with pytest.raises(BadRequest, match=f"at most {MAX_FEED_BYTES} bytes"):
        await listeners[0].feed(bytes(MAX_FEED_BYTES + 2))
    assert await listeners[0].feed(b"") is False
    await listeners[0].aclose()
    with pytest.raises(BadRequest, match="closed"):
        await listeners[0].feed(voices.silence(0.1))
    okay_nabu.listener()  # a closed listener frees its place
    with pytest.raises(BadRequest, match="not a wake word model"):
        WakeWordService(WakeOptions(model="hey_siri"))


def test_a_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wake_service, "package_dir", lambda: None)
    with pytest.raises(FeatureUnavailable, match=r"ballsy\[wake\]"):
        WakeWordService(WakeOptions(model="okay_nabu"))


def test_the_wake_message_and_capabilities_name_the_phrase(
    make_client: Callable[..., TestClient],
) -> None:
    assert ws_protocol.wake("Okay Nabu") == {"type": "wake", "word": "Okay Nabu"}
    assert make_client().get("/api/capabilities").json()["wake_word"] is None
    caps = make_client(wake_word="hey_jarvis").get("/api/capabilities").json()
    assert caps["wake_word"] == "Hey Jarvis"


def test_the_wake_word_is_off_by_default_and_only_packaged_models_are_accepted(
    make_settings: Callable[..., Any],
) -> None:
    from pydantic import ValidationError

    assert make_settings().wake_word == "off"
    with pytest.raises(ValidationError):
        make_settings(wake_word="hey_siri")


def test_the_worker_loop_feeds_closes_and_refuses_streams_beyond_its_limit() -> None:
    """The worker's own loop, run here (in its process it is out of coverage's sight)."""
    import json
    import multiprocessing
    import threading

    from ballsy.providers.wake.worker import WakeWorkerSpec, serve

    wake = clip("okay nabu", voices.PIPER)
    server_end, worker_end = multiprocessing.Pipe(duplex=True)
    replies: list[dict[str, Any]] = []

    def drive() -> None:
        replies.append(json.loads(server_end.recv_bytes()))  # ready
        server_end.send([("feed", 1, wake), ("feed", 2, wake)])
        replies.append(json.loads(server_end.recv_bytes()))
        server_end.send([("close", 1), ("feed", 2, voices.silence(0.1)), ("feed", 3, wake)])
        replies.append(json.loads(server_end.recv_bytes()))
        server_end.send(None)

    driver = threading.Thread(target=drive)
    driver.start()
    previous = signal.getsignal(signal.SIGINT)
    try:
        serve(worker_end, WakeWorkerSpec("okay_nabu", max_streams=1, memory_bytes=None), None)  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGINT, previous)
        driver.join(timeout=60)
    assert replies == [
        {"kind": "ready"},
        {"kind": "fed", "detected": [1], "refused": [2]},
        # Stream 1 closed: its place goes to stream 2, and stream 3 is refused.
        {"kind": "fed", "detected": [], "refused": [3]},
    ]
