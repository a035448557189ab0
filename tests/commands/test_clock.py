"""Time and date said naturally, in the user's timezone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ballsy.commands.clock import local_now, spoken_date, spoken_time
from tests.commands.support import context


@pytest.mark.parametrize(
    ("hour", "minute", "spoken"),
    [
        (0, 0, "midnight"),
        (0, 5, "12:05 AM"),
        (9, 0, "9 AM"),
        (9, 30, "9:30 AM"),
        (12, 0, "noon"),
        (12, 1, "12:01 PM"),
        (15, 5, "3:05 PM"),
        (23, 59, "11:59 PM"),
    ],
)
def test_spoken_time(hour: int, minute: int, spoken: str) -> None:
    assert spoken_time(datetime(2026, 1, 1, hour, minute, tzinfo=UTC)) == spoken


@pytest.mark.parametrize(
    ("day", "spoken"),
    [
        (1, "Thursday, January 1st, 2026"),
        (2, "Friday, January 2nd, 2026"),
        (3, "Saturday, January 3rd, 2026"),
        (11, "Sunday, January 11th, 2026"),
        (12, "Monday, January 12th, 2026"),
        (13, "Tuesday, January 13th, 2026"),
        (21, "Wednesday, January 21st, 2026"),
        (22, "Thursday, January 22nd, 2026"),
        (31, "Saturday, January 31st, 2026"),
    ],
)
def test_spoken_date(day: int, spoken: str) -> None:
    assert spoken_date(datetime(2026, 1, day, tzinfo=UTC)) == spoken


def test_summer_time_is_respected() -> None:
    july = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert local_now(context(now=july, timezone="Europe/London")).hour == 13
    assert local_now(context(now=july, timezone="Australia/Sydney")).hour == 22


def test_a_naive_clock_is_taken_as_utc() -> None:
    naive = datetime(2026, 7, 1, 12, 0)
    assert local_now(context(now=naive, timezone="Asia/Kolkata")).strftime("%H:%M") == "17:30"
