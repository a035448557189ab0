"""Run the app under uvicorn with a shutdown that lets replies in flight finish.

On SIGTERM (Cloud Run sends it 10 s before SIGKILL) uvicorn stops accepting; we
then give turns in flight up to SHUTDOWN_GRACE_SECONDS minus a margin, close voice
sockets with 1012 so pages reconnect elsewhere, and let uvicorn finish the rest.
"""

from __future__ import annotations

import gc
import socket
from typing import TYPE_CHECKING

import uvicorn

from ballsy.app import create_app
from ballsy.config import Settings

if TYPE_CHECKING:
    from ballsy.api.ws import SocketHub

_MARGIN_SECONDS = 1.5


class BallsyServer(uvicorn.Server):
    """uvicorn's server, told the app's socket hub so that shutdown can drain it."""

    def __init__(
        self, config: uvicorn.Config, *, hub: SocketHub | None = None, grace_seconds: float = 8.0
    ) -> None:
        super().__init__(config)
        self.hub = hub
        self.grace_seconds = grace_seconds

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not gc.isenabled():
            # `ballsy serve` loads with the collector off (see cli.serve). What start-up
            # built stays for the life of the process: freezing it takes it out of every
            # later full collection (measured: one full collection after start-up 40-66 ms
            # unfrozen, under 0.1 ms frozen), and collection goes on as usual from here.
            gc.freeze()
            gc.enable()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.hub is not None:
            # Stop listening first so no new connection lands here while we drain.
            for server in getattr(self, "servers", []):
                server.close()
            await self.hub.drain(grace_seconds=max(self.grace_seconds - _MARGIN_SECONDS - 1.0, 0.5))
        await super().shutdown(sockets=sockets)


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
        # uvloop (installed with uvicorn[standard]) when available, as `uvicorn` itself
        # picks: the loop and its transports are most of a local turn's CPU, and uvloop
        # runs them in C (measured per stored turn in docs/benchmarks.md, "Hot path
        # trimmed"). Falls back to asyncio's own loop where uvloop is missing.
        loop="auto",
    )
    server = BallsyServer(
        config, hub=app.state.sockets, grace_seconds=settings.shutdown_grace_seconds
    )
    server.run()  # on the loop `config.loop` names (asyncio.run would take asyncio's own)
