"""Remembered facts in the database: every statement is scoped to one user.

Each function takes the owner's `user_id` and puts it in the WHERE clause of every read,
update and delete, so a caller can never reach another user's memory by id: a delete of
someone else's fact id deletes nothing. The vectors travel as float32 bytes; ranking
them is the recall module's business (assistant/recall.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ballsy.db.models import RememberedFact, utcnow


@dataclass(frozen=True, slots=True)
class StoredFact:
    id: int
    text: str
    embedding: bytes
    model: str
    tokens: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Version:
    """What changes whenever a user's facts change: their count and newest id (ids are
    never reused: SERIAL on PostgreSQL, AUTOINCREMENT on SQLite). A fact added raises the
    newest id; one deleted lowers the count."""

    count: int
    newest_id: int


_VERSION = select(func.count(RememberedFact.id), func.coalesce(func.max(RememberedFact.id), 0))


async def version(conn: AsyncConnection, user_id: int) -> Version:
    row = (await conn.execute(_VERSION.where(RememberedFact.user_id == user_id))).one()
    return Version(int(row[0]), int(row[1]))


async def all_facts(conn: AsyncConnection, user_id: int) -> list[StoredFact]:
    """Every fact of the user, oldest first."""
    rows = await conn.execute(
        select(
            RememberedFact.id,
            RememberedFact.text,
            RememberedFact.embedding,
            RememberedFact.model,
            RememberedFact.tokens,
            RememberedFact.created_at,
        )
        .where(RememberedFact.user_id == user_id)
        .order_by(RememberedFact.id)
    )
    return [StoredFact(*row) for row in rows.all()]


async def add_fact(
    conn: AsyncConnection,
    user_id: int,
    *,
    text: str,
    embedding: bytes,
    model: str,
    tokens: int,
    created_at: datetime | None = None,
) -> int:
    """Store one fact; returns its id. The caller commits."""
    result = await conn.execute(
        insert(RememberedFact)
        .values(
            user_id=user_id,
            text=text,
            embedding=embedding,
            model=model,
            tokens=tokens,
            created_at=created_at or utcnow(),
        )
        .returning(RememberedFact.id)
    )
    return int(result.scalar_one())


async def count_facts(conn: AsyncConnection, user_id: int) -> int:
    return (await version(conn, user_id)).count


async def delete_facts(conn: AsyncConnection, user_id: int, fact_ids: list[int]) -> list[str]:
    """Delete the user's facts among `fact_ids`; returns the texts deleted (ids that are
    not this user's are ignored)."""
    if not fact_ids:
        return []
    result = await conn.execute(
        delete(RememberedFact)
        .where(RememberedFact.user_id == user_id, RememberedFact.id.in_(fact_ids))
        .returning(RememberedFact.text)
    )
    return [str(row[0]) for row in result.all()]


async def delete_all_facts(conn: AsyncConnection, user_id: int) -> int:
    result = await conn.execute(delete(RememberedFact).where(RememberedFact.user_id == user_id))
    return int(result.rowcount or 0)


async def newest_fact(conn: AsyncConnection, user_id: int) -> tuple[int, str] | None:
    row = (
        await conn.execute(
            select(RememberedFact.id, RememberedFact.text)
            .where(RememberedFact.user_id == user_id)
            .order_by(RememberedFact.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))
