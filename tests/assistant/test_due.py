"""The due-item scheduler and the timer tools, on SQLite and PostgreSQL: concurrent sweeps
claim each item exactly once, the loop wakes for a new item and stops when cancelled,
missed items are announced once, and the AI's tools store through the same service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ballsy.assistant.due import DueItem, DueScheduler
from ballsy.assistant.timer_tools import timer_tools
from ballsy.assistant.timers import Timers
from ballsy.assistant.tools import ToolBox, ToolContext, ToolError
from ballsy.commands.timers import SetItem
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db.engine import build_engine
from ballsy.db.models import Timer, User, utcnow

DEADLINE_S = 60.0


class Pages:
    """Listeners standing in for the WebSocket hub: users with a page open, and what each
    item delivered was."""

    def __init__(self, *users: int) -> None:
        self.users = set(users)
        self.got: list[DueItem] = []

    def user_ids(self) -> set[int]:
        return set(self.users)

    async def deliver(self, due: DueItem) -> int:
        # Like a page, each item once (a sweep finds recent items again).
        if due.item.user_id not in self.users or due.item.id in {d.item.id for d in self.got}:
            return 0
        self.got.append(due)
        return 1


@pytest.fixture
async def engine(
    make_settings: Callable[..., Settings], database_url: str
) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(migrate.upgrade, database_url)
    built = build_engine(make_settings(database_url=database_url))
    try:
        yield built
    finally:
        await built.dispose()


async def _users(engine: AsyncEngine, count: int) -> list[int]:
    async with engine.begin() as conn:
        rows = await conn.execute(
            insert(User).returning(User.id), [{"username": f"u{n}"} for n in range(count)]
        )
        return [int(r[0]) for r in rows]


async def _add(timers: Timers, user_id: int, *, seconds: float, label: str) -> int:
    now = utcnow()
    item = SetItem(kind="reminder", due_at=now + timedelta(seconds=seconds), label=label)
    stored = await timers.add(user_id, item, zone=ZoneInfo("Europe/Paris"), now=now)
    return stored.id


async def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.02)


async def test_concurrent_sweeps_claim_each_item_exactly_once(
    engine: AsyncEngine, make_settings: Callable[..., Settings], database_url: str
) -> None:
    owner, away = await _users(engine, 2)
    timers = Timers(engine)
    ids = [await _add(timers, (owner, away)[n % 2], seconds=-1, label=f"r{n}") for n in range(40)]
    # Four schedulers, each on its own engine (its own connections), sweeping at once.
    engines = [build_engine(make_settings(database_url=database_url)) for _ in range(4)]
    pages = [Pages(owner) for _ in engines]
    schedulers = [
        DueScheduler(e, p, instance=f"instance-{n}")
        for n, (e, p) in enumerate(zip(engines, pages, strict=True))
    ]
    try:
        claimed = 0
        for _ in range(5):
            results = await asyncio.gather(*(s.sweep() for s in schedulers))
            claimed += sum(r.claimed for r in results)
        assert claimed == len(ids)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(Timer.fired_by, Timer.delivered_at))).all()
        assert {fired_by for fired_by, _ in rows} <= {s.instance for s in schedulers}
        # Each page here is told about every item of its user (a page on each instance)...
        for page in pages:
            assert sorted(d.item.id for d in page.got) == sorted(ids[0::2])
            assert all(d.text.startswith("Reminder: r") for d in page.got)
        # ...while the other user's wait, undelivered, for their next connection: once.
        assert sum(1 for _, delivered in rows if delivered is None) == len(ids) // 2
        missed = await schedulers[0].announce(away)
        assert sorted(d.item.id for d in missed) == sorted(ids[1::2])
        assert all(d.late and d.text.startswith("While you were away") for d in missed)
        assert await schedulers[1].announce(away) == []
    finally:
        for e in engines:
            await e.dispose()


async def test_announce_claims_items_no_sweep_has_fired(engine: AsyncEngine) -> None:
    (user,) = await _users(engine, 1)
    timers = Timers(engine)
    item_id = await _add(timers, user, seconds=-5, label="water the plants")
    scheduler = DueScheduler(engine, Pages(), instance="fresh")
    (missed,) = await scheduler.announce(user)  # as after a scale to zero: no sweep ran
    assert missed.item.id == item_id and missed.late
    assert missed.text.endswith(": water the plants.")
    async with engine.connect() as conn:
        fired_by = (await conn.execute(select(Timer.fired_by))).scalar_one()
    assert fired_by == "fresh"


async def test_the_loop_wakes_for_a_new_item_and_stops_when_cancelled(
    engine: AsyncEngine,
) -> None:
    (user,) = await _users(engine, 1)
    pages = Pages(user)
    timers = Timers(engine)
    scheduler = DueScheduler(engine, pages)
    timers.on_change = scheduler.wake
    # A long poll: only the wake-up on the new item (and its due time) can fire it soon.
    scheduler.options = type(scheduler.options)(poll_seconds=3600)
    task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.sleep(0)  # the loop starts, finds nothing, and waits
        item_id = await _add(timers, user, seconds=0.5, label="stretch")
        await _wait_until(lambda: [d.item.id for d in pages.got] == [item_id], "the item")
        assert pages.got[0].late is False
    finally:
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=DEADLINE_S)
    assert task in done and task.cancelled()


async def test_timer_tools_store_list_and_cancel(engine: AsyncEngine) -> None:
    (user,) = await _users(engine, 1)
    box = ToolBox()
    box.add(timer_tools(Timers(engine)))
    assert set(box.tools) == {"set_timer", "set_reminder", "list_timers", "cancel_timer"}
    assert all(tool.needs_user for tool in box.tools.values())
    now = datetime(2026, 3, 28, 20, 0, tzinfo=ZoneInfo("UTC"))
    ctx = ToolContext(user_id=user, now=now, zone=ZoneInfo("Europe/Paris"), turn_id="t")

    async def call(name: str, **args: object) -> str:
        tool = box.get(name)
        assert tool is not None
        return (await tool.handler(ctx, dict(args))).text

    assert await call("set_timer", seconds=480, label="pasta") == "Pasta timer set for 8 minutes."
    # 2:30 on the night Paris springs forward does not exist: 3:30 instead, and said so.
    reply = await call("set_reminder", text="check the bread", at="2026-03-29T02:30")
    assert reply.startswith("OK, I'll remind you at 3:30 AM tomorrow: check the bread.")
    assert "clocks go forward" in reply
    assert await call("set_reminder", kind="alarm", in_seconds=3600) == (
        "Alarm set for 10 PM today."
    )
    listed = await call("list_timers")
    assert listed.startswith("You have 3 items: pasta timer, 8 minutes left;")
    assert await call("cancel_timer", kind="timer", label="pasta") == "Cancelled your pasta timer."
    for bad in ({"seconds": 0}, {"seconds": "ten"}, {"seconds": 10**9}):
        with pytest.raises(ToolError):
            await call("set_timer", **bad)
    with pytest.raises(ToolError, match="already passed"):
        await call("set_reminder", text="x", at="2026-03-28T08:00")
    with pytest.raises(ToolError, match="no timer, alarm or reminder 999"):
        await call("cancel_timer", id=999)
    assert (await call("list_timers", kind="timer")) == "You have no timers."
