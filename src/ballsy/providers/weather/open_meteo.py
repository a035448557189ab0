"""Open-Meteo's forecast and geocoding APIs (free, no key), async, bounded and cached.

    geocode("Lyon")            -> Place(name, country, latitude, longitude) or None
    forecast(latitude, longitude) -> Forecast: now, and one entry per local day

Both base URLs are settings, so tests point them at a local fake. Every call has a
timeout; a failure (timeout, network, 5xx, a body that is not the expected JSON)
raises `WeatherUnavailable`, which the caller turns into a spoken sentence. Answers
are cached for a few minutes in a bounded LRU: places by name, forecasts by
coordinates and the day they were fetched, so repeated questions cost no request.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

FORECAST_URL = "https://api.open-meteo.com/v1/forecast"
GEOCODING_URL = "https://geocoding-api.open-meteo.com/v1/search"
MAX_BODY_BYTES = 256_000


@dataclass(frozen=True, slots=True)
class WeatherOptions:
    forecast_url: str = FORECAST_URL
    geocoding_url: str = GEOCODING_URL
    timeout_s: float = 4.0
    cache_minutes: float = 10.0
    cache_entries: int = 512


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    country: str | None
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Day:
    date: str  # ISO date, local to the place
    code: int  # WMO weather code
    high_c: float
    low_c: float
    rain_chance: int | None  # percent
    rain_mm: float | None


@dataclass(frozen=True, slots=True)
class Forecast:
    timezone: str  # the place's IANA zone
    now_c: float | None
    now_code: int | None
    days: tuple[Day, ...]


class WeatherUnavailable(Exception):
    """The weather service could not answer; `str()` is safe to log."""


class _Cache:
    """A small LRU with expiry."""

    def __init__(self, entries: int, ttl_s: float) -> None:
        self.entries = entries
        self.ttl_s = ttl_s
        self.items: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> Any:
        item = self.items.get(key)
        if item is None or item[0] < time.monotonic():
            self.items.pop(key, None)
            return None
        self.items.move_to_end(key)
        return item[1]

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        self.items[key] = (time.monotonic() + self.ttl_s, value)
        self.items.move_to_end(key)
        while len(self.items) > self.entries:
            self.items.popitem(last=False)


_MISSING = object()


class OpenMeteo:
    def __init__(self, options: WeatherOptions | None = None) -> None:
        self.options = options or WeatherOptions()
        # Made on the first question: httpx stays off the server's start path.
        self._http: httpx.AsyncClient | None = None
        self._cache = _Cache(self.options.cache_entries, self.options.cache_minutes * 60)
        self.requests = 0  # made to the service (for tests and metrics)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.options.timeout_s),
                headers={"User-Agent": "Ballsy voice assistant"},
            )
        return self._http

    async def geocode(self, name: str) -> Place | None:
        """The best match for a place name, or None when the service knows none."""
        query = " ".join(name.split())[:100]
        key = ("place", query.casefold())
        cached = self._cache.get(key)
        if cached is not None:
            return None if cached is _MISSING else cached
        body = await self._get(
            self.options.geocoding_url, {"name": query, "count": 1, "format": "json"}
        )
        results = body.get("results") or []
        if not isinstance(results, list):
            raise WeatherUnavailable("geocoding answered malformed results")
        place: Place | None = None
        if results:
            first = results[0]
            try:
                place = Place(
                    name=str(first["name"]),
                    country=str(first["country"]) if first.get("country") else None,
                    latitude=float(first["latitude"]),
                    longitude=float(first["longitude"]),
                )
            except (KeyError, TypeError, ValueError):
                raise WeatherUnavailable("geocoding answered a malformed place") from None
        self._cache.put(key, place if place is not None else _MISSING)
        return place

    async def forecast(self, latitude: float, longitude: float, *, today: str) -> Forecast:
        """Now and the next seven local days; `today` (the asker's date) keys the cache."""
        key = ("forecast", round(latitude, 2), round(longitude, 2), today)
        cached = self._cache.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        body = await self._get(
            self.options.forecast_url,
            {
                "latitude": f"{latitude:.4f}",
                "longitude": f"{longitude:.4f}",
                "current": "temperature_2m,weather_code",
                "daily": "weather_code,temperature_2m_max,temperature_2m_min,"
                "precipitation_probability_max,precipitation_sum",
                "timezone": "auto",
                "forecast_days": 7,
            },
        )
        forecast = _parse_forecast(body)
        self._cache.put(key, forecast)
        return forecast

    async def _get(self, url: str, params: dict[str, Any]) -> dict[str, Any]:
        import httpx

        self.requests += 1
        try:
            response = await self._client().get(url, params=params)
        except httpx.TimeoutException:
            raise WeatherUnavailable("the weather service timed out") from None
        except httpx.HTTPError as exc:
            raise WeatherUnavailable(
                f"cannot reach the weather service ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise WeatherUnavailable(f"the weather service answered HTTP {response.status_code}")
        if len(response.content) > MAX_BODY_BYTES:
            raise WeatherUnavailable("the weather service answered too much")
        try:
            body = response.json()
        except ValueError:
            raise WeatherUnavailable(
                "the weather service answered something that is not JSON"
            ) from None
        if not isinstance(body, dict):
            raise WeatherUnavailable("the weather service answered something unexpected")
        return body


def _parse_forecast(body: dict[str, Any]) -> Forecast:
    try:
        daily = body["daily"]
        dates = daily["time"]
        codes = daily["weather_code"]
        highs = daily["temperature_2m_max"]
        lows = daily["temperature_2m_min"]
        chances = daily.get("precipitation_probability_max") or [None] * len(dates)
        sums = daily.get("precipitation_sum") or [None] * len(dates)
        days = tuple(
            Day(
                date=str(dates[i]),
                code=int(codes[i]),
                high_c=float(highs[i]),
                low_c=float(lows[i]),
                rain_chance=None if chances[i] is None else int(chances[i]),
                rain_mm=None if sums[i] is None else float(sums[i]),
            )
            for i in range(len(dates))
        )
        current = body.get("current") or {}
        now_c = current.get("temperature_2m")
        now_code = current.get("weather_code")
        return Forecast(
            timezone=str(body.get("timezone") or "UTC"),
            now_c=None if now_c is None else float(now_c),
            now_code=None if now_code is None else int(now_code),
            days=days,
        )
    except (KeyError, TypeError, ValueError, IndexError):
        raise WeatherUnavailable("the weather service answered a malformed forecast") from None
