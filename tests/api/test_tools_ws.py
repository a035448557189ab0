"""Tools and streaming seen from the WebSocket, with the real google-genai SDK against
the fake Gemini server and the OpenAI-compatible provider against the fake OpenAI
server: a function-calling round trip with each, a lookup that streams before the
provider has finished, and the weather answered locally from a fake Open-Meteo."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from ballsy.api import ws_protocol as proto
from ballsy.errors import BadRequest
from tests.clients import new_user
from tests.fakes import FakeGemini, FakeOpenAI, Reply
from tests.fakes.open_meteo import FakeOpenMeteo

GEMINI_KEY = "AIzaSy-tools-test-key-0123456789"
GEMINI_MODEL = "gemini-2.5-flash-lite"
OPENAI_MODEL = "llama3.2:3b"


@pytest.fixture
def weather() -> Iterator[FakeOpenMeteo]:
    with FakeOpenMeteo() as server:
        # A week from today where the place is (the server's clock is the real one).
        today = datetime.now(ZoneInfo(server.timezone)).date()
        for offset in range(7):
            day = (today + timedelta(days=offset)).isoformat()
            server.day(day, 61, 8.0 + offset, 12.0 + offset, 80, 3.0)
        yield server


def _weather_settings(weather: FakeOpenMeteo) -> dict[str, Any]:
    return {
        "weather_forecast_url": weather.forecast_url,
        "weather_geocoding_url": weather.geocoding_url,
        "weather_timeout_seconds": 2.0,
    }


@pytest.fixture(params=["gemini", "openai"])
def provider(
    request: pytest.FixtureRequest,
    make_client: Callable[..., TestClient],
    weather: FakeOpenMeteo,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[TestClient, FakeGemini | FakeOpenAI]]:
    timeouts = {
        "ai_connect_timeout_seconds": 3.0,
        "ai_first_token_timeout_seconds": 5.0,
        "ai_total_timeout_seconds": 15.0,
    }
    if request.param == "gemini":
        with FakeGemini(api_key=GEMINI_KEY, known_models={GEMINI_MODEL}) as fake:
            monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
            client = make_client(
                gemini_api_key=GEMINI_KEY,
                gemini_model=GEMINI_MODEL,
                **timeouts,
                **_weather_settings(weather),
            )
            yield client, fake
    else:
        with FakeOpenAI(known_models={OPENAI_MODEL}) as openai_fake:
            client = make_client(
                ai_provider="openai",
                openai_base_url=openai_fake.base_url,
                openai_model=OPENAI_MODEL,
                **timeouts,
                **_weather_settings(weather),
            )
            yield client, openai_fake


class Socket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def turn(
        self, command: str, on_message: Callable[[dict[str, Any]], None] | None = None
    ) -> list[dict[str, Any]]:
        self.ws.send_json({"type": "command", "command": command})
        messages: list[dict[str, Any]] = []
        for _ in range(200):
            message = self.ws.receive_json()
            if on_message is not None:
                on_message(message)
            messages.append(message)
            if message["type"] in ("reply_end", "error"):
                return messages
        raise AssertionError("no reply_end")


def _socket(client: TestClient) -> Any:
    _user, auth = new_user(client)
    ws = client.websocket_connect("/ws/voice/tools")
    ws.__enter__()
    ws.send_json({"type": "hello", "token": auth["Authorization"].split()[1]})
    assert ws.receive_json()["type"] == "hello"
    return ws


def _end(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m for m in messages if m["type"] == "reply_end")


def _function_results(fake: FakeGemini | FakeOpenAI, body: dict[str, Any]) -> list[str]:
    """The tool results the model was sent back, in either provider's shape."""
    if isinstance(fake, FakeGemini):
        out = []
        for content in body["contents"]:
            for part in content["parts"]:
                response = part.get("functionResponse") or part.get("function_response")
                if response:
                    out.append(response["response"]["output"])
        return out
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


def test_function_calling_round_trip(
    provider: tuple[TestClient, FakeGemini | FakeOpenAI], weather: FakeOpenMeteo
) -> None:
    client, fake = provider
    fake.script(
        Reply(chunks=[], tool_calls=[("weather", {"place": "Lyon", "day": "tomorrow"})]),
        Reply(chunks=["Tomorrow in Lyon ", "expect light rain."]),
    )
    ws = _socket(client)
    try:
        messages = Socket(ws).turn("should I plan a picnic in Lyon")
    finally:
        ws.__exit__(None, None, None)
    deltas = [m["text"] for m in messages if m["type"] == "reply_delta"]
    assert deltas == ["Tomorrow in Lyon ", "expect light rain."]
    assert _end(messages)["response"] == "Tomorrow in Lyon expect light rain."
    first, second = (r.json() for r in fake.requests)
    assert "tools" in first and "tools" in second
    (result,) = _function_results(fake, second)
    assert result.startswith("Tomorrow in Lyon: light rain, 9 degrees to 13 degrees")
    assert [path for path, _ in weather.requests] == ["/v1/search", "/v1/forecast"]


