"""Conversations: list them, open one (with what each reply did), continue it, delete it,
or start a new one (the AI context starts fresh). Each is the caller's own: another
user's conversation answers 404, like one that does not exist."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from ballsy.api.deps import CurrentUserId, ServicesDep
from ballsy.api.errors import responses
from ballsy.api.schemas import (
    ConversationDetail,
    ConversationItem,
    ConversationMessage,
    ConversationOut,
    ConversationsOut,
)
from ballsy.db import repositories as repo
from ballsy.db.models import Conversation, utcnow
from ballsy.errors import NotFound

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

TITLE_CHARS = 80
ConversationId = Path(ge=1, le=2**31 - 1)


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
        rows = await repo.conversation_summaries(session, user_id, limit=limit)
    return ConversationsOut(
        conversations=[
            ConversationItem(
                conversation_id=row.conversation.id,
                started_at=row.conversation.started_at.isoformat(),
                last_activity_at=_iso(row.conversation),
                messages=row.messages,
                title=_shorten(row.title),
            )
            for row in rows
        ]
    )


@router.get(
    "/{conversation_id}",
    response_model=ConversationDetail,
    responses=responses(401, 404, 422, 429, 503),
)
async def get_conversation(
    user_id: CurrentUserId,
    services: ServicesDep,
    conversation_id: int = ConversationId,
    limit: int = Query(default=100, ge=1, le=500),
) -> ConversationDetail:
    async with services.sessions() as session:
        conversation = await _owned(session, user_id, conversation_id)
        messages = await repo.conversation_messages(session, conversation, limit=limit)
    return ConversationDetail(
        conversation_id=conversation.id,
        started_at=conversation.started_at.isoformat(),
        last_activity_at=_iso(conversation),
        messages=[
            ConversationMessage(
                role="user" if m.is_user else "assistant",
                text=m.content,
                timestamp=m.created_at.isoformat(),
                turn_id=m.turn_id,
                interrupted=m.interrupted,
                source=m.source,
                action=m.action,
                data=m.action_data,
            )
            for m in messages
        ],
    )


@router.post(
    "/{conversation_id}/continue",
    response_model=ConversationOut,
    responses=responses(401, 404, 422, 429, 503),
)
async def continue_conversation(
    user_id: CurrentUserId, services: ServicesDep, conversation_id: int = ConversationId
) -> ConversationOut:
    """Make this conversation the open one: the next turn joins it (and its context)."""
    async with services.sessions() as session:
        conversation = await _owned(session, user_id, conversation_id)
        await repo.reopen_conversation(session, conversation, now=utcnow())
        await session.commit()
    return ConversationOut(conversation_id=conversation_id)


@router.delete(
    "/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(401, 404, 422, 429, 503),
)
async def delete_conversation(
    user_id: CurrentUserId, services: ServicesDep, conversation_id: int = ConversationId
) -> Response:
    """Delete the conversation, its messages and its turns' history."""
    async with services.sessions() as session:
        conversation = await _owned(session, user_id, conversation_id)
        await repo.delete_conversation(session, conversation)
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _owned(session: AsyncSession, user_id: int, conversation_id: int) -> Conversation:
    conversation = await repo.owned_conversation(session, user_id, conversation_id)
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


def _iso(conversation: Conversation) -> str | None:
    return conversation.last_activity_at.isoformat() if conversation.last_activity_at else None


def _shorten(text: str | None) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= TITLE_CHARS else f"{flat[: TITLE_CHARS - 1]}…"
