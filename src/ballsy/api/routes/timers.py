"""The caller's timers, alarms and reminders: list them, cancel one.

Setting one is a command ("set a timer for 5 minutes"), spoken, typed or through the AI's
tools. Each item is the caller's own: another user's answers 404, like one that does not
exist."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel

from ballsy.api.deps import CurrentUserId, ServicesDep
from ballsy.api.errors import responses
from ballsy.assistant.timers import view, zone_of
from ballsy.commands.timers import describe
from ballsy.db.models import utcnow
from ballsy.errors import NotFound

router = APIRouter(prefix="/api/timers", tags=["timers"])


class TimerItem(BaseModel):
    id: int
    kind: str  # timer, alarm, reminder
    label: str | None
    seconds: int | None  # a timer's length
    due_at: str  # ISO 8601, UTC
    timezone: str
    description: str  # "pasta timer, 3 minutes left", "call Mum at 6 PM today"


class TimersOut(BaseModel):
    timers: list[TimerItem]


@router.get("", response_model=TimersOut, responses=responses(401, 429, 503))
async def list_timers(user_id: CurrentUserId, services: ServicesDep) -> TimersOut:
    """Items still to come, soonest first."""
    now = utcnow()
    items = await services.timers.pending(user_id)
    return TimersOut(
        timers=[
            TimerItem(
                id=item.id,
                kind=item.kind,
                label=item.label,
                seconds=item.seconds,
                due_at=item.due_at.isoformat(),
                timezone=item.timezone,
                description=describe(view(item), now, zone_of(item)),
            )
            for item in items
        ]
    )


@router.delete(
    "/{timer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(401, 404, 422, 429, 503),
)
async def cancel_timer(
    user_id: CurrentUserId, services: ServicesDep, timer_id: int = Path(ge=1, le=2**31 - 1)
) -> Response:
    if not await services.timers.cancel(user_id, [timer_id]):
        raise NotFound("No such timer.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
