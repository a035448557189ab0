"""`POST /internal/due`: run one sweep of due timers, alarms and reminders.

Cloud Scheduler calls it every minute, so items come due even while no instance is
running (scale to zero): the sweep claims them, pages open on this instance hear them at
once, and the rest are announced on their user's next connection. Authorised by
`Authorization: Bearer <WAKE_TOKEN>` (compared in constant time); with WAKE_TOKEN unset
the route does not exist (404)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ballsy.api.deps import ServicesDep
from ballsy.api.errors import responses
from ballsy.errors import NotFound, Unauthorized

router = APIRouter(prefix="/internal", tags=["internal"])


class SweepOut(BaseModel):
    claimed: int  # items this sweep fired
    delivered: int  # items shown on pages open here


@router.post("/due", response_model=SweepOut, responses=responses(401, 404, 503))
async def run_due_sweep(request: Request, services: ServicesDep) -> SweepOut:
    expected = services.settings.wake_token
    if expected is None:
        raise NotFound("Not found.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.get_secret_value().encode()
    ):
        raise Unauthorized("Send 'Authorization: Bearer <WAKE_TOKEN>'.")
    result = await request.app.state.due.sweep()
    return SweepOut(claimed=result.claimed, delivered=result.delivered)
