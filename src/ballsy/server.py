"""Run the app under uvicorn with a shutdown that lets replies in flight finish.

On SIGTERM (Cloud Run sends it 10 s before SIGKILL) uvicorn stops accepting; we
then give turns in flight up to SHUTDOWN_GRACE_SECONDS minus a margin, close voice
sockets with 1012 so pages reconnect elsewhere, and let uvicorn finish the rest.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from typing import Any

import uvicorn

from ballsy.app import create_app
from ballsy.config import Settings

_MARGIN_SECONDS = 1.5


class BallsyServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not gc.isenabled():
            # `ballsy serve` loads with the collector off. What start-up built stays for the
            # life of the process: move it out of the collector's way (it would otherwise
            # walk all of it on every full collection) and collect as usual from here on.
            gc.freeze()
            gc.enable()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app: Any = self.config.loaded_app
        hub = _find_hub(app)
        grace = float(getattr(self, "_ballsy_grace", 8.0))
        if hub is not None:
            # Stop listening first so no new connection lands here while we drain.
            for server in getattr(self, "servers", []):
                server.close()
            await hub.drain(grace_seconds=max(grace - _MARGIN_SECONDS - 1.0, 0.5))
        await super().shutdown(sockets=sockets)


def _find_hub(app: Any) -> Any:
    """The SocketHub of our FastAPI app, under any middleware wrappers uvicorn added."""
    seen = 0
    while app is not None and seen < 10:
        state = getattr(app, "state", None)
        if state is not None and hasattr(state, "sockets"):
            return state.sockets
        app = getattr(app, "app", None)
        seen += 1
    return None


def serve(settings: Settings) -> None:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # Client addresses come from ballsy.api.client_ip with TRUSTED_PROXY_HOPS;
        # uvicorn must not rewrite them from X-Forwarded-For on its own.
        proxy_headers=False,
        server_header=False,
        date_header=True,
        ws_max_size=max(settings.ws_max_frame_bytes * 2, 1024 * 1024),
        ws_ping_interval=20,
        ws_ping_timeout=20,
        timeout_graceful_shutdown=max(int(_MARGIN_SECONDS), 1),
        timeout_keep_alive=30,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = BallsyServer(config)
    server._ballsy_grace = settings.shutdown_grace_seconds  # type: ignore[attr-defined]
    asyncio.run(server.serve())
