"""`POST /api/command`: the legacy REST door into the pipeline (shape unchanged)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from ballsy.api.deps import Caller, CallerDep, services_of, tokenless_scope_id
from ballsy.api.errors import responses
from ballsy.api.schemas import CommandIn, CommandOut
from ballsy.assistant.events import TurnEnded
from ballsy.assistant.identity import Identity
from ballsy.assistant.pipeline import TurnRequest
from ballsy.db import repositories as repo
from ballsy.errors import NotFound
from ballsy.wiring import Services

router = APIRouter(prefix="/api", tags=["assistant"])


async def identity_for(
    caller: Caller,
    services: Services,
    *,
    legacy_user_id: int | None,
    timezone: str | None,
    request: Request,
    response: Response,
) -> Identity:
    """The caller's identity: token user, operator acting for a user, or a tokenless
    scope (see `tokenless_scope_id`)."""
    if caller.user_id is not None:
        return Identity.user(caller.user_id, timezone=timezone, address=caller.address)
    if caller.operator and legacy_user_id is not None:
        async with services.sessions() as session:
            if await repo.user_by_id(session, legacy_user_id) is None:
                raise NotFound("No such user.")
        return Identity.user(legacy_user_id, timezone=timezone, address=caller.address)
    return Identity.tokenless(
        "rest", caller.address, connection=tokenless_scope_id(request, response), timezone=timezone
    )


async def answer(services: Services, identity: Identity, text: str, received: float) -> TurnEnded:
    """Run a whole turn and return its end (the REST doors do not stream)."""
    final: TurnEnded | None = None
    async for event in services.assistant.run_turn(
        TurnRequest(identity=identity, text=text, received_at=received)
    ):
        if isinstance(event, TurnEnded):
            final = event
    assert final is not None, "a turn always ends with TurnEnded"
    return final


@router.post(
    "/command", response_model=CommandOut, responses=responses(400, 401, 404, 413, 422, 429, 503)
)
async def command(
    body: CommandIn, caller: CallerDep, request: Request, response: Response
) -> CommandOut:
    """Answer one command. With a session token it is the user's own turn (stored);
    without one it runs in a short-lived tokenless scope that touches no user's data."""
    received = time.perf_counter()
    # The busiest route takes no ServicesDep: one dependency fewer for FastAPI to resolve
    # on every turn (the caller's own is the one it needs).
    services = services_of(request)
    identity = await identity_for(
        caller,
        services,
        legacy_user_id=body.user_id,
        timezone=body.timezone,
        request=request,
        response=response,
    )
    ended = await answer(services, identity, body.command, received)
    return CommandOut(**ended.legacy())
