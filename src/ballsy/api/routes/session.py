"""Anonymous identity: a user row and an unguessable bearer token, no sign-up."""

from __future__ import annotations

from fastapi import APIRouter, status

from ballsy.api.deps import CallerDep, CurrentUserId, ServicesDep
from ballsy.api.errors import responses
from ballsy.api.schemas import SessionOut, WhoAmI
from ballsy.assistant.identity import hash_token, new_token
from ballsy.db import repositories as repo
from ballsy.errors import Unauthorized

router = APIRouter(prefix="/api/session", tags=["session"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionOut,
    responses=responses(401, 429, 503),
)
async def create_session(caller: CallerDep, services: ServicesDep) -> SessionOut:
    """Create an anonymous user; the token is shown once and only its hash is kept.

    Limited per address (RATE_LIMIT_SESSIONS_PER_ADDRESS_PER_HOUR) and per instance
    (RATE_LIMIT_SESSIONS_PER_INSTANCE_PER_MINUTE); a new user shares its address's
    AI, speech and message budgets, so it buys no fresh budget. Users that never
    take a turn are deleted after ANONYMOUS_USER_RETENTION_DAYS."""
    await services.limiter.check_new_session(caller.address)
    token = new_token()
    async with services.sessions() as session:
        user = await repo.create_anonymous_user(session, token_hash=hash_token(token))
        await session.commit()
    return SessionOut(user_id=user.id, token=token, username=user.username)


@router.get("", response_model=WhoAmI, responses=responses(401, 429))
async def whoami(user_id: CurrentUserId, services: ServicesDep) -> WhoAmI:
    async with services.sessions() as session:
        user = await repo.user_by_id(session, user_id)
    if user is None:
        raise Unauthorized("The session token is not valid; start a new session.")
    return WhoAmI(user_id=user.id, username=user.username)
