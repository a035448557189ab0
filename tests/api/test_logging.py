"""Structured logs: one JSON line per request, Cloud Logging fields, no secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.clients import new_user

TRACE = "105445aa7843bc8bf206b12000100000"


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_a_request_logs_one_json_line_with_cloud_fields(
    make_client: Callable[..., TestClient], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(google_cloud_project="my-project")
    user_id, headers = new_user(client)
    capsys.readouterr()
    response = client.get(
        f"/api/settings/{user_id}",
        headers={**headers, "X-Cloud-Trace-Context": f"{TRACE}/1;o=1", "X-Request-ID": "abc-123"},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc-123"
    entries = [e for e in _json_lines(capsys.readouterr().out) if e.get("logger") == "ballsy.http"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["severity"] == "INFO"
    assert entry["message"] == f"GET /api/settings/{user_id} 200"
    assert entry["time"].endswith("+00:00")
    assert entry["request_id"] == "abc-123"
    assert entry["path"] == f"/api/settings/{user_id}"
    assert entry["method"] == "GET"
    assert entry["status"] == 200
    assert isinstance(entry["latency_ms"], float)
    assert entry["user_id"] == user_id
    assert entry["logging.googleapis.com/trace"] == f"projects/my-project/traces/{TRACE}"


def test_request_id_is_generated_when_absent_or_unsafe(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    generated = client.get("/health").headers["x-request-id"]
    assert len(generated) == 32
    unsafe = client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
    assert unsafe.headers["x-request-id"] != "bad id\nwith newline"


def test_secrets_never_reach_the_logs(
    make_client: Callable[..., TestClient], capsys: pytest.CaptureFixture[str]
) -> None:
    key = "AIzaSyLeakCanaryKey987654321"
    make_client(gemini_api_key=key, ai_provider="none", metrics_token="metrics-canary-555")
    logging.getLogger("ballsy.test").warning("calling the provider with key=%s", key)
    logging.getLogger("ballsy.test").error("token metrics-canary-555 seen")
    out = capsys.readouterr().out
    assert key not in out
    assert "metrics-canary-555" not in out
    assert "[redacted]" in out


def test_errors_also_carry_security_headers(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    for response in (client.get("/no/such/route"), client.post("/api/command", json={})):
        assert response.status_code in (404, 422)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"
        assert set(response.json()) >= {"code", "message"}


def test_hsts_only_in_production(make_settings: Callable[..., Any]) -> None:
    from ballsy.api.middleware import HttpContextMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        return None

    prod = HttpContextMiddleware(app, max_body_bytes=10, production=True, metrics=None)
    dev = HttpContextMiddleware(app, max_body_bytes=10, production=False, metrics=None)
    assert any(k == b"strict-transport-security" for k, _ in prod.security_headers)
    assert not any(k == b"strict-transport-security" for k, _ in dev.security_headers)
