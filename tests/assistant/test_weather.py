"""The weather tool against a local fake Open-Meteo: answers, unknown places, the
service timing out, failing (5xx) or answering garbage, the cache, and no place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ballsy.assistant.tools import ToolContext
from ballsy.assistant.weather import NO_PLACE, UNREACHABLE, weather_tools
from ballsy.providers.weather.open_meteo import OpenMeteo, WeatherOptions
from tests.fakes.open_meteo import FakeOpenMeteo

# Thursday 3 December 2026, 09:00 in Paris.
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def fake() -> Iterator[FakeOpenMeteo]:
    with FakeOpenMeteo() as server:
        server.day("2026-12-03", 2, 9.0, 15.4, 10, 0.0)  # Thursday
        server.day("2026-12-04", 63, 8.0, 12.0, 85, 6.5)  # Friday: rain
        server.day("2026-12-05", 0, 3.0, 10.0, 0, 0.0)  # Saturday
        server.day("2026-12-06", 73, -2.0, 1.0, 70, 4.0)  # Sunday: snow
        yield server


@pytest.fixture
async def service(fake: FakeOpenMeteo) -> AsyncIterator[OpenMeteo]:
    weather = OpenMeteo(
        WeatherOptions(
            forecast_url=fake.forecast_url, geocoding_url=fake.geocoding_url, timeout_s=1.0
        )
    )
    yield weather
    await weather.aclose()


def ctx(place: str | None = None, location: tuple[float, float] | None = None) -> ToolContext:
    return ToolContext(
        user_id=None, now=NOW, zone=PARIS, turn_id="t", place=place, location=location
    )


async def ask(service: OpenMeteo, context: ToolContext, **arguments: str) -> str:
    (tool,) = weather_tools(service)
    return (await tool.handler(context, dict(arguments))).text


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"place": "Lyon", "day": "today", "about": "general"},
            "Right now in Lyon it's 14 degrees with partly cloudy skies. "
            "Today: partly cloudy skies, 9 degrees to 15 degrees.",
        ),
        (
            {"place": "lyon", "day": "tomorrow", "about": "rain"},
            "Yes, rain is likely in Lyon tomorrow: rain, 8 degrees to 12 degrees, "
            "85% chance of rain.",
        ),
        (
            {"place": "Lyon", "day": "saturday", "about": "rain"},
            "No, it should stay dry in Lyon on Saturday: clear skies, 3 degrees to "
            "10 degrees, 0% chance of rain.",
        ),
        (
            {"place": "Lyon", "day": "weekend", "about": "general"},
            "This weekend in Lyon: Saturday, clear skies, 3 degrees to 10 degrees; "
            "Sunday, snow, -2 degrees to 1 degree, 70% chance of rain.",
        ),
        (
            {"place": "Lyon", "day": "sunday", "about": "snow"},
            "Yes, snow is expected in Lyon on Sunday: snow, -2 degrees to 1 degree, "
            "70% chance of rain.",
        ),
    ],
)
async def test_answers_by_day_and_question(
    service: OpenMeteo, arguments: dict[str, str], expected: str
) -> None:
    assert await ask(service, ctx(), **arguments) == expected


async def test_the_place_comes_from_settings_or_the_shared_location(
    service: OpenMeteo, fake: FakeOpenMeteo
) -> None:
    assert (await ask(service, ctx(place="Lyon"), day="tomorrow")).startswith(
        "Tomorrow in Lyon: rain"
    )
    shared = await ask(service, ctx(location=(48.85, 2.35)), day="tomorrow")
    assert shared.startswith("Tomorrow where you are: rain")
    forecast_query = fake.requests[-1][1]
    assert (forecast_query["latitude"], forecast_query["longitude"]) == (["48.8500"], ["2.3500"])


async def test_no_place_asks_for_one_and_offers_the_location(service: OpenMeteo) -> None:
    (tool,) = weather_tools(service)
    result = await tool.handler(ctx(), {})
    assert (result.text, result.action) == (NO_PLACE, "ask_location")


async def test_unknown_place_is_said_plainly(service: OpenMeteo) -> None:
    assert await ask(service, ctx(), place="Atlantis") == "I couldn't find a place called Atlantis."


async def test_answers_are_cached_per_place_and_day(
    service: OpenMeteo, fake: FakeOpenMeteo
) -> None:
    await ask(service, ctx(), place="Lyon")
    await ask(service, ctx(), place="Lyon", day="tomorrow", about="rain")
    assert len(fake.requests) == 2  # one geocoding, one forecast
    await ask(service, ctx(), place="Atlantis")
    await ask(service, ctx(), place="Atlantis")
    assert len(fake.requests) == 3  # unknown places are remembered too


@pytest.mark.parametrize("mode", ["slow", "error", "malformed"])
async def test_failures_become_a_clear_sentence(
    service: OpenMeteo, fake: FakeOpenMeteo, mode: str
) -> None:
    fake.mode = mode
    assert await ask(service, ctx(), place="Lyon") == UNREACHABLE


async def test_an_unreachable_service_is_a_clear_sentence() -> None:
    closed = OpenMeteo(
        WeatherOptions(
            forecast_url="http://127.0.0.1:9/v1/forecast",
            geocoding_url="http://127.0.0.1:9/v1/search",
            timeout_s=1.0,
        )
    )
    try:
        assert await ask(closed, ctx(), place="Lyon") == UNREACHABLE
    finally:
        await closed.aclose()
