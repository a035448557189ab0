"""The client's address, for rate limits: the socket peer, or a trusted proxy's word.

`X-Forwarded-For` is a list each proxy appends to: `claimed, …, seen by proxy 1`.
Everything left of what our own proxies wrote is the client's claim, which anyone
can forge. With TRUSTED_PROXY_HOPS=N (Cloud Run: 1, Google's front end appends the
address it saw) the client is the N-th address from the right; with 0 (a laptop, or
anything without a proxy in front) the header is ignored and the client is the
socket peer. A header shorter than N entries means the request did not come through
the proxies; then the peer is used.

This module is the only place that reads `X-Forwarded-For`. Uvicorn would otherwise
rewrite the ASGI scope's client from that header itself when the connection comes
from an address in `forwarded_allow_ips` (127.0.0.1 by default), which would let any
local client forge its way to a fresh budget: Ballsy starts uvicorn with
`proxy_headers=False`, so `scope["client"]` is always the real socket peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

UNKNOWN_CLIENT = "unknown"
_FORWARDED_FOR = b"x-forwarded-for"
# A header longer than this is not from a proxy chain we run; ignore the excess.
_MAX_HEADER_BYTES = 4096


def client_ip(scope: Mapping[str, Any], *, trusted_proxy_hops: int) -> str:
    """The client address for an ASGI `http` or `websocket` scope.

    Returns a normalised IP address string, or `UNKNOWN_CLIENT` when the server
    knows no peer (a Unix socket) and no trusted proxy named one.
    """
    peer = _peer(scope)
    if trusted_proxy_hops <= 0:
        return peer
    entries = _forwarded_for(scope.get("headers") or ())
    if len(entries) < trusted_proxy_hops:
        return peer
    return _normalise(entries[-trusted_proxy_hops]) or peer


def _peer(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    if not client:
        return UNKNOWN_CLIENT
    return _peer_address(str(client[0]))


# Every request and socket asks; the same peers come back. Only the socket's own peer is
# cached, never a header's text, which the client writes.
@lru_cache(maxsize=1024)
def _peer_address(host: str) -> str:
    return _normalise(host) or UNKNOWN_CLIENT


def _forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every `X-Forwarded-For` entry, in order; repeated headers are one list."""
    values = [value for name, value in headers if name.lower() == _FORWARDED_FOR]
    joined = b",".join(values)[-_MAX_HEADER_BYTES:]
    text = joined.decode("latin-1")
    return [entry.strip() for entry in text.split(",") if entry.strip()]


def _normalise(entry: str) -> str | None:
    """The address in `entry` (bare, `[v6]`, `v4:port` or `[v6]:port`), or None."""
    candidate = entry.strip()
    if candidate.startswith("["):
        candidate = candidate[1:].split("]", 1)[0]
    elif candidate.count(":") == 1:
        candidate = candidate.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
