"""Weather questions understood locally: the place, the day and what is asked."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ballsy.commands.base import CommandContext, NeedsTool
from ballsy.commands.router import route

CTX = CommandContext(now=datetime(2026, 12, 3, 8, tzinfo=UTC), timezone=ZoneInfo("Europe/Paris"))


@pytest.mark.parametrize(
    ("text", "arguments"),
    [
        ("what's the weather", {"day": "today", "about": "general"}),
        ("What's the weather like?", {"day": "today", "about": "general"}),
        ("Will it rain tomorrow in Lyon?", {"day": "tomorrow", "about": "rain", "place": "Lyon"}),
        ("will it rain in Lyon tomorrow", {"day": "tomorrow", "about": "rain", "place": "Lyon"}),
        (
            "what's the temperature in Paris",
            {"day": "today", "about": "temperature", "place": "Paris"},
        ),
        ("weather this weekend", {"day": "weekend", "about": "general"}),
        ("do I need an umbrella", {"day": "today", "about": "rain"}),
        ("is it going to snow tonight", {"day": "tonight", "about": "snow"}),
        ("how cold is it outside", {"day": "today", "about": "temperature"}),
        ("forecast for tomorrow", {"day": "tomorrow", "about": "general"}),
        (
            "what is the weather like in New York on Friday",
            {"day": "friday", "about": "general", "place": "New York"},
        ),
        ("Weather in São Paulo", {"day": "today", "about": "general", "place": "São Paulo"}),
        ("what's the weather here", {"day": "today", "about": "general"}),
    ],
)
def test_weather_questions(text: str, arguments: dict[str, str]) -> None:
    assert route(text, CTX) == NeedsTool("weather", arguments, "weather")


@pytest.mark.parametrize(
    "text",
    [
        "tell me a story about the rain",
        "what is it",
        "who is it",
        "write a poem about the weather in spring and love",
        "what is rain",
        "singing in the rain on youtube",
    ],
)
def test_not_weather_questions(text: str) -> None:
    assert not isinstance(route(text, CTX), NeedsTool)
