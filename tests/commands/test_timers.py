"""Timers, alarms and reminders: every phrasing family, time zones and daylight-saving edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ballsy.commands import LocalReply, NeedsAI, route
from ballsy.commands.timers import (
    CancelItems,
    ItemView,
    ListItems,
    SetItem,
    TimeLeft,
    TimerRequest,
    addressed,
    cancel_reply,
    fired_text,
    list_reply,
    select,
    set_reply,
    time_left_reply,
    which_reply,
)
from ballsy.commands.when import local_instant, read_duration, spoken_duration, words_of
from tests.commands.support import FIXED_NOW, context, timed

# FIXED_NOW is Sunday 22 November 2026, 15:05 UTC (15:05 in London, 16:05 in Paris).


def request(text: str, **ctx_args: object) -> TimerRequest:
    decision = timed(lambda: route(text, context(**ctx_args)))  # type: ignore[arg-type]
    assert isinstance(decision, TimerRequest), f"{text!r} was not a timer command: {decision}"
    return decision


def new_item(text: str, **ctx_args: object) -> SetItem:
    intent = request(text, **ctx_args).intent
    assert isinstance(intent, SetItem), intent
    return intent


def local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


# --- timers ------------------------------------------------------------------------------

TIMERS = [
    ("set a timer for 5 minutes", 300, None),
    ("Set a timer for 5 minutes.", 300, None),
    ("timer for five minutes", 300, None),
    ("a 20 second timer", 20, None),
    ("Set a 20-second timer", 20, None),
    ("start a 10 minute timer", 600, None),
    ("set a pasta timer for 8 minutes", 480, "pasta"),
    ("set a timer for 8 minutes for pasta", 480, "pasta"),
    ("set a timer called pasta for 8 minutes", 480, "pasta"),
    ("an 8 minute pasta timer", 480, "pasta"),
    ("set a 3 minute timer for the eggs", 180, "eggs"),
    ("Set a Pizza timer for 12 minutes", 720, "Pizza"),
    ("timer 10 min", 600, None),
    ("set a timer for an hour", 3600, None),
    ("set a timer for an hour and a half", 5400, None),
    ("set a timer for 1 hour 30 minutes", 5400, None),
    ("set a timer for 2 minutes and 30 seconds", 150, None),
    ("set a timer for half an hour", 1800, None),
    ("set a timer for a quarter of an hour", 900, None),
    ("set a timer for two and a half minutes", 150, None),
    ("set a timer for twenty five minutes", 1500, None),
    ("set a timer for 90 seconds", 90, None),
    ("set a timer for 1.5 hours", 5400, None),
    ("please set me a timer for 3 mins", 180, None),
    ("hey ballsy, um, set a timer for 4 minutes please", 240, None),
    ("start a countdown for 45 seconds", 45, None),
]


@pytest.mark.parametrize(("text", "seconds", "label"), TIMERS)
def test_timer_phrasings(text: str, seconds: int, label: str | None) -> None:
    item = new_item(text)
    assert (item.kind, item.seconds, item.label) == ("timer", seconds, label)
    assert item.due_at == FIXED_NOW + timedelta(seconds=seconds)


# --- alarms ------------------------------------------------------------------------------

ALARMS = [
    # (command, zone, expected local time); it is 15:05 in London, 16:05 in Paris.
    ("wake me up at 7", "Europe/London", "2026-11-23 07:00"),  # waking up is in the morning
    ("wake me at 6 30", "Europe/London", "2026-11-23 06:30"),
    ("set an alarm for 6:30 am", "Europe/London", "2026-11-23 06:30"),
    ("Set an alarm for 6:30 a.m.", "Europe/London", "2026-11-23 06:30"),
    ("set alarm 7am", "Europe/London", "2026-11-23 07:00"),
    ("set an alarm for 7", "Europe/London", "2026-11-22 19:00"),  # the next 7 to come
    ("set an alarm for 7 tomorrow", "Europe/London", "2026-11-23 07:00"),
    ("wake me up tomorrow at 6", "Europe/London", "2026-11-23 06:00"),
    ("set an alarm for tomorrow at 6 30", "Europe/London", "2026-11-23 06:30"),
    ("set an alarm for 7 in the evening", "Europe/London", "2026-11-22 19:00"),
    ("set an alarm for half past six", "Europe/London", "2026-11-22 18:30"),
    ("set an alarm for quarter to 8 pm", "Europe/London", "2026-11-22 19:45"),
    ("set an alarm for ten past seven am", "Europe/London", "2026-11-23 07:10"),
    ("set an alarm for noon", "Europe/London", "2026-11-23 12:00"),
    ("set an alarm for midnight", "Europe/London", "2026-11-23 00:00"),
    ("wake me at 18 30", "Europe/London", "2026-11-22 18:30"),
    ("set an alarm for seven thirty am", "Europe/London", "2026-11-23 07:30"),
    ("set an alarm for 7 o'clock", "Europe/London", "2026-11-22 19:00"),
    ("set an alarm for 4 pm", "Europe/Paris", "2026-11-23 16:00"),  # 16:05 in Paris: tomorrow
    ("set an alarm for 5 pm", "Europe/Paris", "2026-11-22 17:00"),
    ("set an alarm for 8 am on monday", "Asia/Tokyo", "2026-11-23 08:00"),
    ("set an alarm for 10 am on sunday", "Europe/London", "2026-11-29 10:00"),  # past today
    ("wake me up in 20 minutes", "Europe/London", "2026-11-22 15:25"),
    ("set an alarm for 10 minutes", "Europe/London", "2026-11-22 15:15"),
]


@pytest.mark.parametrize(("text", "zone", "expected"), ALARMS)
def test_alarm_phrasings(text: str, zone: str, expected: str) -> None:
    item = new_item(text, timezone=zone)
    assert item.kind == "alarm"
    assert local(item.due_at, zone) == expected


# --- reminders ---------------------------------------------------------------------------

REMINDERS = [
    ("remind me to call Mum at 6 pm", "Europe/London", "2026-11-22 18:00", "call Mum"),
    ("Remind me to call Mum at 6 p.m.", "Europe/London", "2026-11-22 18:00", "call Mum"),
    ("remind me in an hour to stretch", "Europe/London", "2026-11-22 16:05", "stretch"),
    ("remind me to stretch in 10 minutes", "Europe/London", "2026-11-22 15:15", "stretch"),
    (
        "remind me tomorrow at 9 to pay the rent",
        "Europe/London",
        "2026-11-23 09:00",
        "pay the rent",
    ),
    (
        "remind me to pay the rent tomorrow at 9",
        "Europe/London",
        "2026-11-23 09:00",
        "pay the rent",
    ),
    ("remind me at 9 tomorrow to water the plants", "UTC", "2026-11-23 09:00", "water the plants"),
    ("remind me tomorrow to buy milk", "Europe/London", "2026-11-23 09:00", "buy milk"),
    ("remind me tomorrow afternoon to buy milk", "UTC", "2026-11-23 15:00", "buy milk"),
    ("remind me tomorrow at 3 to buy milk", "UTC", "2026-11-23 15:00", "buy milk"),
    ("remind me to take my pills tonight", "Europe/London", "2026-11-22 20:00", "take my pills"),
    ("remind me this evening to call Sam", "UTC", "2026-11-22 18:00", "call Sam"),
    ("remind me about the meeting on friday at 2", "UTC", "2026-11-27 14:00", "the meeting"),
    ("set a reminder for 6 pm to call mum", "UTC", "2026-11-22 18:00", "call mum"),
    ("set a reminder to call mum at 6 pm", "UTC", "2026-11-22 18:00", "call mum"),
    ("remind me at 6.30pm to cook", "UTC", "2026-11-22 18:30", "cook"),
    ("remind me that the bins go out at 7 pm", "UTC", "2026-11-22 19:00", "the bins go out"),
    ("remind me to look at the oven at 5", "UTC", "2026-11-22 17:00", "look at the oven"),
    ("remind me at 8 to check the oven", "America/New_York", "2026-11-22 20:00", "check the oven"),
    ("set a reminder for 6 pm", "UTC", "2026-11-22 18:00", None),
]


@pytest.mark.parametrize(("text", "zone", "expected", "label"), REMINDERS)
def test_reminder_phrasings(text: str, zone: str, expected: str, label: str | None) -> None:
    item = new_item(text, timezone=zone)
    assert item.kind == "reminder"
    assert local(item.due_at, zone) == expected
    assert item.label == label


# --- questions, cancelling, listing --------------------------------------------------------

QUERIES = [
    ("how long is left on my timer", TimeLeft(None)),
    ("How much time is left on the pasta timer?", TimeLeft("pasta")),
    ("how much time is left", TimeLeft(None)),
    ("how long until my timer goes off", TimeLeft(None)),
    ("how much longer on the egg timer", TimeLeft("egg")),
    ("check my timer", TimeLeft(None)),
    ("time left on my timer", TimeLeft(None)),
    ("how is my timer doing", TimeLeft(None)),
    ("cancel the pasta timer", CancelItems("timer", "pasta")),
    ("cancel my alarm", CancelItems("alarm")),
    ("stop the timer", CancelItems("timer")),
    ("turn off my alarm", CancelItems("alarm")),
    ("delete the 5 minute timer", CancelItems("timer", "5 minute")),
    ("cancel my 7 am alarm", CancelItems("alarm", "7 am")),
    ("cancel the alarm for 7 am", CancelItems("alarm", "7 am")),
    ("cancel all timers", CancelItems("timer", None, everything=True)),
    ("cancel all my alarms", CancelItems("alarm", None, everything=True)),
    ("cancel my reminders", CancelItems("reminder", None, everything=True)),
    ("cancel the reminder to call mum", CancelItems("reminder", "call mum")),
    ("what are my reminders", ListItems("reminder")),
    ("What are my reminders?", ListItems("reminder")),
    ("what timers do i have", ListItems("timer")),
    ("which alarms are set", ListItems("alarm")),
    ("list my timers", ListItems("timer")),
    ("show me my reminders", ListItems("reminder")),
    ("do i have any alarms", ListItems("alarm")),
    ("are there any timers running", ListItems("timer")),
    ("when is my alarm", ListItems("alarm")),
]


@pytest.mark.parametrize(("text", "intent"), QUERIES)
def test_questions_cancelling_and_listing(text: str, intent: object) -> None:
    assert request(text).intent == intent


ASKS_BACK = [
    ("set a timer", "For how long?"),
    ("remind me to call mum", "When should I remind you?"),
    ("set an alarm", "What time should I set the alarm for?"),
    ("wake me up tomorrow", "What time should I wake you?"),
    ("set a timer for 0 seconds", "no time at all"),
    ("set a timer for 9 days", "up to a week"),
    ("remind me today at 9 am to stretch", "9 AM today has already passed."),
]


@pytest.mark.parametrize(("text", "reply"), ASKS_BACK)
def test_what_is_missing_is_asked_for(text: str, reply: str) -> None:
    decision = route(text, context(timezone="Europe/London"))
    assert isinstance(decision, LocalReply) and reply in decision.text
    assert decision.family in ("timer", "alarm", "reminder")


NOT_TIMERS = [
    "what time is it",
    "who invented the alarm clock",
    "how do egg timers work",
    "tell me about reminders in the bible",
    "what is 7 times 8",
    "stop",
    "set the table",
    "remind me what the capital of Peru is",
    "remind me who wrote Dracula",
    "wake me up inside",
]


@pytest.mark.parametrize("text", NOT_TIMERS)
def test_other_commands_are_not_timers(text: str) -> None:
    decision = route(text, context())
    assert not isinstance(decision, TimerRequest), decision
    assert isinstance(decision, LocalReply | NeedsAI)


# --- daylight saving and time zones ---------------------------------------------------------

DST = [
    # Paris springs forward on 29 March 2026 at 2:00 (to 3:00): 2:30 does not exist.
    (
        "set an alarm for 2:30 am",
        "Europe/Paris",
        datetime(2026, 3, 28, 20, 0, tzinfo=UTC),
        "2026-03-29 03:30",
        "clocks go forward, so I made it 3:30 AM",
    ),
    (
        "remind me tomorrow at 2 30 am to check the bread",
        "Europe/Paris",
        datetime(2026, 3, 28, 20, 0, tzinfo=UTC),
        "2026-03-29 03:30",
        "doesn't exist",
    ),
    # New York springs forward on 8 March 2026 at 2:00.
    (
        "wake me up at 2 15",
        "America/New_York",
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
        "2026-03-08 03:15",
        "clocks go forward",
    ),
    # Paris falls back on 25 October 2026 at 3:00 (to 2:00): 2:30 happens twice.
    (
        "set an alarm for 2:30 am",
        "Europe/Paris",
        datetime(2026, 10, 24, 20, 0, tzinfo=UTC),
        "2026-10-25 02:30",
        "happens twice",
    ),
    # A wall-clock time across a change keeps its wall-clock meaning (7 AM is 7 AM)...
    (
        "wake me up at 7",
        "Europe/London",
        datetime(2026, 3, 28, 22, 0, tzinfo=UTC),
        "2026-03-29 07:00",
        None,
    ),
    # ...and a duration is real time: 8 hours from 22:00 CEST is 5:00 CET.
    (
        "remind me in 8 hours to sleep",
        "Europe/Paris",
        datetime(2026, 10, 24, 20, 0, tzinfo=UTC),
        "2026-10-25 05:00",
        None,
    ),
    # Southern hemisphere: Sydney falls back on 5 April 2026 at 3:00 (to 2:00).
    (
        "set an alarm for 2:30 am",
        "Australia/Sydney",
        datetime(2026, 4, 4, 10, 0, tzinfo=UTC),
        "2026-04-05 02:30",
        "happens twice",
    ),
    # A half-hour zone with no daylight saving.
    (
        "set an alarm for 6 am",
        "Asia/Kolkata",
        datetime(2026, 11, 22, 15, 5, tzinfo=UTC),
        "2026-11-23 06:00",
        None,
    ),
]


@pytest.mark.parametrize(("text", "zone", "now", "expected", "note"), DST)
def test_daylight_saving_edges(
    text: str, zone: str, now: datetime, expected: str, note: str | None
) -> None:
    item = new_item(text, timezone=zone, now=now)
    assert local(item.due_at, zone) == expected
    if note is None:
        assert item.note is None
    else:
        assert item.note is not None and note in item.note
        assert note.split(",")[0] in set_reply(item, now, ZoneInfo(zone))


def test_the_repeated_hour_takes_its_first_occurrence() -> None:
    zone = ZoneInfo("Europe/Paris")
    first = local_instant(datetime(2026, 10, 25, 2, 30), zone)
    assert first.at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 2:30 CEST (+02:00)
    skipped = local_instant(datetime(2026, 3, 29, 2, 30), zone)
    assert skipped.at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 3:30 CEST
    assert local_instant(datetime(2026, 7, 1, 9, 0), zone).note is None


# --- what Ballsy says ------------------------------------------------------------------------

LONDON = ZoneInfo("Europe/London")
NOW = FIXED_NOW


def view(kind: str, minutes: int, label: str | None = None, seconds: int | None = None) -> ItemView:
    return ItemView(
        id=minutes,
        kind=kind,  # type: ignore[arg-type]
        due_at=NOW + timedelta(minutes=minutes),
        label=label,
        seconds=seconds,
    )


def test_confirmations() -> None:
    replies = {
        text: set_reply(new_item(text, timezone="Europe/London"), NOW, LONDON)
        for text in (
            "set a pasta timer for 8 minutes",
            "set a timer for 90 seconds",
            "wake me up at 7",
            "remind me to take my pills at 6 pm",
            "remind me on friday at 2 to call the bank",
        )
    }
    assert replies == {
        "set a pasta timer for 8 minutes": "Pasta timer set for 8 minutes.",
        "set a timer for 90 seconds": "Timer set for 1 minute and 30 seconds.",
        "wake me up at 7": "Alarm set for 7 AM tomorrow.",
        "remind me to take my pills at 6 pm": "OK, I'll remind you at 6 PM today: take your pills.",
        "remind me on friday at 2 to call the bank": (
            "OK, I'll remind you at 2 PM on Friday: call the bank."
        ),
    }


def test_what_is_said_when_due() -> None:
    pasta = view("timer", 0, "pasta", 480)
    plain = view("timer", 0, None, 300)
    alarm = view("alarm", 55)
    reminder = view("reminder", 55, "call my sister")
    assert fired_text(pasta, zone=LONDON, late=False) == "Time's up! Your pasta timer is done."
    assert fired_text(plain, zone=LONDON, late=False) == "Time's up! Your 5 minute timer is done."
    assert fired_text(alarm, zone=LONDON, late=False) == "It's 4 PM. This is your alarm."
    assert fired_text(reminder, zone=LONDON, late=False) == "Reminder: call your sister."
    assert fired_text(reminder, zone=LONDON, late=True) == (
        "While you were away, a reminder for 4 PM: call your sister."
    )
    assert fired_text(plain, zone=LONDON, late=True) == (
        "While you were away, your 5 minute timer finished at 3:05 PM."
    )


def test_lists_time_left_and_cancelling() -> None:
    items = [view("timer", 3, "pasta", 480), view("timer", 1, None, 300), view("alarm", 60 * 16)]
    assert list_reply(items, "timer", NOW, LONDON) == (
        "You have 2 timers: pasta timer, 3 minutes left; and 5 minute timer, 1 minute left."
    )
    assert list_reply(items, "reminder", NOW, LONDON) == "You have no reminders."
    assert list_reply([], None, NOW, LONDON) == "You have no timers, alarms or reminders."
    assert list_reply(items, "alarm", NOW, LONDON) == "You have 1 alarm: 7:05 AM tomorrow."
    assert time_left_reply(items, "pasta", NOW, LONDON) == "3 minutes left on your pasta timer."
    assert time_left_reply(items, "soup", NOW, LONDON) == "You have no soup timer."
    assert time_left_reply([], None, NOW, LONDON) == "You have no timers running."
    assert time_left_reply(items, None, NOW, LONDON).startswith("You have 2 timers")
    assert cancel_reply([items[0]], CancelItems("timer", "pasta"), NOW, LONDON) == (
        "Cancelled your pasta timer."
    )
    assert cancel_reply(items[:2], CancelItems("timer", None, True), NOW, LONDON) == (
        "Cancelled 2 timers."
    )
    assert cancel_reply([], CancelItems("timer", "soup"), NOW, LONDON) == (
        "You have no timer matching 'soup'."
    )
    assert "Which one should I cancel?" in which_reply(items[:2], NOW, LONDON)


def test_select_by_name_length_or_time() -> None:
    items = [
        view("timer", 3, "pasta", 480),
        view("timer", 1, None, 300),
        view("alarm", 60 * 16),  # 7:05 AM tomorrow in London
        view("reminder", 30, "call Mum"),
    ]
    assert [i.id for i in select(items, "timer", "pasta")] == [3]
    assert [i.id for i in select(items, "timer", "5 minute")] == [1]
    assert [i.id for i in select(items, "alarm", "7 05 am", LONDON)] == [60 * 16]
    assert [i.id for i in select(items, "alarm", "8 am", LONDON)] == []
    assert [i.id for i in select(items, "reminder", "call mum")] == [30]
    assert len(select(items, None, None)) == 4


def test_duration_reader_and_speech() -> None:
    assert read_duration(words_of("1 hour 30 minutes and 10 seconds later")) == (5410, 7)
    assert read_duration(words_of("minutes")) is None
    assert spoken_duration(90061) == "1 day, 1 hour, 1 minute and 1 second"
    assert addressed("take my pills and call me") == "take your pills and call you"
