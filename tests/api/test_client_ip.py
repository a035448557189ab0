"""The client address: only trusted proxy hops are believed, never the client's claim."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import uvicorn

from ballsy.api.client_ip import UNKNOWN_CLIENT, client_ip
from ballsy.config import Settings
from ballsy.errors import RateLimited
from ballsy.providers.ratelimit.limiter import RateLimiter, ip_key
from ballsy.providers.ratelimit.memory import MemoryStore


def scope(peer: str | None, *forwarded_for: str) -> dict[str, Any]:
    headers = [(b"host", b"ballsy")]
    headers += [(b"X-Forwarded-For", value.encode()) for value in forwarded_for]
    return {"type": "http", "client": (peer, 50000) if peer else None, "headers": headers}


def test_without_trusted_proxies_the_socket_peer_is_the_client() -> None:
    assert client_ip(scope("203.0.113.7", "1.2.3.4"), trusted_proxy_hops=0) == "203.0.113.7"
    assert client_ip(scope("203.0.113.7"), trusted_proxy_hops=0) == "203.0.113.7"


def test_one_hop_takes_the_address_googles_front_end_appended() -> None:
    forged = scope("169.254.1.1", "6.6.6.6, 7.7.7.7, 198.51.100.20")
    assert client_ip(forged, trusted_proxy_hops=1) == "198.51.100.20"
    assert client_ip(scope("169.254.1.1", "198.51.100.20"), trusted_proxy_hops=1) == (
        "198.51.100.20"
    )


def test_n_hops_take_the_nth_address_from_the_right() -> None:
    chain = scope("10.0.0.1", "6.6.6.6, 198.51.100.20, 35.191.0.9")
    assert client_ip(chain, trusted_proxy_hops=2) == "198.51.100.20"


def test_repeated_headers_are_one_list_in_order() -> None:
    split = scope("10.0.0.1", "6.6.6.6", "198.51.100.20")
    assert client_ip(split, trusted_proxy_hops=1) == "198.51.100.20"
    assert client_ip(split, trusted_proxy_hops=2) == "6.6.6.6"


def test_a_short_or_missing_header_falls_back_to_the_peer() -> None:
    assert client_ip(scope("10.0.0.1"), trusted_proxy_hops=1) == "10.0.0.1"
    assert client_ip(scope("10.0.0.1", "198.51.100.20"), trusted_proxy_hops=2) == "10.0.0.1"
    assert client_ip(scope("10.0.0.1", " , ,"), trusted_proxy_hops=1) == "10.0.0.1"


def test_a_malformed_trusted_entry_falls_back_to_the_peer() -> None:
    assert client_ip(scope("10.0.0.1", "1.2.3.4, not-an-ip"), trusted_proxy_hops=1) == "10.0.0.1"


def test_ports_brackets_and_ipv6_are_normalised() -> None:
    assert client_ip(scope("10.0.0.1", "198.51.100.20:4711"), trusted_proxy_hops=1) == (
        "198.51.100.20"
    )
    assert client_ip(scope("10.0.0.1", "[2001:DB8::1]:443"), trusted_proxy_hops=1) == (
        "2001:db8::1"
    )
    assert client_ip(scope("10.0.0.1", "2001:db8::0:1"), trusted_proxy_hops=1) == "2001:db8::1"


def test_no_peer_and_no_proxy_is_unknown() -> None:
    assert client_ip(scope(None), trusted_proxy_hops=0) == UNKNOWN_CLIENT
    assert client_ip(scope(None, "1.2.3.4"), trusted_proxy_hops=0) == UNKNOWN_CLIENT


def test_a_huge_header_is_read_from_its_trusted_end_only() -> None:
    padding = ", ".join(["6.6.6.6"] * 5000)
    assert client_ip(scope("10.0.0.1", f"{padding}, 198.51.100.20"), trusted_proxy_hops=1) == (
        "198.51.100.20"
    )


async def test_forged_forwarded_for_never_buys_a_fresh_budget(
    make_settings: Callable[..., Settings],
) -> None:
    """Behind one trusted hop, the client controls only the left of the header."""
    settings = make_settings(rate_limit_requests_per_minute=3, trusted_proxy_hops=1)
    limiter = RateLimiter(settings.limits, MemoryStore(max_keys=1000), speech_max_seconds=60)

    async def request(forged: str) -> None:
        request_scope = scope("169.254.1.1", f"{forged}, 198.51.100.20")
        address = client_ip(request_scope, trusted_proxy_hops=settings.trusted_proxy_hops)
        await limiter.check_request(ip_key(address))

    for index in range(3):
        await request(f"10.9.9.{index}")
    for index in range(3, 10):
        with pytest.raises(RateLimited):
            await request(f"10.9.9.{index}")


# --- through a real uvicorn server ---------------------------------------------------


def make_app(nonce: str, limiter: RateLimiter, hops: int) -> Any:
    """A bare ASGI app: reports what the server and client_ip saw, enforces one budget."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        address = client_ip(scope, trusted_proxy_hops=hops)
        status, body = 200, {"nonce": nonce, "peer": scope["client"][0], "client": address}
        try:
            await limiter.check_request(ip_key(address))
        except RateLimited as refused:
            status, body = 429, {**body, **refused.to_dict()}
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": payload})

    return app


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(app: Any, *, proxy_headers: bool) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app, lifespan="off", log_level="warning", proxy_headers=proxy_headers
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        servers.append((server, task))
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start within 2 s"
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, task in servers:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def test_through_uvicorn_a_local_client_cannot_forge_its_way_to_a_fresh_budget(
    serve: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    nonce = uuid.uuid4().hex
    limiter = RateLimiter(
        make_settings(rate_limit_requests_per_minute=3).limits,
        MemoryStore(max_keys=1000),
        speech_max_seconds=60,
    )
    base = await serve(make_app(nonce, limiter, hops=0), proxy_headers=False)
    async with httpx.AsyncClient(base_url=base, timeout=5, trust_env=False) as client:
        answers = [
            await client.get("/", headers={"X-Forwarded-For": f"10.0.0.{index}"})
            for index in range(6)
        ]
    bodies = [answer.json() for answer in answers]
    assert all(body["nonce"] == nonce for body in bodies)  # our server answered
    assert {body["peer"] for body in bodies} == {"127.0.0.1"}
    assert {body["client"] for body in bodies} == {"127.0.0.1"}
    assert [answer.status_code for answer in answers] == [200] * 3 + [429] * 3
    assert bodies[3]["code"] == "rate_limited"
    assert 15 < bodies[3]["retry_after"] <= 20  # one token per 20 s, real clock


async def test_uvicorns_default_proxy_headers_would_let_a_local_client_forge(
    serve: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    """Why the server must run with proxy_headers=False: the default trusts 127.0.0.1."""
    nonce = uuid.uuid4().hex
    limiter = RateLimiter(make_settings().limits, MemoryStore(max_keys=1000), speech_max_seconds=60)
    base = await serve(make_app(nonce, limiter, hops=0), proxy_headers=True)
    async with httpx.AsyncClient(base_url=base, timeout=5, trust_env=False) as client:
        answer = await client.get("/", headers={"X-Forwarded-For": "10.0.0.99"})
    body = answer.json()
    assert body["nonce"] == nonce
    assert body["peer"] == "10.0.0.99"  # uvicorn rewrote the peer from the header
