"""`create_app(settings)`: the FastAPI application, built explicitly, nothing at import time.

The lifespan builds the services (database engine, AI and speech backends, rate
limits, metrics, the assistant), applies migrations on the embedded SQLite default,
starts background work (speech model warm-up, history retention) and tears it all
down in order on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy.engine import make_url
from starlette.middleware.cors import CORSMiddleware

from ballsy import __version__
from ballsy.api.errors import install_error_handlers
from ballsy.api.middleware import HttpContextMiddleware
from ballsy.api.routes import include_routes
from ballsy.api.routes.health import database_state
from ballsy.api.site_guard import SiteGuardMiddleware
from ballsy.api.timer_delivery import PageDelivery
from ballsy.api.ws import SocketHub
from ballsy.assistant.due import DueScheduler
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db import repositories as repo
from ballsy.db.engine import build_engine, build_sessionmaker
from ballsy.db.models import utcnow
from ballsy.logging import configure_logging
from ballsy.warmup import WarmUps
from ballsy.wiring import Overrides, Services, build_services

log = logging.getLogger("ballsy.app")


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret, so the log scrubber can hide it."""
    values = [
        s.get_secret_value()
        for s in (
            settings.gemini_api_key,
            settings.openai_api_key,
            settings.metrics_token,
            settings.wake_token,
        )
        if s is not None
    ]
    values += [k.get_secret_value() for k in settings.operator_api_keys]
    if settings.database_url is not None:
        with contextlib.suppress(Exception):
            password = make_url(settings.database_url.get_secret_value()).password
            if password:
                values.append(str(password))
    return values


def create_app(settings: Settings, *, overrides: Overrides | None = None) -> FastAPI:
    settings.check_production()
    configure_logging(
        level=settings.log_level,
        fmt=settings.log_format,
        project=settings.google_cloud_project,
        secrets=secret_values(settings),
    )
    services = build_services(settings, overrides)
    hub = SocketHub()
    warmups = WarmUps()  # what /ready waits for (ballsy/warmup.py)
    delivery = PageDelivery(hub)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.uses_sqlite:
            # The embedded default migrates itself; PostgreSQL is migrated explicitly.
            await asyncio.to_thread(migrate.upgrade_sqlite_if_needed, settings.database_url_value())
        background: list[asyncio.Task[None]] = [asyncio.create_task(_check_schema(app, services))]
        # Models load before /ready reports ready, so the first user pays nothing for them.
        # Each preloaded model registers here.
        if services.stt.available and settings.stt_preload:
            warmups.start("speech", lambda: _warm_up_speech(services))
        if services.tts.available and settings.tts_preload:
            warmups.start("voice", lambda: _warm_up_voice(services))
        if services.wake is not None:
            warmups.start("wake", lambda: _warm_up_wake(services))
        if settings.history_retention_days:
            background.append(asyncio.create_task(_retention_loop(services)))
        if settings.anonymous_user_retention_days:
            background.append(asyncio.create_task(_user_retention_loop(services)))
        due = start_due_scheduler(app, services, delivery)
        background.append(asyncio.create_task(due.run()))
        try:
            yield
        finally:
            await hub.close_all(code=1012, reason="server restarting")
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await warmups.aclose()
            await services.aclose()

    app = FastAPI(
        title="Ballsy",
        version=__version__,
        description="A self-hostable voice assistant. Errors are `{code, message}` objects.",
        lifespan=lifespan,
        docs_url=None if settings.is_production else "/docs",
        # The schema describes every door; production keeps it to itself, as it does /docs.
        openapi_url=None if settings.is_production else "/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.sockets = hub
    app.state.warmups = warmups
    install_error_handlers(app)
    include_routes(app, settings.metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "X-API-Key"],
            max_age=600,
        )
    app.add_middleware(
        SiteGuardMiddleware,
        allowed_hosts=settings.allowed_hosts(),
        allowed_origins=settings.cors_origins,
    )
    app.add_middleware(
        HttpContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        production=settings.is_production,
        metrics=services.metrics,
    )
    return app


def start_due_scheduler(app: FastAPI, services: Services, delivery: PageDelivery) -> DueScheduler:
    """The timers' scheduler, on the service's own pool: each poll is one short indexed
    query, and keeping to the pool keeps the instance within its database connection
    budget (DB_POOL_SIZE + DB_MAX_OVERFLOW; DEPLOYMENT.md's arithmetic). A poll that
    waits too long for a connection fails, is logged, and the next one catches up."""
    due = DueScheduler(
        services.engine,
        delivery,
        services.timers.options,
        on_fired=services.metrics.timers_fired.inc,
    )
    services.timers.on_change = due.wake
    delivery.scheduler = due
    app.state.due = due
    return due


async def _check_schema(app: FastAPI, services: Services) -> None:
    """Say once, at start, when the database is not at this release's schema (a
    PostgreSQL database is migrated by `ballsy db upgrade`, not by the server)."""
    state = await database_state(services, services.settings.ready_timeout_seconds * 2)
    if state == "ok":
        app.state.schema_current = True
    elif state == "schema_out_of_date":
        log.error(
            "the database schema is out of date; run `ballsy db upgrade` "
            "(every request answers 503 schema_out_of_date until then)"
        )


async def _warm_up_voice(services: Services) -> bool:
    """Start the voice workers and load the voice in each; whether one is usable."""
    await services.tts.warm_up()
    return services.tts.ready


async def _warm_up_wake(services: Services) -> bool:
    """Start the wake word worker, so the first hands-free page is heard at once."""
    wake = services.wake
    if wake is None:
        return False
    await wake.warm_up()  # logs its own failure; the first listener retries
    return wake.pid() is not None


async def _warm_up_speech(services: Services) -> bool:
    """Start the speech workers and load the model in each; whether one is usable."""
    # Let the server answer its first probes before the model's import and load compete
    # with it for the CPU (and Python's GIL).
    await asyncio.sleep(0.5)
    await services.stt.warm_up()  # logs its own failure; the next request retries
    return services.stt.ready


async def _retention_loop(services: Services) -> None:
    days = services.settings.history_retention_days
    database = services.settings.database
    # A first run over a long history can outlast the bound put on request statements
    # (DB_COMMAND_TIMEOUT_SECONDS); it runs on its own short-lived engine, bounded by the
    # server's statement timeout as before, plus a margin.
    bound = max(database.db_command_timeout_seconds, database.db_statement_timeout_ms / 1000 + 5)
    retention = replace(database, db_command_timeout_seconds=bound)
    while True:
        engine = build_engine(retention)
        try:
            async with build_sessionmaker(engine)() as session:
                removed = await repo.delete_history_before(session, utcnow() - timedelta(days=days))
                await session.commit()
            if removed:
                log.info("retention removed old history", extra={"rows": removed})
        except Exception:
            log.exception("retention run failed")
        finally:
            await engine.dispose()
        await asyncio.sleep(3600)


async def _user_retention_loop(services: Services) -> None:
    """Hourly: delete anonymous users with no turns, unseen for
    ANONYMOUS_USER_RETENTION_DAYS (a few batches per run, so a backlog never holds
    the database for long; the next run continues)."""
    days = services.settings.anonymous_user_retention_days
    while True:
        try:
            removed = await repo.prune_anonymous_users(
                services.sessions, cutoff=utcnow() - timedelta(days=days), max_batches=20
            )
            if removed:
                log.info("retention removed idle anonymous users", extra={"users": removed})
        except Exception:
            log.exception("anonymous user retention run failed")
        await asyncio.sleep(3600)
