"""SQLite connections that a cancelled task leaves behind never hold up shutdown.

A page that closes while its query runs cancels the task holding the connection;
SQLAlchemy then terminates that connection (a graceful close, cut short by a force stop
when the task is cancelled again). aiosqlite's close used to stop a connection a second
time and wait forever for its finished worker thread, and the server's shutdown (asyncio
cancels what is left once, then waits for all of it) waited with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from ballsy.config import Settings
from ballsy.db.engine import SQLiteConnection, build_engine

DEADLINE_SECONDS = 30.0  # generous: each wait below ends in well under a second when it works
# A count that keeps SQLite's thread busy for a while (about a second on a quiet machine).
SLOW_COUNT = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
    "SELECT count(*) FROM c"
)


def _settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    return make_settings(database_url=f"sqlite:///{tmp_path / 'ballsy.db'}")


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("order", ["close, then stop", "stop, then close"])
async def test_a_connection_stopped_and_closed_finishes_closing(
    make_settings: Callable[..., Settings], tmp_path: Path, order: str
) -> None:
    engine = build_engine(_settings(make_settings, tmp_path).database)
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert isinstance(driver, SQLiteConnection)
            # What SQLAlchemy's terminate does to a connection whose task was cancelled: a
            # graceful close under way, and a force stop.
            if order == "close, then stop":
                closing = asyncio.create_task(driver.close())
                await asyncio.sleep(0)  # one turn of the loop: the close queues its work
                driver.stop()
                await asyncio.wait_for(closing, DEADLINE_SECONDS)
            else:
                driver.stop()
                async with asyncio.timeout(DEADLINE_SECONDS):
                    # aiosqlite's word for closing a connection the thread has not yet
                    # stopped; once it has, close() has nothing to do.
                    with contextlib.suppress(ValueError):
                        await driver.close()
            await _until(lambda: not driver._thread.is_alive(), "the worker thread to end")
            await conn.invalidate()
    finally:
        await engine.dispose()


async def test_a_query_cancelled_twice_leaves_no_task_that_ignores_shutdown(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    engine = build_engine(_settings(make_settings, tmp_path).database)
    drivers: list[SQLiteConnection] = []

    async def query() -> None:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert isinstance(driver, SQLiteConnection)
            drivers.append(driver)
            await conn.execute(text(SLOW_COUNT))

    def terminating() -> list[asyncio.Task[object]]:
        return [
            task
            for task in asyncio.all_tasks()
            if "terminate_graceful_close" in task.get_coro().__qualname__  # type: ignore[union-attr]
        ]

    try:
        task = asyncio.create_task(query())
        # The count is queued as soon as the task asks for it; once the queue is empty,
        # the worker thread is running it.
        await _until(lambda: bool(drivers) and drivers[0]._tx.empty(), "the query to start")
        task.cancel()  # the page closed: SQLAlchemy terminates the connection
        await _until(lambda: bool(terminating()), "SQLAlchemy's terminate")
        task.cancel()  # cancelled again while the graceful close waits for the query
        with pytest.raises(asyncio.CancelledError):
            await task
        # What asyncio does to the tasks left at shutdown: cancel each once, wait for all.
        left = terminating()
        for orphan in left:
            orphan.cancel()
        await asyncio.wait_for(asyncio.gather(*left, return_exceptions=True), DEADLINE_SECONDS)
        async with engine.connect() as conn:  # and the database still answers
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
