"""When things happen, read from a command's words and resolved in the user's time zone.

Three kinds of phrase, each read from a list of words by a small reader that returns
what it understood and where it stopped (so callers can find a phrase at either end of
a command):

- durations: "5 minutes", "an hour and a half", "1 hour 30 minutes", "90 seconds",
  "half an hour", "a quarter of an hour", "twenty five minutes";
- clock times: "7", "6 30 am" (the normaliser turns "6:30 a.m." into "6 30 a.m"),
  "6.30pm", "7 o'clock", "half past six", "quarter to eight", "noon", "midnight", "18 00";
- days: "today", "tonight", "tomorrow morning", "this evening", "on Friday".

A wall-clock time becomes an instant with `local_instant`, which handles the two
daylight-saving edges: a time the clocks skip (spring forward: 2:30 AM does not exist)
moves forward by the gap, as phones' alarm clocks do; a time that happens twice (fall
back) is the first occurrence. Either way the caller gets a note to say so. Durations
are real elapsed time ("in an hour" is 3,600 seconds from now, across a clock change).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

from ballsy.commands.clock import spoken_date, spoken_time
from ballsy.number_words import ONE_WORD_NUMBERS, TENS

Words = tuple[str, ...]

# Numbers said as one word, and "oh" as in "six oh five".
_UNITS = {**ONE_WORD_NUMBERS, "oh": 0}
# Tens as far as durations and clock minutes are read ("seventy minutes", not "eighty").
_TENS = {word: value for word, value in TENS.items() if value <= 70}
_TIME_UNITS = {
    "second": 1,
    "seconds": 1,
    "sec": 1,
    "secs": 1,
    "minute": 60,
    "minutes": 60,
    "min": 60,
    "mins": 60,
    "hour": 3600,
    "hours": 3600,
    "hr": 3600,
    "hrs": 3600,
    "day": 86400,
    "days": 86400,
    "week": 604800,
    "weeks": 604800,
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PARTS_OF_DAY = ("morning", "afternoon", "evening", "night")
# The hour a part of the day means when no time is said ("remind me tomorrow morning").
_DEFAULT_HOUR = {"morning": 9, "afternoon": 15, "evening": 18, "night": 20, None: 9}

_DIGITS = re.compile(r"^\d{1,4}(?:\.\d{1,2})?$")
_GLUED_MERIDIEM = re.compile(r"(\d)(am|pm|a\.m|p\.m)\b")
_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")
_DOTTED_TIME = re.compile(r"\b(\d{1,2})\.(\d{2})\b")


def words_of(text: str) -> Words:
    """The words a canonical command splits into, with the forms the readers expect:
    "20-second" -> "20 second", "6.30pm" -> "6 30 pm", "a.m" -> "am", "o'clock" -> "oclock"."""
    text = _HYPHEN.sub(" ", text)
    text = _GLUED_MERIDIEM.sub(r"\1 \2", text)
    text = text.replace("a.m", "am").replace("p.m", "pm").replace("o'clock", "oclock")
    return tuple(text.split())


def _dotted(words: Words) -> Words:
    """ "6.30" as "6 30" where a clock time is read (a duration keeps "2.5")."""
    return tuple(_DOTTED_TIME.sub(r"\1 \2", " ".join(words)).split())


# --- numbers -------------------------------------------------------------------------


def read_number(words: Words, i: int) -> tuple[Fraction, int] | None:
    """A number at words[i] (digits, "2.5", "twenty five", "fifteen"), and the index after it."""
    if i >= len(words):
        return None
    word = words[i]
    if _DIGITS.match(word):
        return Fraction(word), i + 1
    if word in _TENS:
        value = _TENS[word]
        if i + 1 < len(words) and words[i + 1] in _UNITS and 0 < _UNITS[words[i + 1]] < 10:
            return Fraction(value + _UNITS[words[i + 1]]), i + 2
        return Fraction(value), i + 1
    if word in _UNITS and word != "oh":
        return Fraction(_UNITS[word]), i + 1
    return None


# --- durations -----------------------------------------------------------------------


def _duration_part(words: Words, i: int) -> tuple[Fraction, int] | None:
    """One "number unit" part: "5 minutes", "an hour", "one and a half hours",
    "an hour and a half", "half an hour", "a quarter of an hour"."""
    n = len(words)
    # "half an hour", "half a minute"
    if i + 2 < n and words[i] == "half" and words[i + 1] in ("a", "an"):
        unit = _TIME_UNITS.get(words[i + 2])
        if unit:
            return Fraction(unit, 2), i + 3
    # "a quarter of an hour", "quarter of an hour", "a quarter hour"
    j = i + 1 if i < n and words[i] == "a" else i
    if j < n and words[j] == "quarter":
        k = j + 1
        if k + 1 < n and words[k] == "of" and words[k + 1] in ("a", "an"):
            k += 2
        if k < n and words[k] in ("hour", "hours"):
            return Fraction(900), k + 1
    if i < n and words[i] in ("a", "an"):
        value, j = Fraction(1), i + 1
    else:
        number = read_number(words, i)
        if number is None:
            return None
        value, j = number
    # "one and a half hours"
    if j + 3 < n and words[j : j + 3] == ("and", "a", "half") and words[j + 3] in _TIME_UNITS:
        return (value + Fraction(1, 2)) * _TIME_UNITS[words[j + 3]], j + 4
    if j >= n or words[j] not in _TIME_UNITS:
        return None
    seconds = value * _TIME_UNITS[words[j]]
    j += 1
    # "an hour and a half"
    if j + 2 < n and words[j : j + 3] == ("and", "a", "half"):
        return seconds + Fraction(_TIME_UNITS[words[j - 1]], 2), j + 3
    return seconds, j


def read_duration(words: Words, i: int = 0) -> tuple[int, int] | None:
    """The longest duration starting at words[i]: (whole seconds, index after it).

    Parts may follow one another with or without "and": "1 hour 30 minutes",
    "2 minutes and 30 seconds"."""
    first = _duration_part(words, i)
    if first is None:
        return None
    total, j = first
    while j < len(words):
        k = j + 1 if words[j] == "and" else j
        part = _duration_part(words, k)
        if part is None:
            break
        total, j = total + part[0], part[1]
    return round(total), j


def spoken_duration(seconds: int) -> str:
    """ "5 minutes", "1 hour and 30 minutes", "2 days, 3 hours and 20 seconds"."""
    parts: list[str] = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


# --- clock times ---------------------------------------------------------------------

Meridiem = Literal["am", "pm"] | None


@dataclass(frozen=True, slots=True)
class ClockTime:
    """A time of day as said: `hour` is 0-23 when it is unambiguous (`exact`), else 1-12."""

    hour: int
    minute: int
    exact: bool  # a 24-hour time, am/pm given, noon or midnight


def _minutes(words: Words, i: int) -> tuple[int, int] | None:
    """Minutes after an hour: "30", "05", "oh five", "forty five", "fifteen"."""
    if i >= len(words):
        return None
    word = words[i]
    if word.isdigit() and len(word) == 2 and int(word) < 60:
        return int(word), i + 1
    if word == "oh" and i + 1 < len(words) and words[i + 1] in _UNITS:
        value = _UNITS[words[i + 1]]
        return (value, i + 2) if 0 < value < 10 else None
    number = read_number(words, i)
    if number is None or number[0].denominator != 1 or not 10 <= number[0] < 60:
        return None
    return int(number[0]), number[1]


def _meridiem(words: Words, i: int) -> tuple[Meridiem, int]:
    if i < len(words) and words[i] in ("am", "pm"):
        return ("am" if words[i] == "am" else "pm"), i + 1
    if i + 1 < len(words) and words[i] in ("a", "p") and words[i + 1] == "m":
        return ("am" if words[i] == "a" else "pm"), i + 2
    return None, i


def _with_meridiem(hour: int, minute: int, meridiem: Meridiem) -> ClockTime | None:
    if meridiem is None:
        if hour == 0 or hour > 12:
            return ClockTime(hour, minute, exact=True) if hour < 24 else None
        return ClockTime(hour, minute, exact=False)
    if not 1 <= hour <= 12:
        return None
    return ClockTime(hour % 12 + (12 if meridiem == "pm" else 0), minute, exact=True)


def read_clock(words: Words, i: int = 0) -> tuple[ClockTime, int, bool] | None:
    """A time of day at words[i]: (time, index after it, whether it was said unmistakably
    as a time: am/pm, o'clock, minutes, noon, "half past")."""
    n = len(words)
    if i >= n:
        return None
    word = words[i]
    if word in ("noon", "midday"):
        return ClockTime(12, 0, exact=True), i + 1, True
    if word == "midnight":
        return ClockTime(0, 0, exact=True), i + 1, True
    # "half past six", "quarter to eight", "ten past seven", "20 to 9"
    offset: int | None = None
    j = i
    if word == "half":
        offset, j = 30, i + 1
    elif word == "quarter" or (word == "a" and i + 1 < n and words[i + 1] == "quarter"):
        offset, j = 15, i + (2 if word == "a" else 1)
    else:
        number = read_number(words, i)
        if number is not None and number[1] < n and words[number[1]] in ("past", "after", "to"):
            value = number[0]
            if value.denominator == 1 and 1 <= value < 60:
                offset, j = int(value), number[1]
        elif (
            number is not None
            and number[1] + 1 < n
            and words[number[1]] == "minutes"
            and words[number[1] + 1] in ("past", "after", "to")
            and 1 <= number[0] < 60
        ):
            offset, j = int(number[0]), number[1] + 1
    if offset is not None and j < n and words[j] in ("past", "after", "to"):
        before = words[j] == "to"
        hour_number = read_number(words, j + 1)
        if hour_number is None or hour_number[0].denominator != 1:
            return None
        hour, k = int(hour_number[0]), hour_number[1]
        meridiem, k = _meridiem(words, k)
        if before:
            hour, minute = hour - 1, 60 - offset
            if hour < 0 or (hour == 0 and meridiem is not None):
                hour += 12 if meridiem is not None else 24
        else:
            minute = offset
        clock = _with_meridiem(hour, minute, meridiem)
        return None if clock is None else (clock, k, True)
    # "1830", "630" (with am/pm or o'clock only: a bare number is too easily something else)
    if word.isdigit() and len(word) in (3, 4):
        hour, minute = int(word[:-2]), int(word[-2:])
        meridiem, k = _meridiem(words, i + 1)
        if minute < 60 and (meridiem is not None or len(word) == 4):
            clock = _with_meridiem(hour, minute, meridiem)
            return None if clock is None else (clock, k, True)
        return None
    number = read_number(words, i)
    if number is None or number[0].denominator != 1 or not 0 <= number[0] <= 24:
        return None
    hour, k = int(number[0]), number[1]
    certain = False
    minute = 0
    if k < n and words[k] == "oclock":
        k, certain = k + 1, True
    else:
        minutes = _minutes(words, k)
        if minutes is not None:
            (minute, k), certain = minutes, True
    meridiem, k = _meridiem(words, k)
    if hour == 24:
        if minute or meridiem:
            return None
        hour = 0
    clock = _with_meridiem(hour, minute, meridiem)
    if clock is None:
        return None
    return clock, k, certain or meridiem is not None or (clock.exact and hour > 12)


# --- days ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Day:
    """A day as said: `offset` days from today, or the next `weekday` (0 = Monday)."""

    offset: int | None = None
    weekday: int | None = None
    part: str | None = None  # morning, afternoon, evening, night


def read_day(words: Words, i: int = 0) -> tuple[Day, int] | None:
    """ "today", "tonight", "tomorrow (morning)", "this evening", "(on) (next) Friday
    (morning)", "the day after tomorrow", "in the morning" (a part of today or tomorrow)."""
    n = len(words)
    if i >= n:
        return None
    word = words[i]

    def with_part(day: Day, j: int) -> tuple[Day, int]:
        if j < n and words[j] in PARTS_OF_DAY:
            return Day(day.offset, day.weekday, words[j]), j + 1
        return day, j

    if word == "today":
        return with_part(Day(offset=0), i + 1)
    if word == "tonight":
        return Day(offset=0, part="night"), i + 1
    if word == "tomorrow":
        return with_part(Day(offset=1), i + 1)
    if words[i : i + 4] == ("the", "day", "after", "tomorrow"):
        return with_part(Day(offset=2), i + 4)
    if word == "this" and i + 1 < n and words[i + 1] in PARTS_OF_DAY:
        return Day(offset=0, part=words[i + 1]), i + 2
    if (
        word in ("in", "at")
        and i + 2 < n
        and words[i + 1] == "the"
        and words[i + 2] in PARTS_OF_DAY
    ):
        return Day(part=words[i + 2]), i + 3
    if word == "at" and i + 1 < n and words[i + 1] == "night":
        return Day(part="night"), i + 2
    j = i + 1 if word == "on" else i
    if j < n and words[j] in ("next", "this"):
        j += 1
    if j < n and words[j] in WEEKDAYS:
        return with_part(Day(weekday=WEEKDAYS.index(words[j])), j + 1)
    return None


# --- a moment: relative, or a day and a time ---------------------------------------------


@dataclass(frozen=True, slots=True)
class When:
    """What a command said about when: `seconds` from now, or a `day` and/or a `clock`."""

    seconds: int | None = None
    day: Day | None = None
    clock: ClockTime | None = None


def read_when(words: Words, *, bare_clock: bool = False) -> When | None:
    """All of `words` read as one "when" phrase, or None.

    "in 10 minutes", "at 6 pm", "tomorrow at 9", "at 9 tomorrow", "on Friday at 6 30",
    "tonight", "at half past seven in the evening". A bare number ("5") is a time only
    with `bare_clock` (after "wake me up", where nothing else could follow)."""
    if not words:
        return None
    if words[0] in ("in", "after", "for") and len(words) > 1:
        duration = read_duration(words, 1)
        if duration is not None and duration[1] == len(words):
            return When(seconds=duration[0])
    words = _dotted(words)
    if words[0] == "for" and read_day(words, 1) is not None:  # "for tomorrow at 6"
        words = words[1:]
    day: Day | None = None
    i = 0
    found = read_day(words, i)
    if found is not None:
        day, i = found
    said_at = i < len(words) and words[i] in ("at", "by", "for", "around", "about")
    if said_at:
        i += 1
    clock = read_clock(words, i)
    if clock is None:
        return When(day=day) if day is not None and i == len(words) and not said_at else None
    time_of_day, i, certain = clock
    if day is None or day.part is None:
        later = read_day(words, i)
        if later is not None and (
            day is None or (later[0].offset is None and not later[0].weekday)
        ):
            if day is None:
                day = later[0]
            elif later[0].part is not None:
                day = Day(day.offset, day.weekday, later[0].part)
            i = later[1]
    if i != len(words):
        return None
    if not (certain or said_at or day is not None or bare_clock):
        return None
    return When(day=day, clock=time_of_day)


@dataclass(frozen=True, slots=True)
class Moment:
    """A resolved instant (aware UTC) and, when a clock change moved it, why."""

    at: datetime
    note: str | None = None


class WhenError(ValueError):
    """A moment that cannot be set; the message is the reply."""


def local_instant(wall: datetime, zone: ZoneInfo) -> Moment:
    """The instant a naive wall-clock time means in `zone`, with daylight saving handled."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return Moment(first.astimezone(UTC))
    round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != wall:
        # Skipped by the clocks going forward: fold=0 reads it with the offset from before
        # the change, which lands the same distance past the gap (2:30 -> 3:30).
        moved = first.astimezone(UTC).astimezone(zone)
        return Moment(
            first.astimezone(UTC),
            f"{spoken_time(wall)} doesn't exist that day because the clocks go forward, "
            f"so I made it {spoken_time(moved)}",
        )
    return Moment(
        first.astimezone(UTC),
        f"{spoken_time(wall)} happens twice that night because the clocks go back; "
        "this is the first one",
    )


# "wake" is an alarm said as "wake me up at 7": a morning, unless said otherwise.
Purpose = Literal["alarm", "wake", "reminder"]


def _hour_24(clock: ClockTime, day: Day | None, purpose: Purpose) -> list[int]:
    """The hours (0-23) an ambiguous "7" may mean, best guess first."""
    if clock.exact:
        return [clock.hour]
    am, pm = clock.hour % 12, clock.hour % 12 + 12
    part = day.part if day is not None else None
    if part == "morning":
        return [am]
    if part in ("afternoon", "evening", "night"):
        # "12 at night" is midnight
        return [am] if part == "night" and clock.hour == 12 else [pm]
    if purpose == "wake":
        return [am]
    if day is not None and (day.offset or day.weekday is not None):
        # A named day without am/pm: an alarm wakes you in the morning; a reminder at
        # "1" to "6" is in the afternoon, at "7" to "11" in the morning.
        if purpose == "alarm" or 7 <= clock.hour <= 11:
            return [am]
        return [pm]
    return [am, pm]  # the soonest one still to come


def resolve(when: When, now: datetime, zone: ZoneInfo, purpose: Purpose) -> Moment:
    """The instant `when` means, said at `now` (aware) by someone in `zone`.

    A time without a day is the next one to come; a day without a time takes its part's
    usual hour (9 AM, 3 PM, 6 PM, 8 PM). Raises `WhenError` for a moment already past."""
    if when.seconds is not None:
        return Moment(now + timedelta(seconds=when.seconds))
    local_now = now.astimezone(zone)
    today = local_now.date()
    day = when.day
    if when.clock is None:
        hours = [_DEFAULT_HOUR[day.part if day is not None else None]]
        minute = 0
    else:
        hours, minute = _hour_24(when.clock, day, purpose), when.clock.minute
    if day is not None and (day.offset is not None or day.weekday is not None):
        dates = [_date_of(day, today)]
        if day.weekday is not None:  # "on Friday" on a Friday, after the time: next week
            dates.append(dates[0] + timedelta(days=7))
    else:
        dates = [today, today + timedelta(days=1)]
    candidates: list[Moment] = []
    for on in dates:
        for hour in hours:
            moment = local_instant(datetime(on.year, on.month, on.day, hour, minute), zone)
            if moment.at > now:
                candidates.append(moment)
    if not candidates:
        wall = datetime(dates[0].year, dates[0].month, dates[0].day, hours[0], minute)
        raise WhenError(f"{spoken_time(wall)} today has already passed.")
    return min(candidates, key=lambda moment: moment.at)


def _date_of(day: Day, today: date) -> date:
    if day.offset is not None:
        return today + timedelta(days=day.offset)
    assert day.weekday is not None
    ahead = (day.weekday - today.weekday()) % 7
    return today + timedelta(days=ahead)


def spoken_moment(at: datetime, now: datetime, zone: ZoneInfo) -> str:
    """ "7 AM today", "6:30 PM tomorrow", "9 AM on Friday", "9 AM on March 3rd"."""
    local = at.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    time_text = spoken_time(local)
    if days == 0:
        return f"{time_text} today"
    if days == 1:
        return f"{time_text} tomorrow"
    weekday = WEEKDAYS[local.weekday()].capitalize()
    if days < 7:
        return f"{time_text} on {weekday}"
    return f"{time_text} on {spoken_date(local)}"
