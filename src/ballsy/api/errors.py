"""Errors mapped once to HTTP: `{"code", "message"}` bodies with the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ballsy.db.engine import DATABASE_UNAVAILABLE_ERRORS
from ballsy.errors import BallsyError

log = logging.getLogger("ballsy.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media",
    422: "bad_request",
    429: "rate_limited",
}


class ErrorBody(BaseModel):
    """Every error response: a stable code and a message for people."""

    code: str
    message: str
    retry_after: float | None = None


def error_response(
    status: int,
    code: str,
    message: str,
    retry_after: float | None = None,
) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    headers = {}
    if retry_after is not None:
        body["retry_after"] = round(retry_after, 3)
        headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
    return JSONResponse(body, status_code=status, headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error statuses a route can return."""
    return {s: {"model": ErrorBody, "description": _HTTP_CODES.get(s, "error")} for s in statuses}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "Invalid request — " + "; ".join(parts) if parts else "Invalid request."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BallsyError)
    async def _ballsy(_: Request, exc: BallsyError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.retry_after)

    for error_type in DATABASE_UNAVAILABLE_ERRORS:

        @app.exception_handler(error_type)
        async def _database(_: Request, exc: Exception) -> JSONResponse:
            log.error("database unavailable", extra={"error": type(exc).__name__})
            return error_response(
                503,
                "database_unavailable",
                "The database is unavailable right now; please try again in a moment.",
            )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "bad_request", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, message)
