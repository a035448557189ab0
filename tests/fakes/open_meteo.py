"""A fake Open-Meteo (forecast + geocoding) on 127.0.0.1, port 0, in its own thread.

    with FakeOpenMeteo() as fake:
        fake.places["Lyon"] = (45.75, 4.85, "France")
        fake.mode = "ok" | "slow" | "error" | "malformed"
        options = WeatherOptions(forecast_url=fake.forecast_url, geocoding_url=fake.geocoding_url)

The forecast is scripted per test in `fake.daily` (by ISO date); `fake.requests` records
each request's path and query.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


class FakeOpenMeteo:
    def __init__(self) -> None:
        self.places: dict[str, tuple[float, float, str]] = {"Lyon": (45.75, 4.85, "France")}
        self.daily: dict[str, dict[str, Any]] = {}
        self.current: dict[str, Any] = {"temperature_2m": 14.2, "weather_code": 2}
        self.timezone = "Europe/Paris"
        self.mode = "ok"
        self.slow_event = threading.Event()  # "slow" answers only when set (or stopped)
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                fake.requests.append((parts.path, query))
                if fake.mode == "slow":
                    fake.slow_event.wait(10)
                if fake.mode == "error":
                    self._send(503, b'{"error": true, "reason": "maintenance"}')
                elif fake.mode == "malformed":
                    self._send(200, b'{"daily": {"time": ["2026-12-03"]')
                elif parts.path == "/v1/search":
                    self._send(200, json.dumps(fake.geocode(query["name"][0])).encode())
                elif parts.path == "/v1/forecast":
                    self._send(200, json.dumps(fake.forecast()).encode())
                else:
                    self._send(404, b"{}")

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def forecast_url(self) -> str:
        return f"{self.origin}/v1/forecast"

    @property
    def geocoding_url(self) -> str:
        return f"{self.origin}/v1/search"

    def geocode(self, name: str) -> dict[str, Any]:
        for known, (lat, lon, country) in self.places.items():
            if known.casefold() == name.casefold():
                return {
                    "results": [
                        {"name": known, "latitude": lat, "longitude": lon, "country": country}
                    ],
                    "generationtime_ms": 0.5,
                }
        return {"generationtime_ms": 0.5}  # Open-Meteo leaves out "results" when none match

    def forecast(self) -> dict[str, Any]:
        dates = sorted(self.daily)
        return {
            "timezone": self.timezone,
            "current": self.current,
            "daily": {
                "time": dates,
                **{
                    key: [self.daily[d][key] for d in dates]
                    for key in (
                        "weather_code",
                        "temperature_2m_max",
                        "temperature_2m_min",
                        "precipitation_probability_max",
                        "precipitation_sum",
                    )
                },
            },
        }

    def day(self, date: str, code: int, low: float, high: float, rain: int, mm: float) -> None:
        self.daily[date] = {
            "weather_code": code,
            "temperature_2m_min": low,
            "temperature_2m_max": high,
            "precipitation_probability_max": rain,
            "precipitation_sum": mm,
        }

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.slow_event.set()
        self._server.shutdown()
        self._server.server_close()
