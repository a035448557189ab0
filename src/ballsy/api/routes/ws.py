"""`WS /ws/voice/{client_id}`: the streaming door.

Authentication: browsers cannot set headers on a WebSocket, so the page sends its
bearer token in the first message, `{"type": "hello", "token": "…"}` (never in the
URL, which ends up in logs). Until then — and for tokenless clients that never say
hello — the socket runs in a short-lived tokenless scope of its own. Cross-site pages
are refused before the handshake (see api/site_guard.py): a browser's Origin must be
this host or one of CORS_ORIGINS.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from ballsy.api.client_ip import client_ip
from ballsy.api.ws import VoiceSocket
from ballsy.wiring import Services

router = APIRouter(tags=["assistant"])


@router.websocket("/ws/voice/{client_id}")
async def voice_socket(websocket: WebSocket, client_id: str) -> None:
    services: Services = websocket.app.state.services
    if len(client_id) > 128:
        await websocket.close(code=1008, reason="client id too long")
        return
    address = client_ip(
        websocket.scope, trusted_proxy_hops=services.settings.service.trusted_proxy_hops
    )
    socket = VoiceSocket(
        websocket, services, websocket.app.state.sockets, client_id=client_id, address=address
    )
    await socket.serve()
