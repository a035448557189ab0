"""Who may drive this server from a browser: the Host it is reached by, and the site a
request comes from.

- Host: a request whose Host header is not one of TRUSTED_HOSTS (by default this
  machine's own names) gets 400. A DNS-rebinding page reaches a laptop's server under
  the attacker's own host name, so this is what keeps it out. /health and /ready stay
  open to any Host: probes use whatever address they have, and both reveal nothing.
- Site: a browser says where a request comes from (Origin, and Sec-Fetch-Site in
  modern browsers). A state-changing or expensive request (any method but GET, HEAD
  and OPTIONS) that carries no credential, and every WebSocket handshake (its token
  comes later, in the first message), must come from this origin or one of
  CORS_ORIGINS; a foreign page's form or script gets 403. Clients that are not
  browsers send neither header and are let through. A request that carries a bearer
  token or an operator key is not checked: a foreign page cannot attach one without
  passing CORS.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ballsy.api.errors import error_body
from ballsy.errors import BadRequest, BallsyError, Forbidden

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_OPEN_PATHS = frozenset({"/health", "/ready"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_CLOSE_POLICY = 1008


def host_allowed(host_header: str, allowed: list[str]) -> bool:
    """Whether a Host header names one of `allowed` (exact names, "*.suffix" or
    "prefix-*.suffix" patterns, or "*" for any)."""
    name = _host_name(host_header)
    if not name:
        return False
    for pattern in allowed:
        if pattern == "*" or pattern == name:
            return True
        if "*" in pattern:
            prefix, _, suffix = pattern.partition("*")
            if (
                len(name) > len(prefix) + len(suffix)
                and name.startswith(prefix)
                and name.endswith(suffix)
            ):
                return True
    return False


def same_site(headers: dict[str, str], allowed_origins: list[str]) -> bool:
    """Whether a request comes from this origin, an allowed one, or no browser page."""
    origin = headers.get("origin")
    if origin is not None:
        return origin in allowed_origins or _same_origin(origin, headers.get("host", ""))
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    return True


def _same_origin(origin: str, host_header: str) -> bool:
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    host_name = _host_name(host_header)
    host_port = _host_port(host_header)
    # A Host without a port is on a default one; behind a TLS-terminating proxy the
    # server sees plain HTTP while the page's Origin is https, so either default counts.
    return parts.hostname.lower() == host_name and (
        origin_port in (80, 443) if host_port is None else host_port == origin_port
    )


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _host_port(host_header: str) -> int | None:
    host = host_header.strip()
    tail = host.rsplit("]", 1)[-1] if host.startswith("[") else host
    if tail.count(":") != 1:
        return None
    port = tail.rsplit(":", 1)[1]
    return int(port) if port.isdigit() else None


def _has_credential(headers: dict[str, str]) -> bool:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return (scheme.lower() == "bearer" and bool(token.strip())) or bool(headers.get("x-api-key"))


class SiteGuardMiddleware:
    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str], allowed_origins: list[str]):
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            # Closing before accepting answers the handshake with 403.
            await send({"type": "websocket.close", "code": _CLOSE_POLICY, "reason": refusal.code})
        else:
            await _send_error(send, refusal)

    def _refusal(self, scope: Scope) -> BallsyError | None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        is_socket = scope["type"] == "websocket"
        if scope.get("path") in _OPEN_PATHS and not is_socket:
            return None
        if not host_allowed(headers.get("host", ""), self.allowed_hosts):
            return BadRequest(
                "This server does not answer to that host name; add it to TRUSTED_HOSTS."
            )
        checked = is_socket or (
            scope.get("method") not in _SAFE_METHODS and not _has_credential(headers)
        )
        if checked and not same_site(headers, self.allowed_origins):
            return Forbidden(
                "Cross-site requests are not allowed; list the origin in CORS_ORIGINS."
            )
        return None


async def _send_error(send: Send, error: BallsyError) -> None:
    payload = orjson.dumps(error_body(error))
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
