"""Timers, alarms and reminders, understood without the AI.

"set a timer for 5 minutes", "a 20 second timer", "set a pasta timer for 8 minutes",
"wake me up at 7", "set an alarm for 6:30 am", "remind me to call Mum at 6 pm",
"remind me in an hour to stretch", "remind me tomorrow at 9 to pay the rent",
"how long is left on my timer", "cancel the pasta timer", "cancel my alarm",
"what are my reminders".

Pure, like every command: `answer_timers` turns the words into a `TimerRequest` (what
to do, with the moment already resolved in the user's zone) or a `LocalReply` when
something is missing ("for how long?"); the assistant carries the request out against
the database (`assistant/timers.py`). The sentences Ballsy says about timers are built
here too, from plain `ItemView` values, so they are tested with the phrasings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ballsy.commands.base import CommandContext, LocalReply
from ballsy.commands.clock import spoken_time
from ballsy.commands.normalize import Utterance, recover_case
from ballsy.commands.when import (
    ClockTime,
    Moment,
    Purpose,
    When,
    WhenError,
    Words,
    read_clock,
    read_duration,
    read_when,
    resolve,
    spoken_duration,
    spoken_moment,
    words_of,
)

Kind = Literal["timer", "alarm", "reminder"]
KINDS: tuple[Kind, ...] = ("timer", "alarm", "reminder")

# Bounds: a timer runs at most a week; an alarm or reminder is set at most a year ahead.
MAX_TIMER_SECONDS = 7 * 86400
MAX_AHEAD_SECONDS = 366 * 86400
LABEL_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class SetItem:
    kind: Kind
    due_at: datetime  # aware, UTC
    label: str | None = None  # the timer's name, or what to be reminded of
    seconds: int | None = None  # a timer's length
    note: str | None = None  # said after the confirmation (a clock change moved the time)


@dataclass(frozen=True, slots=True)
class CancelItems:
    kind: Kind | None
    label: str | None = None
    everything: bool = False  # "cancel all my timers", "cancel my alarms"


@dataclass(frozen=True, slots=True)
class ListItems:
    kind: Kind | None


@dataclass(frozen=True, slots=True)
class TimeLeft:
    label: str | None = None


TimerIntent = SetItem | CancelItems | ListItems | TimeLeft


_UTC = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class TimerRequest:
    """A timer command for the assistant to carry out (it needs the user's stored items)."""

    intent: TimerIntent
    family: str
    zone: ZoneInfo = _UTC  # the user's, for saying times back


@dataclass(frozen=True, slots=True)
class ItemView:
    """One stored timer, alarm or reminder, as the sentences need it."""

    id: int
    kind: Kind
    due_at: datetime
    label: str | None = None
    seconds: int | None = None


# --- reading commands ----------------------------------------------------------------

_KEYWORDS = frozenset(
    {"timer", "timers", "alarm", "alarms", "reminder", "reminders", "remind", "wake", "countdown"}
)
# Words that lead into a request without naming anything: "please set me up a new timer".
_LEAD = frozenset(
    {
        "set",
        "start",
        "make",
        "create",
        "add",
        "put",
        "on",
        "give",
        "me",
        "i",
        "need",
        "want",
        "would",
        "like",
        "to",
        "can",
        "could",
        "you",
        "have",
        "up",
        "please",
        "new",
        "another",
        "a",
        "an",
        "the",
        "one",
        "my",
        "us",
    }
)
_LABEL_INTRO = frozenset({"for", "called", "named", "labelled", "labeled", "the", "my"})
_LABEL = r"[a-z0-9' ]{1,60}?"
_KIND_WORD = r"(?P<kind>timers?|alarms?|reminders?)"

_TIME_LEFT = tuple(
    re.compile(pattern)
    for pattern in (
        r"^(?:how (?:much )?(?:long|time|longer)|what is the time|what time is)"
        r"(?: is| are)?(?: there)?(?: left| remaining)"
        r"(?: (?:on|for|in) (?:my |the |our )?(?:(?P<label>" + _LABEL + r") )?timers?)?$",
        r"^how much longer(?: (?:on|for) (?:my |the )?(?:(?P<label>" + _LABEL + r") )?timers?)?$",
        r"^how long (?:until|till|before) (?:my |the )?(?:(?P<label>" + _LABEL + r") )?timer"
        r"(?: goes off| is done| finishes| ends| rings)?$",
        r"^(?:check|status of)(?: on)? (?:my |the )?(?:(?P<label>" + _LABEL + r") )?timers?$",
        r"^(?:what is )?(?:the )?time (?:left|remaining)(?: on)? (?:my |the )?"
        r"(?:(?P<label>" + _LABEL + r") )?timers?$",
        r"^how (?:is|are) (?:my |the )(?:(?P<label>" + _LABEL + r") )?timers?(?: doing| going)?$",
    )
)
_LIST = tuple(
    re.compile(pattern)
    for pattern in (
        r"^(?:what|which) (?:are )?(?:my |the )?"
        + _KIND_WORD
        + r"(?: do i have| have i (?:got|set)"
        r"| are (?:set|there|on|running|pending|active)| (?:i have )?(?:set|running|pending))?"
        r"(?: (?:right )?now| today)?$",
        r"^(?:list|show|show me|read|read me|tell me|give me|check)(?: all)?(?: of)? (?:my|the) "
        + _KIND_WORD
        + "$",
        r"^(?:do i have|have i got|are there|is there|have i set|did i set)(?: any)? "
        + _KIND_WORD
        + r"(?: set| running| pending| on| today)?$",
        r"^(?:what|when) is my (?P<kind>alarm|reminder|timer)(?: set for| for)?$",
        r"^my " + _KIND_WORD + "$",
    )
)
_CANCEL = re.compile(
    r"^(?:cancel|stop|delete|remove|clear|turn off|switch off|dismiss|disable|kill|end|"
    r"get rid of|forget)(?: (?P<all>all|every|both))?(?: of)?(?: (?:the|my|those|these|that|this))?"
    r"(?: (?P<label>" + _LABEL + r"))? " + _KIND_WORD + r"(?: (?:for|to|called|named|about|at|"
    r"set for|that is set for) (?P<label2>.{1,200}))?$"
)
_REMINDER_START = (
    ("remind", "me"),
    ("remind", "us"),
    ("set", "a", "reminder"),
    ("set", "reminder"),
    ("create", "a", "reminder"),
    ("add", "a", "reminder"),
    ("make", "a", "reminder"),
    ("new", "reminder"),
    ("reminder",),
)
_TASK_LEAD = ("to", "about", "that", "for")


def answer_timers(utterance: Utterance, ctx: CommandContext) -> TimerRequest | LocalReply | None:
    """A timer, alarm or reminder command, or None when this is not one."""
    words = words_of(utterance.text)
    text = " ".join(words)
    left = _time_left(text)  # "how much time is left" names no timer, and means one
    if left is not None:
        return replace(left, zone=ctx.timezone)
    if not _KEYWORDS.intersection(words):
        return None
    for reader in (_list, _cancel):
        found = reader(text)
        if found is not None:
            return replace(found, zone=ctx.timezone)
    for setter in (_alarm, _reminder, _timer):
        made = setter(words, utterance, ctx)
        if isinstance(made, TimerRequest):
            return replace(made, zone=ctx.timezone)
        if made is not None:
            return made
    return None


def _singular(kind: str) -> Kind:
    single = kind[:-1] if kind.endswith("s") else kind
    assert single in KINDS
    return single


def _time_left(text: str) -> TimerRequest | None:
    for pattern in _TIME_LEFT:
        match = pattern.match(text)
        if match is not None:
            return TimerRequest(TimeLeft(label=match.group("label")), family="timer")
    return None


def _list(text: str) -> TimerRequest | None:
    for pattern in _LIST:
        match = pattern.match(text)
        if match is not None:
            kind = _singular(match.group("kind"))
            return TimerRequest(ListItems(kind=kind), family=kind)
    return None


def _cancel(text: str) -> TimerRequest | None:
    match = _CANCEL.match(text)
    if match is None:
        return None
    kind_word = match.group("kind")
    kind = _singular(kind_word)
    label = match.group("label2") or match.group("label")
    everything = match.group("all") is not None or (kind_word.endswith("s") and label is None)
    return TimerRequest(CancelItems(kind=kind, label=label, everything=everything), family=kind)


def _strip_lead(words: Words) -> Words:
    i = 0
    while i < len(words) and words[i] in _LEAD:
        i += 1
    return words[i:]


def _label(words: Words, utterance: Utterance) -> str | None:
    while words and words[0] in _LABEL_INTRO:
        words = words[1:]
    if not words:
        return None
    label = recover_case(utterance.raw, " ".join(words))
    return label[:LABEL_MAX_CHARS]


def _moment_reply(
    purpose: Purpose, when: When, ctx: CommandContext, label: str | None
) -> TimerRequest | LocalReply:
    kind: Kind = "reminder" if purpose == "reminder" else "alarm"
    try:
        moment = resolve(when, ctx.now, ctx.timezone, purpose)
    except WhenError as exc:
        return LocalReply(text=str(exc), family=kind)
    if (moment.at - ctx.now).total_seconds() > MAX_AHEAD_SECONDS:
        return LocalReply(text=f"I can set {kind}s up to a year ahead.", family=kind)
    if when.seconds is not None and when.seconds < 1:
        return LocalReply(text="That is no time at all.", family=kind)
    return _set(kind, moment, label)


def _set(kind: Kind, moment: Moment, label: str | None, seconds: int | None = None) -> TimerRequest:
    item = SetItem(kind=kind, due_at=moment.at, label=label, seconds=seconds, note=moment.note)
    return TimerRequest(item, family=kind)


def _alarm(
    words: Words, utterance: Utterance, ctx: CommandContext
) -> TimerRequest | LocalReply | None:
    purpose: Purpose = "alarm"
    if words[:2] == ("wake", "me"):
        rest = words[3:] if words[2:3] == ("up",) else words[2:]
        purpose = "wake"
    elif "alarm" in words:
        at = words.index("alarm")
        if _strip_lead(words[:at]):
            return None
        rest = words[at + 1 :]
    else:
        return None
    if not rest:
        return LocalReply(
            text="What time should I set the alarm for? Say, for example, 'set an alarm for 7 AM'.",
            family="alarm",
        )
    when = read_when(rest, bare_clock=True)
    if when is None:
        return None
    if when.seconds is None and when.clock is None:
        return LocalReply(
            text="What time should I wake you? Say, for example, 'wake me up at 7 tomorrow'.",
            family="alarm",
        )
    return _moment_reply(purpose, when, ctx, None)


def _reminder(
    words: Words, utterance: Utterance, ctx: CommandContext
) -> TimerRequest | LocalReply | None:
    rest: Words | None = None
    for start in _REMINDER_START:
        if words[: len(start)] == start:
            rest = words[len(start) :]
            break
    if rest is None:
        return None
    asked = words[0] != "remind" or not rest or rest[0] in _TASK_LEAD
    when: When | None = None
    task: Words = rest
    # The moment is said first ("remind me tomorrow at 9 to …") or last ("… at 6 pm").
    for end in range(len(rest), 0, -1):
        when = read_when(rest[:end])
        if when is not None:
            task = rest[end:]
            break
    else:
        for begin in range(1, len(rest)):
            when = read_when(rest[begin:])
            if when is not None:
                task = rest[:begin]
                break
    if when is None:
        if not asked:  # "remind me what the capital of Peru is": a question for the AI
            return None
        return LocalReply(
            text="When should I remind you? Say, for example, 'remind me to call Mum at 6 PM'.",
            family="reminder",
        )
    while task and task[0] in _TASK_LEAD:
        task = task[1:]
    label = recover_case(utterance.raw, " ".join(task))[:LABEL_MAX_CHARS] if task else None
    return _moment_reply("reminder", when, ctx, label)


def _timer(
    words: Words, utterance: Utterance, ctx: CommandContext
) -> TimerRequest | LocalReply | None:
    if "timer" in words:
        at = words.index("timer")
    elif "countdown" in words:
        at = words.index("countdown")
    else:
        return None
    before, after = _strip_lead(words[:at]), words[at + 1 :]
    seconds: int | None = None
    label_words: Words = ()
    duration = read_duration(before)
    if duration is not None:
        seconds, used = duration
        label_words = before[used:]
        if label_words[:1] == ("long",):
            label_words = label_words[1:]
        if after:
            if after[0] not in ("for", "called", "named") or read_duration(after[1:]) is not None:
                return None
            label_words = label_words or after[1:]
    else:
        label_words = before
        if after[:1] in (("called",), ("named",)) and "for" in after:
            split = after.index("for")
            label_words, after = after[1:split], after[split:]
        if after[:1] in (("for",), ("of",), ("on",)):
            after = after[1:]
        duration = read_duration(after)
        if duration is None:
            if not after and words[0] in ("set", "start", "timer"):
                return LocalReply(
                    text="For how long? Say, for example, 'set a timer for 5 minutes'.",
                    family="timer",
                )
            return None
        seconds, used = duration
        tail = after[used:]
        if tail:
            if label_words or tail[0] not in ("for", "called", "named", "labelled", "labeled"):
                return None
            label_words = tail
    if seconds is None or seconds < 1:
        return LocalReply(text="That is no time at all.", family="timer")
    if seconds > MAX_TIMER_SECONDS:
        return LocalReply(text="A timer can run for up to a week.", family="timer")
    label = _label(label_words, utterance)
    moment = Moment(ctx.now + timedelta(seconds=seconds))
    return _set("timer", moment, label, seconds)


# --- what Ballsy says ----------------------------------------------------------------

_PRONOUNS = {
    "my": "your",
    "me": "you",
    "i": "you",
    "i'm": "you're",
    "myself": "yourself",
    "mine": "yours",
    "our": "your",
    "us": "you",
    "we": "you",
}


def addressed(text: str) -> str:
    """What the user said, said back to them: "take my pills" -> "take your pills"."""
    return " ".join(_PRONOUNS.get(word.casefold(), word) for word in text.split())


_PLURAL_UNIT = re.compile(r"\b(second|minute|hour|day)s\b")


def _timer_name(item: ItemView) -> str:
    """ "pasta timer", "5 minute timer"."""
    if item.label:
        return f"{item.label} timer"
    if item.seconds:
        length = _PLURAL_UNIT.sub(r"\1", spoken_duration(item.seconds))
        return f"{length} timer"
    return "timer"


def set_reply(item: SetItem, now: datetime, zone: ZoneInfo) -> str:
    """The confirmation of a new timer, alarm or reminder."""
    note = f" ({item.note}.)" if item.note else ""
    if item.kind == "timer":
        assert item.seconds is not None
        name = f"{item.label[:1].upper()}{item.label[1:]} timer" if item.label else "Timer"
        return f"{name} set for {spoken_duration(item.seconds)}."
    when = spoken_moment(item.due_at, now, zone)
    if item.kind == "alarm":
        return f"Alarm set for {when}.{note}"
    what = f": {addressed(item.label)}" if item.label else ""
    return f"OK, I'll remind you at {when}{what}.{note}"


def fired_text(item: ItemView, *, zone: ZoneInfo, late: bool) -> str:
    """What Ballsy says when an item is due (`late`: announced after it was due, when a
    page opened)."""
    local = spoken_time(item.due_at.astimezone(zone))
    if item.kind == "timer":
        name = _timer_name(item)
        if late:
            return f"While you were away, your {name} finished at {local}."
        return f"Time's up! Your {name} is done."
    if item.kind == "alarm":
        if late:
            return f"While you were away, your {local} alarm went off."
        return f"It's {local}. This is your alarm."
    what = addressed(item.label) if item.label else "you asked me to remind you"
    if late:
        return f"While you were away, a reminder for {local}: {what}."
    return f"Reminder: {what}."


def describe(item: ItemView, now: datetime, zone: ZoneInfo) -> str:
    """ "pasta timer, 3 minutes left", "7 AM tomorrow", "call Mum at 6 PM today"."""
    if item.kind == "timer":
        left = max(0, round((item.due_at - now).total_seconds()))
        return f"{_timer_name(item)}, {spoken_duration(left)} left"
    when = spoken_moment(item.due_at, now, zone)
    if item.kind == "alarm":
        return when
    return f"{addressed(item.label)} at {when}" if item.label else when


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{'; '.join(parts[:-1])}; and {parts[-1]}"


def _count(n: int, kind: str) -> str:
    return f"{n} {kind}{'' if n == 1 else 's'}"


def list_reply(items: Sequence[ItemView], kind: Kind | None, now: datetime, zone: ZoneInfo) -> str:
    """ "You have 2 reminders: call Mum at 6 PM today; and stretch at 4:05 PM today."."""
    shown = [item for item in items if kind is None or item.kind == kind]
    if not shown:
        return f"You have no {kind}s." if kind else "You have no timers, alarms or reminders."
    what = kind or ("item" if len({i.kind for i in shown}) > 1 else shown[0].kind)
    parts = [describe(item, now, zone) for item in shown]
    return f"You have {_count(len(shown), what)}: {_join(parts)}."


def time_left_reply(
    items: Sequence[ItemView], label: str | None, now: datetime, zone: ZoneInfo
) -> str:
    timers = select(items, "timer", label, zone)
    if not timers:
        return f"You have no {label} timer." if label else "You have no timers running."
    if len(timers) == 1:
        left = max(0, round((timers[0].due_at - now).total_seconds()))
        return f"{spoken_duration(left)} left on your {_timer_name(timers[0])}.".capitalize()
    return list_reply(timers, "timer", now, zone)


def cancel_reply(
    cancelled: Sequence[ItemView], intent: CancelItems, now: datetime, zone: ZoneInfo
) -> str:
    kind = intent.kind or "item"
    if not cancelled:
        if intent.label:
            return f"You have no {kind} matching '{intent.label}'."
        return f"You have no {kind}s to cancel."
    if len(cancelled) == 1:
        item = cancelled[0]
        if item.kind == "timer":
            return f"Cancelled your {_timer_name(item)}."
        return f"Cancelled your {item.kind} for {describe(item, now, zone)}."
    return f"Cancelled {_count(len(cancelled), kind)}."


def which_reply(candidates: Sequence[ItemView], now: datetime, zone: ZoneInfo) -> str:
    """Several items fit "cancel my alarm": ask which."""
    kind = candidates[0].kind
    parts = [describe(item, now, zone) for item in candidates]
    return (
        f"You have {_count(len(candidates), kind)}: {_join(parts)}. "
        f"Which one should I cancel? Or say 'cancel all my {kind}s'."
    )


# --- which items a command means -----------------------------------------------------


def select(
    items: Sequence[ItemView], kind: Kind | None, label: str | None, zone: ZoneInfo | None = None
) -> list[ItemView]:
    """The items of `kind` that `label` names: by name ("pasta"), by length ("5 minute"),
    or by time ("7 am"); all of them without a label."""
    pool = [item for item in items if kind is None or item.kind == kind]
    if not label:
        return pool
    wanted = set(words_of(label.casefold())) - {"the", "my", "a", "an"}
    by_name = [
        item for item in pool if item.label and wanted <= set(words_of(item.label.casefold()))
    ]
    if by_name:
        return by_name
    words = words_of(label.casefold())
    duration = read_duration(words)
    if duration is not None and duration[1] == len(words):
        return [item for item in pool if item.seconds == duration[0]]
    clock = read_clock(words)
    if clock is not None and clock[1] == len(words):
        time_of_day = clock[0]
        return [item for item in pool if _same_time(item, time_of_day, zone)]
    return []


def _same_time(item: ItemView, clock: ClockTime, zone: ZoneInfo | None) -> bool:
    local = item.due_at.astimezone(zone) if zone is not None else item.due_at
    hour, minute = clock.hour, clock.minute
    if clock.exact:
        return (local.hour, local.minute) == (hour, minute)
    return local.minute == minute and local.hour % 12 == hour % 12
