"""Errors mapped in one place: to `{"code", "message"}` HTTP responses and to WebSocket
`error` frames alike. The routes (through FastAPI's handlers), the socket and the
middleware all ask `to_error` what an exception means for the client."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ballsy.db.errors import database_error
from ballsy.errors import BallsyError, InternalError

log = logging.getLogger("ballsy.api")

INTERNAL_MESSAGE = "Something went wrong on our side."

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

# Exceptions raised by the database layer that FastAPI must hand to `to_error`.
DATABASE_EXCEPTIONS: tuple[type[Exception], ...] = (SQLAlchemyError, TimeoutError, ConnectionError)


class ErrorBody(BaseModel):
    """Every error response: a stable code and a message for people."""

    code: str
    message: str
    retry_after: float | None = None


def to_error(exc: BaseException) -> BallsyError:
    """What `exc` means for the client: itself when it is a BallsyError, a classified
    database failure, or else an internal error (logged here with its traceback)."""
    if isinstance(exc, BallsyError):
        return exc
    known = database_error(exc) if isinstance(exc, Exception) else None
    if known is not None:
        return known
    log.error("unhandled error", exc_info=exc)
    return InternalError(INTERNAL_MESSAGE)


def error_body(error: BallsyError) -> dict[str, Any]:
    """The JSON body of an HTTP error response (a WebSocket frame adds its type)."""
    return error.to_dict()


def error_headers(error: BallsyError) -> dict[str, str]:
    if error.retry_after is None:
        return {}
    return {"Retry-After": str(max(1, int(error.retry_after + 0.999)))}


def error_response(error: BallsyError) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=error.status, headers=error_headers(error))


def responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error statuses a route can return."""
    return {s: {"model": ErrorBody, "description": _HTTP_CODES.get(s, "error")} for s in statuses}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "Invalid request — " + "; ".join(parts) if parts else "Invalid request."


class _HttpError(BallsyError):
    """A framework HTTP error (404 route, 405 method…) in our shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status  # type: ignore[misc]
        self.code = code  # type: ignore[misc]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BallsyError)
    async def _ballsy(_: Request, exc: BallsyError) -> JSONResponse:
        return error_response(exc)

    for error_type in DATABASE_EXCEPTIONS:

        @app.exception_handler(error_type)
        async def _database(_: Request, exc: Exception) -> JSONResponse:
            return error_response(to_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_HttpError(422, "bad_request", _describe_validation(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(_HttpError(exc.status_code, code, message))
