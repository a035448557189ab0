"""Weather questions, understood locally: which place, which day, what about.

"what's the weather", "will it rain tomorrow in Lyon", "what's the temperature in
Paris", "weather this weekend", "do I need an umbrella" become `NeedsTool("weather",
{place, day, about})`; the weather tool fetches the forecast and phrases the answer.
Pure: no I/O. The day and the place are taken off the ends of the question first, so
the rest must be one of a few plain question shapes (a story "about the rain" is not
a weather question).
"""

from __future__ import annotations

import re

from ballsy.commands.base import CommandContext, NeedsTool
from ballsy.commands.normalize import Utterance, recover_case

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAYS = ("today", "tonight", "tomorrow", "weekend", *WEEKDAYS)
ABOUT = ("general", "rain", "snow", "temperature")

_DAY = re.compile(
    r"\s*\b(?:(?P<today>today|now|right now|at the moment|currently)|(?P<tonight>tonight)|"
    r"(?P<tomorrow>tomorrow)|(?P<weekend>(?:this|the|at the|on the|over the) weekend|weekend)|"
    r"(?:on |this |next )?(?P<weekday>" + "|".join(WEEKDAYS) + r"))\b"
)
_PLACE = re.compile(r"\s+(?:in|for|at|near)\s+(?P<place>[^\d\s][\w .'-]{0,80}?)\s*$")
_DANGLING = re.compile(r"\s+(?:for|on|in|at)$")
_HERE = re.compile(r"^(?:here|outside|my location|where i am|around here)$")

_GENERAL = re.compile(
    r"^(?:(?:what is|how is|what will|how will|what does|what is going to|tell me|give me|"
    r"check|show me|get)\s+)?(?:the\s+)?(?:weather|forecast|weather forecast)"
    r"(?:\s+(?:be|look|looks|going to be|gonna be|report))?(?:\s+like)?"
    r"(?:\s+(?:outside|here|around here))?$"
)
_WILL_IT = re.compile(
    r"^(?:will|is|does|is it going to|it is going to|will it be|is it going to be|do you think)?"
    r"\s*(?:it\s+)?(?:be\s+)?(?P<what>rain|raining|rainy|snow|snowing|snowy|sunny|cloudy|windy|"
    r"hot|cold|warm|nice|freezing)$"
)
_TEMPERATURE = re.compile(
    r"^(?:what is|how is|what will be|what is going to be)\s+(?:the\s+)?temperature"
    r"(?:\s+(?:outside|be|going to be))?$"
    r"|^how (?:hot|cold|warm) (?:is it|will it be|is it going to be)(?:\s+outside)?$"
)
_UMBRELLA = re.compile(r"^(?:do i|will i|should i)\s+(?:need|bring|take)\s+(?:an?\s+)?umbrella$")


def answer_weather(utterance: Utterance, ctx: CommandContext) -> NeedsTool | None:
    text = utterance.text
    if not any(word in text for word in ("weather", "forecast", "temperature", "umbrella", "it")):
        return None
    day = "today"
    found = _DAY.search(text)
    if found is not None:
        day = next(name for name, value in found.groupdict().items() if value)
        if day == "weekday":
            day = found.group("weekday")
        text = _DANGLING.sub("", (text[: found.start()] + text[found.end() :]).strip())
    place: str | None = None
    where = _PLACE.search(text)
    if where is not None:
        place = where.group("place").strip()
        text = text[: where.start()].strip()
        place = None if _HERE.match(place) else recover_case(utterance.raw, place)
    about = _about(text)
    if about is None:
        return None
    arguments: dict[str, str] = {"day": day, "about": about}
    if place:
        arguments["place"] = place
    return NeedsTool(tool="weather", arguments=arguments, family="weather")


def _about(core: str) -> str | None:
    if _GENERAL.match(core):
        return "general"
    if _TEMPERATURE.match(core):
        return "temperature"
    if _UMBRELLA.match(core):
        return "rain"
    will = _WILL_IT.match(core)
    if will is None:
        return None
    what = will.group("what")
    if what.startswith("rain"):
        return "rain"
    if what.startswith("snow"):
        return "snow"
    if what in ("hot", "cold", "warm", "freezing"):
        return "temperature"
    return "general"
