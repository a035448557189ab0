"""The work behind CLI commands, kept apart from argument parsing.

Heavy modules are imported inside the functions that need them: a question the command
router answers itself (time, arithmetic, …) loads neither SQLAlchemy nor an AI SDK (about
0.68 s and 451 modules with the server, measured; see `ballsy.cli`). The
CLI asks as an anonymous local identity, so the pipeline would store nothing for such a
question anyway; anything else goes through `Assistant.run_turn` like every other door.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import typer

from ballsy import __version__
from ballsy.cli_errors import CliError, describe, sqlite_path_problem
from ballsy.config import Settings
from ballsy.errors import BallsyError

# The provider interface is a few plain classes, no SDK: cheap to import here.
from ballsy.providers.llm.base import (
    AIError,
    ChatMessage,
    GenerationParams,
    LLMProvider,
    ReplyStats,
)

if TYPE_CHECKING:
    from ballsy.commands.base import LocalReply

# AI failures that mean the configuration must change (exit 2), not a failed reply (exit 1).
_CONFIG_KINDS = ("config", "not_configured")


# --- ask ------------------------------------------------------------------------------


async def ask_once(settings: Settings, question: str, *, as_json: bool = False) -> int:
    local = local_answer(settings, question)
    if local is not None:
        _print_reply(local.text, local.action, local.data, "local", local.family, as_json)
        return 0
    return await _ask_pipeline(settings, question, as_json=as_json)


def local_answer(settings: Settings, question: str) -> LocalReply | None:
    """The router's own answer, when it has one (checked as the pipeline checks input)."""
    from ballsy.commands.base import CommandContext, LocalReply
    from ballsy.commands.router import route

    text = question.strip()
    if not text:
        raise CliError('nothing to ask: give a question, e.g. ballsy ask "what time is it"')
    if len(text) > settings.max_command_chars:
        raise CliError(
            f"the question is too long ({len(text)} characters; "
            f"MAX_COMMAND_CHARS is {settings.max_command_chars})"
        )
    decision = route(text, CommandContext(now=datetime.now(UTC), timezone=ZoneInfo("UTC")))
    return decision if isinstance(decision, LocalReply) else None


async def _ask_pipeline(settings: Settings, question: str, *, as_json: bool) -> int:
    from ballsy.assistant.events import TextDelta, TurnEnded
    from ballsy.assistant.identity import Identity
    from ballsy.assistant.pipeline import TurnRequest
    from ballsy.wiring import Overrides, build_services

    prepare_database(settings, open_file=False)
    llm = open_llm(settings)
    recorder = _RecordingLLM(llm) if llm is not None else None
    services = build_services(
        settings.model_copy(update={"stt_enabled": False, "rate_limit_enabled": False}),
        Overrides(llm=recorder, use_llm_override=True),
    )
    streamed = ""
    try:
        identity = Identity.tokenless("cli", "local", connection="cli")
        async for event in services.assistant.run_turn(TurnRequest(identity, question)):
            if isinstance(event, TextDelta) and not as_json:
                streamed += event.text
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, TurnEnded):
                failure = recorder.failure if recorder is not None else None
                if failure is not None:
                    where = ai_description(settings)
                    return _report_ai_failure(failure, where, event.response, streamed, as_json)
                if streamed and event.response.strip() == streamed.strip():
                    sys.stdout.write("\n")  # already on screen
                    _print_action(event.action, event.data)
                else:  # a local answer, or a fallback that replaced what was streamed
                    if streamed:
                        sys.stdout.write("\n")
                    _print_reply(
                        event.response,
                        event.action,
                        event.data,
                        event.source,
                        event.family,
                        as_json,
                    )
        return 0
    except BallsyError as exc:
        typer.echo(f"error: {exc.message} ({exc.code})", err=True)
        return 1
    finally:
        await services.aclose()


