"""One router module per resource; `include_routes` mounts them all."""

from __future__ import annotations

from fastapi import FastAPI

from ballsy.api.routes import (
    command,
    conversations,
    health,
    history,
    internal,
    metrics,
    openai_audio,
    page,
    session,
    settings,
    timers,
    voice,
    ws,
)
from ballsy.config_groups import MetricsSettings


def include_routes(app: FastAPI, metrics_settings: MetricsSettings) -> None:
    app.include_router(health.router)
    app.include_router(session.router)
    app.include_router(command.router)
    app.include_router(voice.router)
    app.include_router(history.router)
    app.include_router(settings.router)
    app.include_router(conversations.router)
    app.include_router(timers.router)
    app.include_router(internal.router)
    app.include_router(ws.router)
    app.include_router(openai_audio.router)
    if metrics_settings.metrics_enabled:
        app.include_router(metrics.router)
    page.mount(app)
