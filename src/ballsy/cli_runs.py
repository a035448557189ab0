"""The async work behind CLI commands, kept apart from argument parsing."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ballsy.assistant.events import TextDelta, TurnEnded
from ballsy.assistant.identity import Identity, hash_token, new_token
from ballsy.assistant.pipeline import TurnRequest
from ballsy.config import Settings
from ballsy.db import repositories as repo
from ballsy.db.engine import build_engine, build_sessionmaker
from ballsy.db.migrate import current_revision_sync
from ballsy.errors import BallsyError
from ballsy.wiring import build_services


async def ask_once(settings: Settings, question: str) -> int:
    services = build_services(
        settings.model_copy(update={"stt_enabled": False, "rate_limit_enabled": False})
    )
    try:
        identity = Identity.legacy("cli", "local", connection="cli")
        streamed = ""
        async for event in services.assistant.run_turn(TurnRequest(identity, question)):
            if isinstance(event, TextDelta):
                streamed += event.text
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, TurnEnded):
                if event.response.strip() != streamed.strip():
                    # A local answer, or a fallback that replaced what was streamed.
                    sys.stdout.write(("\n" if streamed else "") + event.response)
                if event.action:
                    sys.stdout.write(f"\n[{event.action}] {event.data}")
                sys.stdout.write("\n")
        return 0
    except BallsyError as exc:
        typer.echo(f"{exc.code}: {exc.message}", err=True)
        return 1
    finally:
        await services.aclose()


async def transcribe_once(settings: Settings, path: Path) -> int:
    from ballsy.providers.stt.files import transcribe_file
    from ballsy.wiring import build_stt

    stt = build_stt(settings.model_copy(update={"stt_enabled": True}))
    try:
        transcript = await transcribe_file(path, stt)
        typer.echo(transcript.text)
        typer.echo(
            f"({transcript.audio_seconds:.2f} s of audio in {transcript.processing_seconds:.2f} s)",
            err=True,
        )
        return 0
    except BallsyError as exc:
        typer.echo(f"{exc.code}: {exc.message}", err=True)
        return 1
    finally:
        await stt.aclose()


async def current_revision(settings: Settings) -> str | None:
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(current_revision_sync)
    finally:
        await engine.dispose()


async def issue_user_token(settings: Settings, username: str) -> int:
    engine = build_engine(settings)
    sessions = build_sessionmaker(engine)
    try:
        async with sessions() as session:
            user = await repo.user_by_username(session, username)
            if user is None:
                typer.echo(f"no user named {username!r}", err=True)
                return 1
            token = new_token()
            await repo.set_token_hash(session, user, hash_token(token))
            await session.commit()
        typer.echo(f"user_id: {user.id}")
        typer.echo(f"token: {token}")
        return 0
    finally:
        await engine.dispose()