def _report_ai_failure(
    failure: AIError, where: str, fallback: str, streamed: str, as_json: bool
) -> int:
    if as_json:
        body = {"response": fallback, "error": {"kind": failure.kind, "message": failure.message}}
        typer.echo(json.dumps(body))
    elif streamed:
        sys.stdout.write("\n")
    typer.echo(f"error: the AI reply failed ({failure.kind}; {where}): {failure.message}", err=True)
    return 2 if failure.kind in _CONFIG_KINDS else 1


def _print_reply(
    text: str,
    action: str | None,
    data: dict[str, Any] | None,
    source: str,
    family: str,
    as_json: bool,
) -> None:
    if as_json:
        body = {"response": text, "action": action, "data": data, "source": source}
        typer.echo(json.dumps({**body, "family": family}))
        return
    typer.echo(text)
    _print_action(action, data)


def _print_action(action: str | None, data: dict[str, Any] | None) -> None:
    """What the page would do with the reply (open a site, search), as one line."""
    if action:
        details = ", ".join(f"{key}: {value}" for key, value in (data or {}).items())
        typer.echo(f"[{action}] {details}".rstrip())


class _RecordingLLM(LLMProvider):
    """The configured provider, remembering the failure the pipeline turns into a spoken
    apology, so the command can print the reason and fail."""

    def __init__(self, inner: LLMProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.failure: AIError | None = None

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, stats: ReplyStats
    ) -> AsyncIterator[str]:
        return self._stream(messages, params, stats)

    async def _stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, stats: ReplyStats
    ) -> AsyncIterator[str]:
        inner = cast(AsyncGenerator[str, None], self.inner.stream(messages, params, stats))
        try:
            async with aclosing(inner) as chunks:
                async for chunk in chunks:
                    yield chunk
        except AIError as exc:
            self.failure = exc
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()


def open_llm(settings: Settings) -> LLMProvider | None:
    """The configured AI provider (None when none is set up); a `CliError` when the
    configuration cannot make one (bad OPENAI_BASE_URL, no Vertex AI credentials …)."""
    from ballsy.wiring import make_llm

    try:
        return make_llm(settings)
    except AIError as exc:
        choice = settings.effective_ai_provider()
        raise CliError(f"the AI provider ({choice}) cannot start: {exc.message}") from None


# --- transcribe -----------------------------------------------------------------------


async def transcribe_once(settings: Settings, path: Path, *, as_json: bool = False) -> int:
    from ballsy.providers.stt.files import transcribe_file
    from ballsy.wiring import build_stt

    stt = build_stt(replace(settings.speech, stt_enabled=True))
    try:
        transcript = await transcribe_file(path, stt)
    except BallsyError as exc:
        typer.echo(f"error: {exc.message} ({exc.code})", err=True)
        # No speech model installed is the environment's problem; bad audio is the file's.
        return 2 if exc.code == "feature_unavailable" else 1
    finally:
        await stt.aclose()
    text = transcript.text.strip()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "text": text,
                    "language": transcript.language,
                    "audio_seconds": round(transcript.audio_seconds, 3),
                    "processing_seconds": round(transcript.processing_seconds, 3),
                }
            )
        )
    elif text:
        typer.echo(text)
    timing = f"{transcript.audio_seconds:.2f} s of audio in {transcript.processing_seconds:.2f} s"
    if not text:
        typer.echo(f"no speech heard in {path} ({timing})", err=True)
        return 1
    typer.echo(f"({timing})", err=True)
    return 0


# --- the database ---------------------------------------------------------------------


def prepare_database(
    settings: Settings, *, migrate_sqlite: bool = False, open_file: bool = True
) -> None:
    """Check DATABASE_URL and make the embedded database's folder, and open its file (and,
    for `serve`, create its schema) here, so a path that cannot be used is one clear line,
    not a traceback. `ask`, which stores nothing, leaves the file alone (open_file=False)."""
    from ballsy.db.url import is_sqlite, prepare_sqlite_file, to_async_url

    url = to_async_url(settings.database_url_value())
    if not is_sqlite(url):
        return
    try:
        prepare_sqlite_file(url)
    except OSError as exc:
        raise CliError(sqlite_path_problem(str(url.database), exc)) from exc
    if open_file and url.database and url.database != ":memory:":
        _open_sqlite(Path(url.database))
    if migrate_sqlite:
        from ballsy.db import migrate

        migrate.upgrade_sqlite_if_needed(settings.database_url_value())


