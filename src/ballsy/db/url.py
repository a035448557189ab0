"""Normalise every accepted `DATABASE_URL` form to an async SQLAlchemy URL.

Accepted: `sqlite:///relative.db`, `sqlite:////absolute.db`, `postgresql://…`,
`postgres://…`, `postgresql+psycopg2://…` and `postgresql+psycopg://…`, including the
Cloud Run socket form `postgresql+psycopg2://USER:PASSWORD@/DB?host=/cloudsql/INSTANCE`.
Passwords are URL-encoded in the URL (`%40` for `@`), so any character works.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

from ballsy.errors import BallsyError

_POSTGRES_DRIVERS = {
    "postgresql",
    "postgres",
    "postgresql+psycopg2",
    "postgresql+psycopg",
    "postgresql+asyncpg",
    "postgresql+pg8000",
}
_SQLITE_DRIVERS = {"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"}


class DatabaseUrlError(BallsyError):
    code = "config_error"


def to_async_url(raw: str) -> URL:
    """Return the async-driver URL for `raw`, or raise `DatabaseUrlError`."""
    try:
        url = make_url(raw.strip())
    except Exception as exc:  # sqlalchemy raises ArgumentError with the URL inside
        raise DatabaseUrlError("DATABASE_URL is not a valid database URL") from exc
    driver = url.drivername
    if driver in _SQLITE_DRIVERS:
        return url.set(drivername="sqlite+aiosqlite")
    if driver in _POSTGRES_DRIVERS:
        query = dict(url.query)
        # libpq's sslmode is spelled `ssl` for asyncpg.
        if "sslmode" in query:
            query["ssl"] = query.pop("sslmode")
        return url.set(drivername="postgresql+asyncpg", query=query)
    raise DatabaseUrlError(
        f"DATABASE_URL uses an unsupported driver {driver!r}; use sqlite:/// or postgresql://"
    )


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def prepare_sqlite_file(url: URL) -> None:
    """Create the folder an SQLite database file will live in."""
    if is_sqlite(url) and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def unix_socket_dir(url: URL) -> str | None:
    """The Unix socket directory of a PostgreSQL URL (`?host=/cloudsql/…`), if any."""
    host = url.query.get("host")
    if isinstance(host, tuple):
        host = host[0]
    if host and host.startswith("/"):
        return host
    return None
