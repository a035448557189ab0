"""The weather without a place, in real Chromium: the reply asks for one and offers
"Use my location"; with the user's consent (the browser's permission granted) the page
shares its rounded position and asks again, and the forecast comes back for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.test_page import ASSISTANT, _open, _say
from tests.fakes.open_meteo import FakeOpenMeteo
from tests.servers import BallsyProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def weather() -> Iterator[FakeOpenMeteo]:
    with FakeOpenMeteo() as server:
        today = datetime.now(ZoneInfo(server.timezone)).date()
        for offset in range(7):
            server.day((today + timedelta(days=offset)).isoformat(), 3, 4.0, 9.0, 10, 0.0)
        yield server


def test_weather_asks_for_the_location_and_uses_it_once_shared(
    start_server: Callable[..., BallsyProcess],
    launch: Callable[..., Any],
    weather: FakeOpenMeteo,
) -> None:
    server = start_server(
        WEATHER_FORECAST_URL=weather.forecast_url, WEATHER_GEOCODING_URL=weather.geocoding_url
    )
    context = launch()
    # The user's consent, as the browser records it when they allow the prompt.
    context.grant_permissions(["geolocation"], origin=server.base_url)
    context.set_geolocation({"latitude": 45.7640, "longitude": 4.8357})
    page = _open(context, server.base_url)
    _say(page, "what's the weather")
    bubble = page.locator(ASSISTANT).last
    expect(bubble).to_contain_text("Which place should I check?", timeout=10_000)
    button = bubble.get_by_role("button", name="Use my location")
    expect(button).to_be_visible()
    assert weather.requests == []  # nothing is asked for before the user agrees
    button.click()
    expect(page.locator(ASSISTANT).last).to_contain_text(
        "Right now where you are it's 14 degrees", timeout=10_000
    )
    path, query = weather.requests[-1]
    assert path == "/v1/forecast"
    # Rounded to about a kilometre before it left the page.
    assert (query["latitude"], query["longitude"]) == (["45.7600"], ["4.8400"])

    # Remembered in this browser: after a reload the question is answered at once.
    page.reload()
    _open(context, server.base_url)
    _say(page, "will it rain tomorrow")
    expect(page.locator(ASSISTANT).last).to_contain_text(
        "No, it should stay dry where you are tomorrow", timeout=10_000
    )


def test_a_weather_place_set_on_this_device_answers_without_asking(
    start_server: Callable[..., BallsyProcess],
    launch: Callable[..., Any],
    weather: FakeOpenMeteo,
) -> None:
    server = start_server(
        WEATHER_FORECAST_URL=weather.forecast_url, WEATHER_GEOCODING_URL=weather.geocoding_url
    )
    page = _open(launch(), server.base_url)
    page.click("#open-settings")
    page.fill("#setting-weather-place", "Lyon")
    with page.expect_response(
        lambda r: r.request.method == "PUT" and "/api/settings/" in r.url, timeout=15_000
    ):
        page.click("#settings-save")
    _say(page, "what's the weather tomorrow")
    expect(page.locator(ASSISTANT).last).to_contain_text(
        "Tomorrow in Lyon: overcast skies", timeout=10_000
    )
    # Kept in this browser across a reload, and shown in the settings.
    page.reload()
    _open(page.context, server.base_url)
    page.click("#open-settings")
    expect(page.locator("#setting-weather-place")).to_have_value("Lyon")
