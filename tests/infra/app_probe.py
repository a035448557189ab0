"""Ask the real app whether it serves a path (included routers hide their paths from .routes)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def serves(make_settings: Any, paths: set[str]) -> set[str]:
    """The subset of `paths` the app answers with anything but 404/405 (or a WebSocket)."""
    from ballsy.app import create_app

    # Routes do not depend on the speech or rate-limit backends; leave them out of this build.
    app = create_app(make_settings(stt_enabled=False, rate_limit_enabled=False))
    served: set[str] = set()
    with TestClient(app) as client:
        for path in paths:
            if path.startswith("/ws/"):
                concrete = path.replace("{client_id}", "deploy-check")
                with client.websocket_connect(concrete) as socket:
                    socket.close()
                served.add(path)
            elif client.get(path).status_code not in (404, 405):
                served.add(path)
    return served
