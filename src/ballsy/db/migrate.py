"""Alembic, driven from code: the migrations ship inside the package.

These functions are synchronous (Alembic's command API is); async callers run them
with `asyncio.to_thread`. Alembic is imported only when a migration really runs (its
import costs about 0.2 s and 150 modules, measured), so a server whose embedded database
is already current starts without paying for it, and a new embedded database is created
from the schema's DDL (see head_schema) without it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from ballsy.db import head_schema
from ballsy.db.url import is_sqlite, prepare_sqlite_file, to_async_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest revision, written once: by `python -m ballsy.db.snapshots` into head_schema
# (tests/db/test_migrations.py checks it equals Alembic's head).
HEAD = head_schema.REVISION


def alembic_config(database_url: str, migrations_dir: Path = MIGRATIONS_DIR) -> Config:
    from alembic.config import Config

    prepare_sqlite_file(to_async_url(database_url))
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    # ConfigParser interpolates '%': escape it so URL-encoded passwords survive.
    rendered = to_async_url(database_url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(
    database_url: str, revision: str = "head", *, migrations_dir: Path = MIGRATIONS_DIR
) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url, migrations_dir), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def head_revision(migrations_dir: Path = MIGRATIONS_DIR) -> str | None:
    from alembic.script import ScriptDirectory

    config = alembic_config("sqlite://", migrations_dir)
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision_sync(connection: object) -> str | None:
    """The revision a (sync) connection's database is at; for use under run_sync."""
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection)  # type: ignore[arg-type]
    return context.get_current_revision()


def _sqlite_file(database_url: str) -> Path | None:
    """The file of an SQLite URL; None for other databases and in-memory SQLite."""
    url = to_async_url(database_url)
    if not is_sqlite(url) or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def sqlite_is_current(database_url: str) -> bool:
    """True when an SQLite database is already at HEAD (a cheap check, no Alembic)."""
    path = _sqlite_file(database_url)
    if path is None or not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == HEAD


def create_sqlite_schema(database_url: str) -> bool:
    """Create the HEAD schema in a new or empty SQLite database, in one transaction.

    Returns False, changing nothing, when the database already holds any table (it is
    then the migrations' job) or is not a usable SQLite file.
    """
    path = _sqlite_file(database_url)
    if path is None:
        return False
    prepare_sqlite_file(to_async_url(database_url))
    try:
        # Autocommit mode, so the explicit BEGIN IMMEDIATE below is the one transaction:
        # a second process starting on the same new file waits, then finds the tables.
        conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None:
            conn.execute("ROLLBACK")
            return False
        for statement in head_schema.SQLITE:
            conn.execute(statement)
        conn.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (HEAD,))
        conn.execute("COMMIT")
        return True
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return False
    finally:
        conn.close()


def upgrade_sqlite_if_needed(database_url: str) -> bool:
    """Bring the embedded database to HEAD; returns whether a migration ran.

    A current database costs one query; a new one gets the HEAD schema directly; any
    other goes through Alembic's migrations.
    """
    if sqlite_is_current(database_url):
        return False
    if create_sqlite_schema(database_url):
        return True
    upgrade(database_url)
    return True
