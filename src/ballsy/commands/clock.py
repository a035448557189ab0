"""Time and date, in the user's timezone, said the way people say them.

"It's 3:05 PM.", "It's noon.", "Today is Sunday, November 22nd, 2026." A question
about another place ("what time is it in Tokyo") is not answered here: it names a
zone we do not know, so the AI takes it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ballsy.commands.base import CommandContext, LocalReply
from ballsy.commands.normalize import Utterance

_NOW = r"(?: now| right now| today| at the moment| please)?"
_TIME = re.compile(
    r"^(?:what time is it|what is the time|what is the current time|what time it is|"
    r"(?:the )?current time|(?:the )?time|time check|tell me the time|do you have the time|"
    r"have you got the time|got the time|what hour is it|what time have you got)" + _NOW + "$"
)
_DATE = re.compile(
    r"^(?:what is the date|what is today's date|what is todays date|what date is it|"
    r"what is the date today|what date is today|(?:the )?date|today's date|todays date|"
    r"(?:the )?current date|what day is it|what day is today|what is today|"
    r"what day of the week is it|what is the day|tell me the date|which day is it)" + _NOW + "$"
)
_YEAR = re.compile(r"^(?:what year is it|what is the year|which year is it)" + _NOW + "$")
_MONTH = re.compile(r"^(?:what month is it|what is the month|which month is it)" + _NOW + "$")


# Names spelt out rather than taken from strftime, which follows the process locale.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def spoken_time(moment: datetime) -> str:
    """ "3:05 PM", "3 PM", "noon" or "midnight"."""
    if moment.minute == 0 and moment.hour in (0, 12):
        return "midnight" if moment.hour == 0 else "noon"
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    if moment.minute == 0:
        return f"{hour} {half}"
    return f"{hour}:{moment.minute:02d} {half}"


def spoken_date(moment: datetime) -> str:
    """ "Sunday, November 22nd, 2026"."""
    weekday, month = _WEEKDAYS[moment.weekday()], _MONTHS[moment.month - 1]
    return f"{weekday}, {month} {_ordinal(moment.day)}, {moment.year}"


def local_now(ctx: CommandContext) -> datetime:
    """The context's clock in the user's zone (a naive clock is taken as UTC)."""
    now = ctx.now if ctx.now.tzinfo is not None else ctx.now.replace(tzinfo=UTC)
    return now.astimezone(ctx.timezone)


def answer_clock(utterance: Utterance, ctx: CommandContext) -> LocalReply | None:
    """Answer a question about the current time, date, month or year."""
    text = utterance.text
    if _TIME.match(text):
        return LocalReply(text=f"It's {spoken_time(local_now(ctx))}.", family="time")
    if _DATE.match(text):
        return LocalReply(text=f"Today is {spoken_date(local_now(ctx))}.", family="date")
    if _MONTH.match(text):
        return LocalReply(text=f"It's {_MONTHS[local_now(ctx).month - 1]}.", family="date")
    if _YEAR.match(text):
        return LocalReply(text=f"It's {local_now(ctx).year}.", family="date")
    return None
