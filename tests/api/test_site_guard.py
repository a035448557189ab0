"""Host names and cross-site requests: a foreign page cannot drive the tokenless API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ballsy.api.site_guard import host_allowed, same_site
from ballsy.config import ConfigError, Settings
from tests.clients import new_user

WAV = {"file": ("a.wav", b"RIFF0000WAVE", "audio/wav")}


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example.net"},
        {"Origin": "null"},
        {"Origin": "http://testserver:8081"},  # another port is another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_site_tokenless_posts_are_forbidden(
    make_client: Callable[..., TestClient], headers: dict[str, str]
) -> None:
    client = make_client()
    for path, kwargs in (
        ("/api/voice", {"files": WAV}),
        ("/api/command", {"json": {"command": "hello"}}),
        ("/api/session", {}),
    ):
        response = client.post(path, headers=headers, **kwargs)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    "headers",
    [
        {},  # not a browser
        {"Origin": "http://testserver"},
        {"Origin": "https://ballsy.example.com"},  # listed in CORS_ORIGINS
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
    ],
)
def test_same_origin_and_non_browser_posts_pass(
    make_client: Callable[..., TestClient], headers: dict[str, str]
) -> None:
    client = make_client(cors_origins="https://ballsy.example.com")
    response = client.post("/api/command", json={"command": "hello"}, headers=headers)
    assert response.status_code == 200, response.text


def test_requests_with_a_token_and_reads_are_not_origin_checked(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    _user, auth = new_user(client)
    evil = {"Origin": "https://evil.example.net"}
    with_token = client.post("/api/command", json={"command": "hello"}, headers={**auth, **evil})
    assert with_token.status_code == 200
    assert client.get("/api/capabilities", headers=evil).status_code == 200


def test_websocket_handshake_from_a_foreign_page_is_refused(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    for headers in ({"Origin": "https://evil.example.net"}, {"Sec-Fetch-Site": "cross-site"}):
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/ws/voice/x", headers=headers) as ws,
        ):
            ws.receive_json()
        assert refused.value.code == 1008
    with client.websocket_connect("/ws/voice/x", headers={"Origin": "http://testserver"}) as ws:
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_unknown_host_names_are_refused_but_probes_answer(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(trusted_hosts="127.0.0.1,localhost")
    rebound = {"Host": "attacker.example.net"}
    response = client.post("/api/command", json={"command": "hello"}, headers=rebound)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert "TRUSTED_HOSTS" in response.json()["message"]
    assert client.get("/api/capabilities", headers=rebound).status_code == 400
    assert client.get("/health", headers=rebound).status_code == 200
    assert client.get("/ready", headers=rebound).status_code == 200
    local = client.post(
        "/api/command", json={"command": "hello"}, headers={"Host": "localhost:8080"}
    )
    assert local.status_code == 200
    # TestClient's socket host is "testserver", not a trusted one here.
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws/voice/x") as ws:
        ws.receive_json()


def test_default_trusted_hosts(make_settings: Callable[..., Settings]) -> None:
    laptop = make_settings(trusted_hosts="")
    assert laptop.allowed_hosts() == ["localhost", "127.0.0.1", "::1"]
    lan = make_settings(trusted_hosts="", host="192.168.1.20")
    assert "192.168.1.20" in lan.allowed_hosts()
    cloud_run = make_settings(trusted_hosts="", k_service="ballsy", host="0.0.0.0")
    hosts = cloud_run.allowed_hosts()
    assert host_allowed("ballsy-123456789.us-central1.run.app", hosts)
    assert host_allowed("ballsy-abc123xyz-uc.a.run.app", hosts)
    assert not host_allowed("other-123.us-central1.run.app", hosts)
    assert not host_allowed("0.0.0.0", hosts)
    configured = make_settings(trusted_hosts="Ballsy.Example.com, *.internal.example")
    assert configured.allowed_hosts() == ["ballsy.example.com", "*.internal.example"]


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("localhost:8080", ["localhost"], True),
        ("[::1]:8080", ["::1"], True),
        ("LOCALHOST", ["localhost"], True),
        ("evil.localhost.example", ["localhost"], False),
        ("a.internal.example", ["*.internal.example"], True),
        ("internal.example", ["*.internal.example"], False),
        ("anything", ["*"], True),
        ("", ["localhost"], False),
    ],
)
def test_host_patterns(host: str, allowed: list[str], expected: bool) -> None:
    assert host_allowed(host, allowed) is expected


def test_origin_behind_a_tls_proxy_is_same_origin() -> None:
    assert same_site({"origin": "https://ballsy.example.com", "host": "ballsy.example.com"}, [])
    assert not same_site(
        {"origin": "https://ballsy.example.com.evil.net", "host": "ballsy.example.com"}, []
    )


def test_production_outside_cloud_run_needs_trusted_hosts(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        environment="production",
        database_url="postgresql://ballsy@db:5432/ballsy",
        metrics_token="metrics-token-value",
        trusted_hosts="",
    )
    with pytest.raises(ConfigError, match="TRUSTED_HOSTS"):
        settings.check_production()
