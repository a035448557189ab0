"""Stored timers, alarms and reminders: add, list, cancel, and the due-item claim.

Every statement is one atomic statement on a Core connection, and the same on SQLite and
PostgreSQL. Firing is exactly once across instances because the claim is a single
`UPDATE timers SET fired_at = … WHERE id IN (…) AND fired_at IS NULL RETURNING …`: on
PostgreSQL a second instance's UPDATE waits for the first one's row lock, then re-checks
`fired_at IS NULL` on the updated row and skips it; SQLite runs one writer at a time.
Ids are picked first with a plain SELECT, so a poll that finds nothing due writes nothing
(and takes no SQLite write lock).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ballsy.db.models import Timer

_T = cast(Table, Timer.__table__)
_COLUMNS = (
    _T.c.id,
    _T.c.user_id,
    _T.c.kind,
    _T.c.label,
    _T.c.seconds,
    _T.c.timezone,
    _T.c.due_at,
    _T.c.fired_at,
    _T.c.delivered_at,
)


@dataclass(frozen=True, slots=True)
class StoredTimer:
    id: int
    user_id: int
    kind: str
    label: str | None
    seconds: int | None
    timezone: str
    due_at: datetime
    fired_at: datetime | None
    delivered_at: datetime | None


def _items(rows: Sequence[object]) -> list[StoredTimer]:
    return [StoredTimer(*row) for row in rows]  # type: ignore[misc]


async def add(
    conn: AsyncConnection,
    *,
    user_id: int,
    kind: str,
    due_at: datetime,
    label: str | None,
    seconds: int | None,
    timezone: str,
    now: datetime,
) -> StoredTimer:
    row = (
        await conn.execute(
            insert(_T)
            .values(
                user_id=user_id,
                kind=kind,
                label=label,
                seconds=seconds,
                timezone=timezone,
                created_at=now,
                due_at=due_at,
            )
            .returning(*_COLUMNS)
        )
    ).one()
    return StoredTimer(*row)


async def count_pending(conn: AsyncConnection, user_id: int) -> int:
    query = select(func.count()).where(_T.c.user_id == user_id, _T.c.fired_at.is_(None))
    return int((await conn.execute(query)).scalar_one())


async def pending(conn: AsyncConnection, user_id: int, *, limit: int = 200) -> list[StoredTimer]:
    """The user's items still to come, soonest first."""
    query = (
        select(*_COLUMNS)
        .where(_T.c.user_id == user_id, _T.c.fired_at.is_(None))
        .order_by(_T.c.due_at, _T.c.id)
        .limit(limit)
    )
    return _items((await conn.execute(query)).all())


async def delete_owned(
    conn: AsyncConnection, user_id: int, ids: Collection[int]
) -> list[StoredTimer]:
    """Delete the user's own items among `ids` (another user's are left alone)."""
    if not ids:
        return []
    statement = (
        delete(_T).where(_T.c.user_id == user_id, _T.c.id.in_(list(ids))).returning(*_COLUMNS)
    )
    return _items((await conn.execute(statement)).all())


async def next_due(conn: AsyncConnection) -> datetime | None:
    """When the soonest unfired item is due, over every user."""
    query = select(func.min(_T.c.due_at)).where(_T.c.fired_at.is_(None))
    due: datetime | None = (await conn.execute(query)).scalar_one_or_none()
    return due


async def claim_due(
    conn: AsyncConnection,
    *,
    now: datetime,
    instance: str,
    limit: int,
    user_id: int | None = None,
) -> list[StoredTimer]:
    """Mark up to `limit` due items fired by `instance` and return them; an item another
    instance claimed first is not returned (see the module docstring)."""
    pick = (
        select(_T.c.id)
        .where(_T.c.fired_at.is_(None), _T.c.due_at <= now)
        .order_by(_T.c.due_at)
        .limit(limit)
    )
    if user_id is not None:
        pick = pick.where(_T.c.user_id == user_id)
    ids = list((await conn.execute(pick)).scalars())
    if not ids:
        return []
    claim = (
        update(_T)
        .where(_T.c.id.in_(ids), _T.c.fired_at.is_(None))
        .values(fired_at=now, fired_by=instance[:64])
        .returning(*_COLUMNS)
    )
    return _items((await conn.execute(claim)).all())


async def fired_for(
    conn: AsyncConnection, user_ids: Collection[int], *, since: datetime, limit: int
) -> list[StoredTimer]:
    """Items of these users fired since `since`, or fired and never shown on a page."""
    if not user_ids:
        return []
    query = (
        select(*_COLUMNS)
        .where(
            _T.c.user_id.in_(list(user_ids)),
            _T.c.fired_at.is_not(None),
            or_(_T.c.fired_at >= since, _T.c.delivered_at.is_(None)),
        )
        .order_by(_T.c.fired_at)
        .limit(limit)
    )
    return _items((await conn.execute(query)).all())


async def take_undelivered(
    conn: AsyncConnection, user_id: int, *, now: datetime, limit: int
) -> list[StoredTimer]:
    """Claim, for one page, the user's fired items no page has shown (atomic like
    `claim_due`: two pages opening at once do not both announce one)."""
    ids = list(
        (
            await conn.execute(
                select(_T.c.id)
                .where(
                    _T.c.user_id == user_id,
                    _T.c.fired_at.is_not(None),
                    _T.c.delivered_at.is_(None),
                )
                .order_by(_T.c.due_at)
                .limit(limit)
            )
        ).scalars()
    )
    if not ids:
        return []
    statement = (
        update(_T)
        .where(_T.c.id.in_(ids), _T.c.delivered_at.is_(None))
        .values(delivered_at=now)
        .returning(*_COLUMNS)
    )
    return _items((await conn.execute(statement)).all())


async def mark_delivered(conn: AsyncConnection, ids: Collection[int], *, now: datetime) -> None:
    if ids:
        await conn.execute(
            update(_T)
            .where(_T.c.id.in_(list(ids)), _T.c.delivered_at.is_(None))
            .values(delivered_at=now)
        )


async def purge(
    conn: AsyncConnection, *, delivered_before: datetime, undelivered_before: datetime, limit: int
) -> int:
    """Delete up to `limit` items shown on a page before `delivered_before`, or fired
    before `undelivered_before` and never shown (their user has not come back)."""
    ids = list(
        (
            await conn.execute(
                select(_T.c.id)
                .where(
                    or_(
                        _T.c.delivered_at < delivered_before,
                        and_(_T.c.delivered_at.is_(None), _T.c.fired_at < undelivered_before),
                    )
                )
                .limit(limit)
            )
        ).scalars()
    )
    if not ids:
        return 0
    result = await conn.execute(delete(_T).where(_T.c.id.in_(ids)))
    return int(result.rowcount or 0)
