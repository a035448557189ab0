"""Alembic, driven from code: the migrations ship inside the package.

These functions are synchronous (Alembic's command API is); async callers run them
with `asyncio.to_thread`. The environment script opens its own async engine.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ballsy.db.url import to_async_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%': escape it so URL-encoded passwords survive.
    rendered = to_async_url(database_url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def current_revision_sync(connection: object) -> str | None:
    """The revision a (sync) connection's database is at; for use under run_sync."""
    context = MigrationContext.configure(connection)  # type: ignore[arg-type]
    return context.get_current_revision()
