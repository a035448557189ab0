"""One line for each way the `ballsy` command commonly fails, instead of a traceback.

`describe(exc, database_url)` names what went wrong and how to fix it, or returns None
for a failure it does not recognise (the command then prints the exception's first line).
Nothing heavy is imported here: exceptions are recognised by their type's name, their
SQLSTATE or errno, so the database drivers load only if a command really connects.
"""

from __future__ import annotations

import errno
import re
import socket
import sqlite3
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ballsy.errors import BallsyError

DATABASE_URL_FORMS = (
    "use sqlite:///path/to/ballsy.db or postgresql://USER:PASSWORD@HOST:5432/DATABASE"
)


class CliError(Exception):
    """A failure the command has already put into words; exit code `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class Target:
    """Where DATABASE_URL points, for messages (never the password)."""

    sqlite: bool
    host: str
    port: int | None
    user: str
    database: str

    @property
    def where(self) -> str:
        if self.host.startswith("/"):
            return f"the socket in {self.host}"
        return f"{self.host}:{self.port or 5432}"


def target_of(database_url: str | None) -> Target | None:
    """A password-free view of a database URL; None when it does not parse."""
    if not database_url:
        return None
    try:
        parts = urlsplit(database_url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.startswith("sqlite"):
        path = database_url.strip().split("://", 1)[-1]
        return Target(True, "", None, "", path[1:] if path.startswith("/") else path)
    socket_host = re.search(r"(?:^|&)host=([^&]+)", parts.query)
    host = unquote(socket_host.group(1)) if socket_host else (parts.hostname or "localhost")
    return Target(False, host, port, unquote(parts.username or ""), unquote(parts.path.lstrip("/")))


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and contexts, and SQLAlchemy's wrapped driver error."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(seen) < 20:
        item = pending.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        orig = getattr(item, "orig", None)
        pending += [orig if isinstance(orig, BaseException) else None]
        pending += [item.__cause__, item.__context__]
        if isinstance(item, BaseExceptionGroup):
            pending += list(item.exceptions)
    return seen


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe(exc: BaseException, database_url: str | None = None) -> str | None:
    """One line saying what failed and how to fix it; None when unrecognised."""
    target = target_of(database_url)
    for item in _chain(exc):
        if isinstance(item, CliError):
            return item.message
        if isinstance(item, BallsyError) and item.code == "config_error":
            if "DATABASE_URL" in item.message and "postgresql://" not in item.message:
                return f"{item.message}: {DATABASE_URL_FORMS}"
            return f"{item.message} (see .env.example)"
        line = _database_problem(item, target)
        if line is not None:
            return line
    return None


def _database_problem(item: BaseException, target: Target | None) -> str | None:
    fix = "fix DATABASE_URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
    where = target.where if target is not None and not target.sqlite else "the database"
    sqlstate = str(getattr(item, "sqlstate", "") or getattr(item, "pgcode", "") or "")
    name = type(item).__name__
    if sqlstate == "28P01" or name == "InvalidPasswordError":
        user = target.user if target else "?"
        return (
            f"PostgreSQL at {where} refused the password for user {user!r}: "
            "check the user and password in DATABASE_URL (URL-encode special characters)"
        )
    if sqlstate == "28000" or name == "InvalidAuthorizationSpecificationError":
        return f"PostgreSQL at {where} refused the login ({_first_line(item)}): {fix}"
    if sqlstate == "3D000" or name == "InvalidCatalogNameError":
        database = target.database if target else "?"
        return (
            f"database {database!r} does not exist on PostgreSQL at {where}: "
            f"create it (createdb {database}) or {fix}"
        )
    if isinstance(item, socket.gaierror):
        host = target.host if target else "?"
        return f"cannot resolve the database host {host!r} ({item.strerror}): {fix}"
    if isinstance(item, ConnectionRefusedError) or (
        isinstance(item, OSError) and item.errno == errno.ECONNREFUSED
    ):
        return (
            f"cannot connect to PostgreSQL at {where} (connection refused): start PostgreSQL "
            f"there, or {fix}"
        )
    if isinstance(item, OSError) and "Connect call failed" in str(item):
        return f"cannot connect to PostgreSQL at {where} ({_first_line(item)}): {fix}"
    if isinstance(item, TimeoutError):
        return (
            f"timed out connecting to the database at {where}: check the host and port in "
            "DATABASE_URL and that a firewall lets you through (DB_CONNECT_TIMEOUT_SECONDS)"
        )
    if isinstance(item, sqlite3.Error):
        path = target.database if target and target.sqlite else "the SQLite file"
        return (
            f"SQLite cannot use {path} ({_first_line(item)}): point DATABASE_URL "
            "(or DATA_DIR) at a writable SQLite file, e.g. sqlite:///data/ballsy.db"
        )
    return None


def sqlite_path_problem(path: str, error: OSError | None = None, reason: str = "") -> str:
    """Why an SQLite file cannot be made or used, for a `CliError`."""
    if isinstance(error, FileExistsError | NotADirectoryError):
        reason = f"{error.filename} is a file, not a folder"
    elif isinstance(error, PermissionError):
        reason = f"no permission to write {error.filename}"
    elif error is not None:
        reason = f"{error.strerror or error}: {error.filename}"
    return (
        f"cannot create the SQLite database {path}: {reason}; set DATABASE_URL "
        "(e.g. sqlite:///data/ballsy.db) or DATA_DIR to a folder you can write"
    )
