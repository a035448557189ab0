"""The `weather` tool: a forecast from Open-Meteo, said in one or two plain sentences.

Used both by the local weather command ("will it rain tomorrow in Lyon", routed by
commands/weather.py) and by the AI through function calling. The place is the one
asked about, else the server's configured place, else the coordinates the browser
shared with the user's consent; with none, the answer asks for a place and the page
may offer to share its location (action `ask_location`).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from ballsy.assistant.identity import parse_zone
from ballsy.assistant.tools import Tool, ToolContext, ToolResult
from ballsy.commands.weather import ABOUT, DAYS, WEEKDAYS
from ballsy.providers.weather.open_meteo import Day, Forecast, OpenMeteo, WeatherUnavailable

log = logging.getLogger("ballsy.weather")

UNREACHABLE = "I can't reach the weather service right now. Please try again in a moment."
NO_PLACE = (
    "Which place should I check? Say, for example, \u201cweather in Lyon\u201d, "
    "or let me use your location."
)

# WMO weather interpretation codes, as Open-Meteo documents them.
_CODES = {
    0: "clear skies",
    1: "mostly clear skies",
    2: "partly cloudy skies",
    3: "overcast skies",
    45: "fog",
    48: "freezing fog",
    51: "light drizzle",
    53: "drizzle",
    55: "heavy drizzle",
    56: "freezing drizzle",
    57: "freezing drizzle",
    61: "light rain",
    63: "rain",
    65: "heavy rain",
    66: "freezing rain",
    67: "freezing rain",
    71: "light snow",
    73: "snow",
    75: "heavy snow",
    77: "snow grains",
    80: "rain showers",
    81: "rain showers",
    82: "violent rain showers",
    85: "snow showers",
    86: "heavy snow showers",
    95: "thunderstorms",
    96: "thunderstorms with hail",
    99: "thunderstorms with hail",
}
_SNOW_CODES = frozenset({71, 73, 75, 77, 85, 86})


def weather_tools(service: OpenMeteo) -> list[Tool]:
    async def handler(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        return await answer(service, ctx, arguments)

    return [
        Tool(
            name="weather",
            description=(
                "The weather forecast for a place (now, today, tomorrow, tonight, the "
                "weekend or a weekday in the next week). Leave out the place to use the "
                "user's own."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "place": {"type": "string", "description": "a city or town, e.g. Lyon"},
                    "day": {"type": "string", "enum": list(DAYS)},
                    "about": {"type": "string", "enum": list(ABOUT)},
                },
            },
            handler=handler,
        )
    ]


async def answer(service: OpenMeteo, ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    day = str(arguments.get("day") or "today").lower()
    about = str(arguments.get("about") or "general").lower()
    if day not in DAYS:
        day = "today"
    if about not in ABOUT:
        about = "general"
    asked = arguments.get("place")
    place_name = str(asked).strip()[:100] if isinstance(asked, str) and asked.strip() else None
    place_name = place_name or ctx.place
    try:
        if place_name:
            place = await service.geocode(place_name)
            if place is None:
                return ToolResult(f"I couldn't find a place called {place_name}.")
            latitude, longitude, label = place.latitude, place.longitude, place.name
        elif ctx.location is not None:
            latitude, longitude = ctx.location
            label = None
        else:
            return ToolResult(NO_PLACE, action="ask_location")
        today = ctx.now.astimezone(ctx.zone).date().isoformat()
        forecast = await service.forecast(latitude, longitude, today=today)
    except WeatherUnavailable as exc:
        log.warning("weather unavailable: %s", exc)
        return ToolResult(UNREACHABLE)
    text = describe(forecast, day=day, about=about, place=label, now=ctx.now)
    return ToolResult(text, data={"place": label, "day": day})


def describe(forecast: Forecast, *, day: str, about: str, place: str | None, now: datetime) -> str:
    """One or two sentences for the question; temperatures in degrees Celsius."""
    where = f"in {place}" if place else "where you are"
    zone = parse_zone(forecast.timezone)
    local_today = now.astimezone(zone).date() if zone else now.date()
    days = _pick(forecast.days, day, local_today)
    if not days:
        return f"I only have the forecast for the next week {where}."
    when = _when(day, days[0], local_today)
    if day == "today" and about in ("general", "temperature") and forecast.now_c is not None:
        current = f"Right now {where} it's {_deg(forecast.now_c)}"
        if about == "general" and forecast.now_code is not None:
            current += f" with {_CODES.get(forecast.now_code, 'mixed weather')}"
        return f"{current}. {_day_sentence(days[0], 'Today')}"
    if about in ("rain", "snow"):
        return " ".join(_precipitation(d, about, where, _when(day, d, local_today)) for d in days)
    if len(days) == 1:
        return f"{when.capitalize()} {where}: {_summary(days[0])}."
    parts = [f"{_weekday(d)}, {_summary(d)}" for d in days]
    return f"{when.capitalize()} {where}: " + "; ".join(parts) + "."


def _pick(days: tuple[Day, ...], day: str, today: date) -> list[Day]:
    by_date = {d.date: d for d in days}

    def on(target: date) -> list[Day]:
        found = by_date.get(target.isoformat())
        return [found] if found else []

    if day in ("today", "tonight"):
        return on(today)
    if day == "tomorrow":
        return on(today + timedelta(days=1))
    if day == "weekend":
        if today.weekday() == 6:  # Sunday: what is left of it
            return on(today)
        saturday = today + timedelta(days=(5 - today.weekday()) % 7)
        return on(saturday) + on(saturday + timedelta(days=1))
    target = WEEKDAYS.index(day)
    return on(today + timedelta(days=(target - today.weekday()) % 7))


def _when(day: str, first: Day, today: date) -> str:
    if day in ("today", "tonight", "tomorrow"):
        return day
    if day == "weekend":
        return "this weekend"
    return f"on {_weekday(first)}"


def _weekday(d: Day) -> str:
    return date.fromisoformat(d.date).strftime("%A")


def _deg(value: float) -> str:
    rounded = round(value)
    return f"{rounded} degree{'' if abs(rounded) == 1 else 's'}"


def _summary(d: Day) -> str:
    text = f"{_CODES.get(d.code, 'mixed weather')}, {_deg(d.low_c)} to {_deg(d.high_c)}"
    if d.rain_chance is not None and d.rain_chance >= 30:
        text += f", {d.rain_chance}% chance of rain"
    return text


def _day_sentence(d: Day, label: str) -> str:
    return f"{label}: {_summary(d)}."


def _precipitation(d: Day, kind: str, where: str, when: str) -> str:
    chance = d.rain_chance
    snowy = d.code in _SNOW_CODES
    wet = (chance is not None and chance >= 50) or (d.rain_mm or 0) >= 1.0
    if kind == "snow":
        verdict = "Yes, snow is expected" if snowy else "No snow is expected"
    elif wet:
        verdict = "Yes, rain is likely"
    elif chance is not None and chance >= 20:
        verdict = "Maybe: a little rain is possible"
    else:
        verdict = "No, it should stay dry"
    detail = f"{_CODES.get(d.code, 'mixed weather')}, {_deg(d.low_c)} to {_deg(d.high_c)}"
    if chance is not None:
        detail += f", {chance}% chance of rain"
    return f"{verdict} {where} {when}: {detail}."
