"""Conversations: list them, or start a new one (the AI context starts fresh)."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from ballsy.api.deps import CurrentUserId, ServicesDep
from ballsy.api.errors import responses
from ballsy.api.schemas import ConversationItem, ConversationOut, ConversationsOut
from ballsy.db import repositories as repo
from ballsy.db.models import utcnow

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationOut,
    responses=responses(401, 429, 503),
)
async def new_conversation(user_id: CurrentUserId, services: ServicesDep) -> ConversationOut:
    """Start a new conversation (RATE_LIMIT_CONVERSATIONS_PER_USER_PER_HOUR at most)."""
    await services.limiter.check_new_conversation(user_id)
    async with services.sessions() as session:
        conversation = await repo.start_conversation(session, user_id, now=utcnow())
        await session.commit()
    return ConversationOut(conversation_id=conversation.id)


@router.get("", response_model=ConversationsOut, responses=responses(401, 422, 429, 503))
async def list_conversations(
    user_id: CurrentUserId, services: ServicesDep, limit: int = Query(default=20, ge=1, le=100)
) -> ConversationsOut:
    async with services.sessions() as session:
        rows = await repo.list_conversations(session, user_id, limit=limit)
    return ConversationsOut(
        conversations=[
            ConversationItem(
                conversation_id=c.id,
                started_at=c.started_at.isoformat(),
                last_activity_at=c.last_activity_at.isoformat() if c.last_activity_at else None,
                messages=count,
            )
            for c, count in rows
        ]
    )
