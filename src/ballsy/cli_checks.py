"""`ballsy config check`: can this configuration start, and (with --connect) do the
database and the AI provider answer? Each check is one line saying how to fix it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path
from typing import cast

from ballsy.cli_errors import CliError, describe, sqlite_path_problem
from ballsy.cli_runs import ai_description, current_revision, open_llm, prepare_database
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db.url import is_sqlite, prepare_sqlite_file, to_async_url
from ballsy.providers.llm.base import AIError, ChatMessage, GenerationParams, ReplyStats
from ballsy.redaction import redact_url


def check_startable(settings: Settings) -> None:
    """Refuse, with a `CliError`, a configuration `serve` could not start with or that
    leaves a part broken: an unusable DATABASE_URL or SQLite path, an AI provider whose
    settings cannot make a client. Changes nothing on disk."""
    url = to_async_url(settings.database_url_value())
    if is_sqlite(url) and url.database and url.database != ":memory:":
        problem = _sqlite_blocker(Path(url.database))
        if problem is not None:
            raise CliError(problem)
    llm = open_llm(settings)
    if llm is not None:
        asyncio.run(llm.aclose())


def _sqlite_blocker(path: Path) -> str | None:
    if path.is_dir():
        return sqlite_path_problem(str(path), reason=f"{path} is a folder")
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            return sqlite_path_problem(str(path), reason="the file is not readable and writable")
        return None
    parent = path.parent
    for _ in range(len(path.parts)):
        if parent.exists():
            break
        parent = parent.parent
    if not parent.is_dir():
        return sqlite_path_problem(str(path), reason=f"{parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        return sqlite_path_problem(str(path), reason=f"no permission to write in {parent}")
    return None


async def check_connections(settings: Settings) -> list[tuple[str, bool, str]]:
    """Reach the database and the AI provider: (part, ok, one line) for each."""
    return [await _check_database(settings), await _check_ai(settings)]


async def _check_database(settings: Settings) -> tuple[str, bool, str]:
    where = redact_url(settings.database_url_value())
    try:
        if _sqlite_not_created(settings):
            return "database", True, f"{where}: not created yet; `ballsy serve` creates it"
        prepare_database(settings)
        current = await current_revision(settings)
    except Exception as exc:
        return "database", False, describe(exc, settings.database_url_value()) or _first(exc)
    head = migrate.head_revision()
    if current == head:
        return "database", True, f"{where}: reachable, schema at the latest revision ({head})"
    state = f"schema at revision {current}" if current else "no schema yet"
    if settings.uses_sqlite:  # the embedded database migrates itself on start
        return "database", True, f"{where}: {state}; `ballsy serve` upgrades it to {head}"
    return "database", False, f"{where}: {state}, the latest is {head}: run `ballsy db upgrade`"


def _sqlite_not_created(settings: Settings) -> bool:
    """True for an SQLite file that does not exist yet, once its folder is made (as `serve`
    would make it, proving it can be); the file itself is left to `serve`."""
    url = to_async_url(settings.database_url_value())
    path = url.database
    if not is_sqlite(url) or not path or path == ":memory:" or Path(path).exists():
        return False
    try:
        prepare_sqlite_file(url)
    except OSError as exc:
        raise CliError(sqlite_path_problem(path, exc)) from exc
    return True


async def _check_ai(settings: Settings) -> tuple[str, bool, str]:
    quick = settings.model_copy(
        update={
            "ai_max_retries": 0,
            "ai_connect_timeout_seconds": min(settings.ai_connect_timeout_seconds, 5.0),
            "ai_first_token_timeout_seconds": min(settings.ai_first_token_timeout_seconds, 10.0),
            "ai_total_timeout_seconds": min(settings.ai_total_timeout_seconds, 15.0),
        }
    )
    description = ai_description(settings)
    try:
        llm = open_llm(quick)
    except CliError as exc:
        return "AI", False, exc.message
    if llm is None:
        return "AI", True, description
    try:
        messages = [ChatMessage("user", "Say OK.")]
        stream = llm.stream(
            messages, GenerationParams(max_output_tokens=1, temperature=0), ReplyStats()
        )
        async with aclosing(cast(AsyncGenerator[str, None], stream)) as chunks:
            async for _chunk in chunks:
                break  # one chunk proves the key, the model and the server
    except AIError as exc:
        # "empty" and "blocked" are answers too: the provider took the request.
        if exc.kind not in ("empty", "blocked"):
            return "AI", False, f"{description}: {exc.message}"
    finally:
        await llm.aclose()
    return "AI", True, f"{description}: answered"


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
