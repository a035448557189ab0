"""ASGI middleware: request context and logs, security headers, body size limit.

Written as plain ASGI (not BaseHTTPMiddleware) so it adds almost nothing per request
and works for streaming bodies. It is the outermost layer: even an unhandled error
becomes a JSON 500 that still carries the security headers and the request id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ballsy.api.errors import error_body, to_error
from ballsy.errors import TooLarge
from ballsy.logging import request_context
from ballsy.metrics import Metrics

log = logging.getLogger("ballsy.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d+))?")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)


class BodyTooLarge(Exception):
    pass


class HttpContextMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, production: bool, metrics: Metrics | None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", CSP.encode()),
            # Geolocation only for this page itself: the weather asks for it, with consent.
            (b"permissions-policy", b"microphone=(self), camera=(), geolocation=(self)"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if production:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self.security_headers = headers
        self._too_large = error_body(
            TooLarge(f"The request body is larger than {max_body_bytes} bytes.")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        supplied = headers.get("x-request-id", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        context: dict[str, Any] = {
            "request_id": request_id,
            "path": scope.get("path", ""),
            "method": scope.get("method", "WS"),
        }
        trace = _TRACE.match(headers.get("x-cloud-trace-context", ""))
        if trace:
            context["trace_id"] = trace.group(1).lower()
        token = request_context.set(context)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send, headers, context)
        finally:
            request_context.reset(token)

    async def _http(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        context: dict[str, Any],
    ) -> None:
        started = time.perf_counter()
        status = 500
        response_started = False
        extra = [*self.security_headers, (b"x-request-id", context["request_id"].encode())]

        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _send_json(send, 413, self._too_large, extra)
            self._finish(scope, context, 413, started)
            return

        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if too_large and not response_started:
                # The framework answers a body cut off mid-read with its own error (a 400
                # "error parsing the body"); a body over the limit is a 413, whatever the
                # route, with or without a Content-Length.
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            pass
        except Exception as exc:
            if too_large:
                pass
            elif response_started:
                status = 500
                log.exception("unhandled error after the response started")
                raise
            else:
                error = to_error(exc)
                status = error.status
                await _send_json(send, error.status, error_body(error), extra)
        finally:
            if too_large and not response_started:
                status = 413
                await _send_json(send, 413, self._too_large, extra)
            self._finish(scope, context, status, started)

    def _finish(self, scope: Scope, context: dict[str, Any], status: int, started: float) -> None:
        latency = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        if self.metrics is not None:
            self.metrics.http_latency_of(template, scope.get("method", ""), str(status)).observe(
                latency
            )
        context.update(status=status, latency_ms=round(latency * 1000, 3))
        level = logging.ERROR if status >= 500 else logging.INFO
        if log.isEnabledFor(level):  # the line is built only when it is written
            log.log(level, f"{scope.get('method')} {scope.get('path')} {status}")


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _send_json(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]]
) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
