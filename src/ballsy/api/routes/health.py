"""Liveness (no I/O) and readiness (a database round trip, bounded in time)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ballsy.api.deps import ServicesDep
from ballsy.api.schemas import Health, Ready

router = APIRouter(tags=["health"])
log = logging.getLogger("ballsy.health")


@router.get("/health", response_model=Health)
async def health() -> dict[str, str]:
    """The process is up. No I/O, so it answers even while the database is down."""
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "database (or required AI) unavailable"}},
)
async def ready(services: ServicesDep) -> JSONResponse:
    """Ready when a database round trip succeeds within READY_TIMEOUT_SECONDS."""
    settings = services.settings
    db_ok = await _database_answers(services, settings.ready_timeout_seconds)
    body: dict[str, str] = {
        "status": "ready" if db_ok else "not ready",
        "db": "ok" if db_ok else "unavailable",
    }
    ok = db_ok
    if settings.ai_required_for_ready:
        body["ai"] = "ok" if services.llm is not None else "unconfigured"
        ok = ok and services.llm is not None
        if not ok:
            body["status"] = "not ready"
    return JSONResponse(body, status_code=200 if ok else 503)


async def _database_answers(services: ServicesDep, limit_seconds: float) -> bool:
    async def probe() -> None:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(probe(), limit_seconds)
        return True
    except Exception as exc:  # any failure or the timeout means "not ready"
        log.warning("readiness check failed", extra={"error": type(exc).__name__})
        return False