def test_a_tool_the_page_acts_on_and_an_unknown_tool(
    provider: tuple[TestClient, FakeGemini | FakeOpenAI],
) -> None:
    client, fake = provider
    fake.script(
        Reply(
            chunks=[],
            tool_calls=[
                ("launch_rockets", {}),
                ("open", {"site": "youtube", "query": "lofi jazz"}),
            ],
        ),
        Reply(chunks=["Playing lofi jazz on YouTube."]),
    )
    ws = _socket(client)
    try:
        messages = Socket(ws).turn("put on some lofi jazz")
    finally:
        ws.__exit__(None, None, None)
    end = _end(messages)
    assert end["action"] == "open_url"
    assert end["data"]["url"] == "https://www.youtube.com/results?search_query=lofi+jazz"
    unknown, opened = _function_results(fake, fake.requests[1].json())
    assert unknown == "There is no tool named 'launch_rockets'."
    assert opened == "Searching YouTube for lofi jazz."


def test_a_model_that_keeps_calling_tools_must_answer_in_words(
    provider: tuple[TestClient, FakeGemini | FakeOpenAI],
) -> None:
    client, fake = provider
    looping = Reply(chunks=[], tool_calls=[("search", {"query": "again"})])
    fake.script(looping, looping, looping, Reply(chunks=["Done searching."]))
    ws = _socket(client)
    try:
        messages = Socket(ws).turn("keep looking things up for me")
    finally:
        ws.__exit__(None, None, None)
    assert _end(messages)["response"] == "Done searching."
    bodies = [r.json() for r in fake.requests]
    assert len(bodies) == 4  # three tool rounds (AI_TOOL_MAX_ROUNDS), then words only
    assert all("tools" in b for b in bodies[:3]) and "tools" not in bodies[3]


def test_a_lookup_streams_before_the_provider_finishes(
    provider: tuple[TestClient, FakeGemini | FakeOpenAI],
) -> None:
    client, fake = provider
    fake.script(
        Reply(
            chunks=["Ada Lovelace was ", "a mathematician ", "who wrote the first ", "program."],
            chunk_delay=0.4,
        )
    )
    seen_before_done: list[bool] = []

    def note(message: dict[str, Any]) -> None:
        if message["type"] == "reply_delta" and not seen_before_done:
            seen_before_done.append(not fake.requests[0].completed)

    ws = _socket(client)
    try:
        messages = Socket(ws).turn("who is Ada Lovelace", note)
    finally:
        ws.__exit__(None, None, None)
    assert seen_before_done == [True]  # the first text arrived while the provider was sending
    assert _end(messages)["response"] == (
        "Ada Lovelace was a mathematician who wrote the first program."
    )
    assert _end(messages)["action"] is None


def test_weather_is_answered_locally_without_the_ai(
    provider: tuple[TestClient, FakeGemini | FakeOpenAI], weather: FakeOpenMeteo
) -> None:
    client, fake = provider
    ws = _socket(client)
    try:
        end = _end(Socket(ws).turn("Will it rain in Lyon on Saturday?"))
        unknown = _end(Socket(ws).turn("what's the weather in Atlantis"))
        nowhere = _end(Socket(ws).turn("what's the weather"))
        weather.mode = "error"
        down = _end(Socket(ws).turn("what's the temperature in Paris"))
    finally:
        ws.__exit__(None, None, None)
    assert (end["source"], end["family"]) == ("local", "weather")
    assert end["response"].startswith("Yes, rain is likely in Lyon on Saturday")
    assert unknown["response"] == "I couldn't find a place called Atlantis."
    assert nowhere["action"] == "ask_location"
    assert down["response"].startswith("I can't reach the weather service")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("frame", "parsed"),
    [
        (
            '{"type": "location", "latitude": 45.7640, "longitude": 4.8357}',
            proto.Location((45.76, 4.84), None),
        ),
        ('{"type": "location", "place": " Lyon "}', proto.Location(None, "Lyon")),
        ('{"type": "location"}', proto.Location(None, None)),
    ],
)
def test_location_frames(frame: str, parsed: proto.Location) -> None:
    assert proto.parse(frame) == parsed


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "location", "latitude": 91, "longitude": 0}',
        '{"type": "location", "latitude": 10}',
        '{"type": "location", "latitude": true, "longitude": 0}',
        '{"type": "location", "latitude": "45", "longitude": "4"}',
        '{"type": "location", "place": 5}',
    ],
)
def test_bad_location_frames_are_refused(frame: str) -> None:
    with pytest.raises(BadRequest):
        proto.parse(frame)


def test_a_shared_location_answers_the_weather_on_that_socket_only(
    make_client: Callable[..., TestClient], weather: FakeOpenMeteo
) -> None:
    client = make_client(**_weather_settings(weather))
    first, second = _socket(client), _socket(client)
    try:
        first.send_json({"type": "location", "latitude": 45.764, "longitude": 4.8357})
        here = _end(Socket(first).turn("will it rain tomorrow"))
        elsewhere = _end(Socket(second).turn("will it rain tomorrow"))
        first.send_json({"type": "location", "place": "Lyon"})
        named = _end(Socket(first).turn("what's the weather tomorrow"))
    finally:
        first.__exit__(None, None, None)
        second.__exit__(None, None, None)
    assert here["response"].startswith("Yes, rain is likely where you are tomorrow")
    assert elsewhere["action"] == "ask_location"
    assert named["response"].startswith("Tomorrow in Lyon:")


def test_weather_switched_off_is_said_plainly(make_client: Callable[..., TestClient]) -> None:
    client = make_client(weather_enabled=False)
    ws = _socket(client)
    try:
        end = _end(Socket(ws).turn("will it rain tomorrow in Lyon"))
    finally:
        ws.__exit__(None, None, None)
    assert end["response"] == "Sorry, weather is switched off on this server."
