"""The OpenAI-compatible speech routes in-process: keys, the speech budget, clear errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.clients import new_user
from tests.voice.conftest import require_voice

pytestmark = [pytest.mark.slow, pytest.mark.speech]


def test_synthesis_is_paid_from_the_speech_budget(make_client: Callable[..., TestClient]) -> None:
    require_voice()
    # A budget smaller than one utterance's reservation: the first request takes all of it.
    client = make_client(
        tts_enabled=True, rate_limit_enabled=True, rate_limit_stt_seconds_per_user_per_hour=30
    )
    _user, auth = new_user(client)
    body = {"input": "Fifty six.", "response_format": "wav"}
    first = client.post("/v1/audio/speech", json=body, headers=auth)
    assert first.status_code == 200 and first.content[:4] == b"RIFF"
    second = client.post("/v1/audio/speech", json=body, headers=auth)
    assert second.status_code == 429
    assert second.json()["code"] == "rate_limited"


def test_keys_and_a_missing_voice_are_clear(make_client: Callable[..., TestClient]) -> None:
    client = make_client(tts_enabled=False, operator_api_keys="op-key-0123456789")
    body = {"input": "hello"}
    assert client.post("/v1/audio/speech", json=body).status_code == 401
    assert client.get("/v1/models", headers={"Authorization": "Bearer nope"}).status_code == 401
    operator = {"Authorization": "Bearer op-key-0123456789"}
    refused = client.post("/v1/audio/speech", json=body, headers=operator)
    assert refused.status_code == 501
    assert refused.json()["code"] == "feature_unavailable"
    assert "TTS_ENABLED=false" in refused.json()["message"]
    # Neither backend here: the model list says so by being empty.
    assert client.get("/v1/models", headers=operator).json() == {"object": "list", "data": []}
    bad = client.post(
        "/v1/audio/speech", json={"input": "hi", "response_format": "ogg"}, headers=operator
    )
    assert bad.status_code == 422 and "response_format" in bad.json()["message"]
