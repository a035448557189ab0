"""`GET /api/history/{user_id}`: the caller's own turns, newest first.

Bounded in bytes as well as rows: at most `repositories.HISTORY_MAX_BYTES` of text, each
command and result cut at its column's limit (see `repositories.history`)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ballsy.api.deps import OwnedUserId, ServicesDep
from ballsy.api.errors import responses
from ballsy.api.schemas import HistoryItem, HistoryOut
from ballsy.db import repositories as repo

router = APIRouter(prefix="/api/history", tags=["history"])


@router.get("/{user_id}", response_model=HistoryOut, responses=responses(401, 404, 422, 429, 503))
async def get_history(
    user_id: OwnedUserId,
    services: ServicesDep,
    limit: int = Query(default=10, ge=1, le=200),
) -> HistoryOut:
    async with services.sessions() as session:
        rows = await repo.history(session, user_id, limit=limit)
    return HistoryOut(
        history=[
            HistoryItem(
                id=r.id,
                user_id=r.user_id,
                command=r.command,
                result=r.result,
                timestamp=r.created_at.isoformat(),
            )
            for r in rows
        ]
    )
