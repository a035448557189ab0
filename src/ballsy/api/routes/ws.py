"""`WS /ws/voice/{client_id}`: the streaming door.

Authentication: browsers cannot set headers on a WebSocket, so the page sends its
bearer token in the first message, `{"type": "hello", "token": "…"}` (never in the
URL, which ends up in logs). Until then — and for legacy clients that never say
hello — the socket runs in an ephemeral anonymous scope. Cross-site pages are
refused: a browser's Origin must be this host or one of CORS_ORIGINS.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from ballsy.api.client_ip import client_ip
from ballsy.api.ws import VoiceSocket
from ballsy.wiring import Services

router = APIRouter(tags=["assistant"])


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:  # not a browser: scripts and server-to-server clients
        return True
    host = websocket.headers.get("host", "")
    if origin.split("://", 1)[-1] == host:
        return True
    return origin in allowed


@router.websocket("/ws/voice/{client_id}")
async def voice_socket(websocket: WebSocket, client_id: str) -> None:
    services: Services = websocket.app.state.services
    if not origin_allowed(websocket, services.settings.cors_origins) or len(client_id) > 128:
        await websocket.close(code=1008, reason="origin not allowed")
        return
    address = client_ip(websocket.scope, trusted_proxy_hops=services.settings.trusted_proxy_hops)
    socket = VoiceSocket(
        websocket, services, websocket.app.state.sockets, client_id=client_id, address=address
    )
    await socket.serve()
