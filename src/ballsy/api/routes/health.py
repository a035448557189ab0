"""Liveness (no I/O) and readiness (a database round trip, bounded in time, and the
preloaded models: see ballsy/warmup.py).

Readiness also needs the database at this release's schema: a PostgreSQL database
that was never migrated answers queries, but every request would fail. The revision
is read until it is found current once, then only a round trip is made (a schema
does not go back by itself), which keeps /ready as cheap as before.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ballsy.api.deps import ServicesDep
from ballsy.api.schemas import Health, Ready
from ballsy.db.errors import SCHEMA_MESSAGE
from ballsy.db.revision import is_current, stored_revision
from ballsy.wiring import Services

router = APIRouter(tags=["health"])
log = logging.getLogger("ballsy.health")

DatabaseState = Literal["ok", "unavailable", "schema_out_of_date"]


@router.get("/health", response_model=Health)
async def health() -> dict[str, str]:
    """The process is up. No I/O, so it answers even while the database is down."""
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Ready,
    responses={
        503: {
            "model": Ready,
            "description": "database unavailable or not migrated, a model still loading (or AI)",
        }
    },
)
async def ready(request: Request, services: ServicesDep) -> JSONResponse:
    """Ready when a database round trip succeeds within READY_TIMEOUT_SECONDS, the
    database is at this release's schema and no preloaded model is still loading."""
    state = await database_state(
        services,
        services.settings.database.ready_timeout_seconds,
        known_current=getattr(request.app.state, "schema_current", False),
    )
    if state == "ok":
        request.app.state.schema_current = True
    ok = state == "ok"
    body: dict[str, object] = {"status": "ready" if ok else "not ready", "db": state}
    if state == "schema_out_of_date":
        body["code"] = "schema_out_of_date"
        body["message"] = SCHEMA_MESSAGE
    warmups = getattr(request.app.state, "warmups", None)
    if warmups is not None and (models := warmups.states()):
        body["models"] = models
        if warmups.loading:
            ok = False
            body["status"] = "not ready"
    if services.settings.ai.ai_required_for_ready:
        body["ai"] = "ok" if services.llm is not None else "unconfigured"
        ok = ok and services.llm is not None
        if not ok:
            body["status"] = "not ready"
    return JSONResponse(body, status_code=200 if ok else 503)


async def database_state(
    services: Services, limit_seconds: float, *, known_current: bool = False
) -> DatabaseState:
    """ "ok", "unavailable" (no answer within `limit_seconds`) or "schema_out_of_date"."""

    async def probe() -> DatabaseState:
        async with services.engine.connect() as conn:
            if known_current:
                await conn.execute(text("SELECT 1"))
                return "ok"
            return "ok" if is_current(await stored_revision(conn)) else "schema_out_of_date"

    try:
        return await asyncio.wait_for(probe(), limit_seconds)
    except Exception as exc:  # any failure or the timeout means "not ready"
        log.warning("readiness check failed", extra={"error": type(exc).__name__})
        return "unavailable"
