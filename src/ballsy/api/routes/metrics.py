"""`GET /metrics`: Prometheus text format, protected by METRICS_TOKEN when set."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ballsy.api.deps import ServicesDep
from ballsy.api.errors import responses
from ballsy.errors import Unauthorized

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response, responses=responses(401), include_in_schema=True)
async def metrics(request: Request, services: ServicesDep) -> Response:
    token = services.settings.metrics.metrics_token
    if token is not None:
        # Only `Bearer <token>`: a bare token (or any other scheme) is refused, so the
        # token is never accepted from a header meant for something else.
        scheme, _, supplied = request.headers.get("authorization", "").partition(" ")
        supplied = supplied.strip()
        valid = scheme.lower() == "bearer" and bool(supplied)
        if not (
            hmac.compare_digest(supplied.encode(), token.get_secret_value().encode()) and valid
        ):
            raise Unauthorized("Metrics need 'Authorization: Bearer <METRICS_TOKEN>'.")
    services.limiter.export_metrics(services.metrics)
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
