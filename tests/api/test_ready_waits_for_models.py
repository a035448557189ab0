"""/ready says "ready" only once the preloaded models are loaded, so Cloud Run's startup probe
keeps traffic away until then and the first spoken request never pays for the load."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ballsy.errors import ProviderUnavailable
from ballsy.wiring import Overrides
from tests.fakes.stt import RecordingSpeechToText

DEADLINE_S = 120.0  # generous: the machine is shared; the loop ends as soon as it can


class GatedSpeechToText(RecordingSpeechToText):
    """A model whose load finishes when the test says so (or fails, if told to)."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__(audio_seconds=1.0)
        self.release = threading.Event()
        self.fail = fail
        self.loaded = False

    async def warm_up(self) -> None:
        await asyncio.to_thread(self.release.wait, DEADLINE_S)
        if self.fail:
            raise ProviderUnavailable("the model file is damaged")
        self.loaded = True

    @property
    def ready(self) -> bool:
        return self.loaded


def _ready_once(
    client: TestClient, until: Callable[[dict[str, object]], bool]
) -> dict[str, object]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        response = client.get("/ready")
        body = dict(response.json())
        body["http"] = response.status_code
        if until(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def _client(make_client: Callable[..., TestClient], stt: GatedSpeechToText) -> TestClient:
    return make_client(
        overrides=Overrides(stt=stt, use_stt_override=True),
        stt_preload=True,
    )


def test_not_ready_while_the_speech_model_loads_then_ready(
    make_client: Callable[..., TestClient],
) -> None:
    stt = GatedSpeechToText()
    client = _client(make_client, stt)
    try:
        loading = client.get("/ready")
        assert loading.status_code == 503
        assert loading.json()["models"] == {"speech": "loading"}
        assert loading.json()["db"] == "ok", "only the model holds readiness back"
        # Liveness is not held back: the process is up.
        assert client.get("/health").status_code == 200
    finally:
        stt.release.set()
    ready = _ready_once(client, lambda body: body["http"] == 200)
    assert ready == {"status": "ready", "db": "ok", "models": {"speech": "ok"}, "http": 200}
    assert stt.loaded


def test_a_model_that_cannot_load_is_reported_and_does_not_hold_the_instance(
    make_client: Callable[..., TestClient],
) -> None:
    stt = GatedSpeechToText(fail=True)
    client = _client(make_client, stt)
    stt.release.set()
    done = _ready_once(client, lambda body: body.get("models") != {"speech": "loading"})
    assert done["models"] == {"speech": "failed"}
    assert done["http"] == 200, "text commands still work: the instance serves"


def test_nothing_to_wait_for_without_preload(make_client: Callable[..., TestClient]) -> None:
    stt = GatedSpeechToText()
    client = make_client(overrides=Overrides(stt=stt, use_stt_override=True), stt_preload=False)
    response = client.get("/ready")
    assert response.status_code == 200
    assert "models" not in response.json()
    stt.release.set()


@pytest.mark.speech
@pytest.mark.slow
def test_ready_means_the_real_speech_model_is_loaded_in_a_worker(
    make_client: Callable[..., TestClient],
) -> None:
    """With the embedded model and its worker processes: every "ready" comes with a worker
    whose model is loaded."""
    client = make_client(stt_enabled=True, stt_preload=True)
    services = client.app.state.services  # type: ignore[attr-defined]
    pool = services.stt.pool
    assert pool is not None, "the embedded model runs in worker processes"
    deadline = time.monotonic() + DEADLINE_S
    while True:
        response = client.get("/ready")
        if response.status_code == 200:
            assert pool.ready, "/ready said ready before the model was loaded"
            assert response.json()["models"] == {"speech": "ok"}
            break
        assert response.json()["models"] == {"speech": "loading"}
        assert time.monotonic() < deadline, "the speech model did not load in time"
        time.sleep(0.1)
    assert pool.pids(), "a worker process holds the model"