def _open_sqlite(path: Path) -> None:
    """Open (creating if need be) the SQLite file with the standard library first: a
    folder, a file that is not a database or one we may not write is reported here."""
    import sqlite3

    if path.is_dir():
        raise CliError(sqlite_path_problem(str(path), reason=f"{path} is a folder"))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rwc", uri=True, timeout=5)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise CliError(describe(exc, f"sqlite:///{path}") or str(exc)) from exc


async def current_revision(settings: Settings) -> str | None:
    from ballsy.db.engine import build_engine
    from ballsy.db.migrate import current_revision_sync

    engine = build_engine(settings.database)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(current_revision_sync)
    finally:
        await engine.dispose()


async def issue_user_token(settings: Settings, username: str) -> int:
    from ballsy.assistant.identity import hash_token, new_token
    from ballsy.db import repositories as repo
    from ballsy.db.engine import build_engine, build_sessionmaker

    engine = build_engine(settings.database)
    sessions = build_sessionmaker(engine)
    try:
        async with sessions() as session:
            user = await repo.user_by_username(session, username)
            if user is None:
                typer.echo(f"error: no user named {username!r}", err=True)
                return 1
            token = new_token()
            await repo.set_token_hash(session, user, hash_token(token))
            await session.commit()
        typer.echo(f"user_id: {user.id}")
        typer.echo(f"token: {token}")
        return 0
    finally:
        await engine.dispose()


async def prune_anonymous_users(
    settings: Settings, *, days: int, with_history: bool, batch_size: int
) -> int:
    from ballsy.db import repositories as repo
    from ballsy.db.engine import build_engine, build_sessionmaker
    from ballsy.db.models import utcnow

    engine = build_engine(settings.database)
    try:
        deleted = await repo.prune_anonymous_users(
            build_sessionmaker(engine),
            cutoff=utcnow() - timedelta(days=days),
            batch=batch_size,
            with_history=with_history,
        )
    finally:
        await engine.dispose()
    kind = "idle anonymous users" if with_history else "anonymous users with no turns"
    typer.echo(f"deleted {deleted} {kind} unseen for {days} days")
    return 0


# --- serve ----------------------------------------------------------------------------


def startup_line(settings: Settings) -> str:
    """What `ballsy serve` runs with, secrets hidden: one line for the operator."""
    from ballsy.redaction import redact_url

    if settings.stt_enabled:
        speech = f"{settings.stt_model} ({settings.stt_device}, {settings.stt_compute_type})"
    else:
        speech = "off (STT_ENABLED=false)"
    return (
        f"ballsy {__version__} on http://{settings.host}:{settings.port} · "
        f"database {redact_url(settings.database_url_value())} · AI {ai_description(settings)}"
        f" · speech {speech}"
    )


def ai_description(settings: Settings) -> str:
    choice = settings.effective_ai_provider()
    if choice == "gemini":
        if settings.gemini_api_key is None and settings.google_genai_use_vertexai:
            return f"gemini {settings.gemini_model} (Vertex AI, {settings.google_cloud_location})"
        return f"gemini {settings.gemini_model}"
    if choice == "openai":
        return f"openai-compatible {settings.openai_model} at {_without_userinfo(settings)}"
    return "none (local answers only; set GEMINI_API_KEY, or OPENAI_BASE_URL and OPENAI_MODEL)"


def _without_userinfo(settings: Settings) -> str:
    raw = settings.openai_base_url or ""
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<unparseable OPENAI_BASE_URL>"
