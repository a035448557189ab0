"""Is the database at the schema this release needs? (For /ready and the start-up log.)"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ballsy.db.errors import classify
from ballsy.db.migrate import HEAD


async def stored_revision(conn: AsyncConnection) -> str | None:
    """The Alembic revision the database records; None when it was never migrated."""
    try:
        row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
    except Exception as exc:
        if classify(exc) == "schema":
            return None
        raise
    return None if row is None else str(row[0])


def is_current(revision: str | None) -> bool:
    """At HEAD, or newer: a release that migrated further is rolling out, and its
    migrations only add, so this release still finds everything it uses."""
    if revision is None:
        return False
    if revision == HEAD:
        return True
    return revision.isdigit() and HEAD.isdigit() and int(revision) > int(HEAD)
