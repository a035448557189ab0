"""Dependencies declared once and reused: services, identity, ownership, request budget."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request, Response
from starlette.requests import HTTPConnection

from ballsy.api.client_ip import client_ip
from ballsy.api.schemas import MAX_ID
from ballsy.assistant.identity import hash_token, limit_key
from ballsy.db import repositories as repo
from ballsy.errors import NotFound, Unauthorized
from ballsy.logging import bind
from ballsy.wiring import Services


def services_of(connection: HTTPConnection) -> Services:
    """The app's services, for code that has the request but is no dependency."""
    services: Services = connection.app.state.services
    return services


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hand-off
    # on every request for an attribute read.
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a user (bearer token), an operator (API key), or nobody."""

    user_id: int | None
    operator: bool
    address: str

    @property
    def limit_key(self) -> str:
        return limit_key(self.user_id, self.address)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def user_for_token(services: Services, token: str) -> int | None:
    """The user a bearer token belongs to (recently seen tokens skip the database; the
    others are looked up together with any arriving at the same moment)."""
    token_hash = hash_token(token)
    cached = services.tokens.get(token_hash)
    if cached is not None:
        return cached
    user_id = await services.token_lookups.user_id(token_hash)
    if user_id is None:
        return None
    services.tokens.put(token_hash, user_id)
    return user_id


def is_operator_key(services: Services, key: str) -> bool:
    """Whether `key` is one of OPERATOR_API_KEYS (compared in constant time)."""
    return any(
        hmac.compare_digest(key.encode(), known.get_secret_value().encode())
        for known in services.settings.operator_api_keys
    )


async def get_caller(request: Request) -> Caller:
    # The services straight from the app, not as a sub-dependency: every request asks
    # for its caller, and each dependency FastAPI resolves costs it more than the lookup.
    services = services_of(request)
    settings = services.settings  # flat fields: a group would be built on each access
    address = client_ip(request.scope, trusted_proxy_hops=settings.trusted_proxy_hops)
    operator_key = request.headers.get("x-api-key")
    operator = operator_key is not None and is_operator_key(services, operator_key)
    if operator_key and not operator:
        raise Unauthorized("The API key is not valid.")
    user_id: int | None = None
    token = _bearer(request)
    if token is not None:
        if len(token) > 200:
            raise Unauthorized("The session token is not valid.")
        user_id = await user_for_token(services, token)
        if user_id is None:
            raise Unauthorized("The session token is not valid; start a new session.")
        bind(user_id=user_id)
    caller = Caller(user_id=user_id, operator=operator, address=address)
    if services.limiter is not None:
        await services.limiter.check_request(caller.limit_key)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


PathUserId = Annotated[int, Path(ge=1, le=MAX_ID, description="A user id (a positive BIGINT).")]


async def owned_user_id(user_id: PathUserId, caller: CallerDep, services: ServicesDep) -> int:
    """The path's user id, if the caller may act for it; else 401/404 (never their data)."""
    if caller.operator:
        async with services.sessions() as session:
            if await repo.user_by_id(session, user_id) is None:
                raise NotFound("No such user.")
        return user_id
    if caller.user_id is None:
        raise Unauthorized("This needs a session token: send 'Authorization: Bearer <token>'.")
    if caller.user_id != user_id:
        raise NotFound("No such user.")
    return user_id


OwnedUserId = Annotated[int, Depends(owned_user_id)]


async def require_user(caller: CallerDep) -> int:
    if caller.user_id is None:
        raise Unauthorized("This needs a session token: send 'Authorization: Bearer <token>'.")
    return caller.user_id


CurrentUserId = Annotated[int, Depends(require_user)]


# --- the tokenless scope over HTTP --------------------------------------------------------

SCOPE_COOKIE = "ballsy_scope"
_SCOPE_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def tokenless_scope_id(request: Request, response: Response) -> str:
    """Which tokenless HTTP client this is, for its short-lived memory (last result,
    recent turns).

    HTTP has no connection to key on, and the prototype's body field `user_id` is 1 for
    every tokenless client, so neither tells two clients at one address apart. A cookie does:
    the first tokenless answer sets `ballsy_scope` (random, HttpOnly, SameSite=Strict)
    and a client that sends it back keeps its memory, as a browser does by itself. A
    client that keeps no cookies gets a fresh scope on each request: no memory, and
    nothing shared with anyone. The scope is keyed by this id *and* the address, so a
    copied cookie is worth nothing elsewhere."""
    supplied = request.cookies.get(SCOPE_COOKIE, "")
    if _SCOPE_ID.match(supplied):
        return supplied
    scope_id = secrets.token_urlsafe(18)
    services: Services = request.app.state.services
    response.set_cookie(
        SCOPE_COOKIE,
        scope_id,
        max_age=services.settings.conversation.tokenless_scope_ttl_seconds,
        httponly=True,
        samesite="strict",
        secure=services.settings.service.is_production,
        path="/api",
    )
    return scope_id
