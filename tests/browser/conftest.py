"""Real headless Chromium (Debian's, driven by Playwright) against a real `ballsy serve`.

The AI is the real google-genai SDK talking to a fake Gemini server on 127.0.0.1; speech
is the embedded Whisper model. Every request the browser makes to anything but this
machine is answered by Playwright with a stub page, so no traffic leaves it (a new tab to
YouTube opens at its address without reaching YouTube).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeGemini
from tests.servers import BallsyProcess

CHROMIUM = os.environ.get("BALLSY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The main states are saved to artifacts/screenshots on every run (CI keeps them); with
# BALLSY_UPDATE_SCREENSHOTS=1 they replace the committed ones in docs/screenshots (the
# README shows one), so a test run leaves the working tree clean.
_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = (
    _ROOT / "docs" / "screenshots"
    if os.environ.get("BALLSY_UPDATE_SCREENSHOTS") == "1"
    else _ROOT / "artifacts" / "screenshots"
)
GEMINI_KEY = "AIzaSy-browser-test-key-0123456789"
OFF_MACHINE = re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/]|data:|blob:|about:)")


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (make test does)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini(api_key=GEMINI_KEY) as fake:
        yield fake


@pytest.fixture
def start_server(tmp_path: Path, fake_gemini: FakeGemini) -> Iterator[Callable[..., BallsyProcess]]:
    """Start (or restart, on the same port and data) a real Ballsy server."""
    started: list[BallsyProcess] = []

    def start(port: int | None = None, **env: str) -> BallsyProcess:
        server = BallsyProcess(
            {
                "DATA_DIR": str(tmp_path / "data"),
                "GEMINI_API_KEY": GEMINI_KEY,
                "GOOGLE_GEMINI_BASE_URL": fake_gemini.base_url,
                "STT_PRELOAD": "true",
                "LOG_LEVEL": "WARNING",
                # No traffic leaves the machine: weather tests pass a local fake's URLs.
                "WEATHER_FORECAST_URL": "http://127.0.0.1:9/v1/forecast",
                "WEATHER_GEOCODING_URL": "http://127.0.0.1:9/v1/search",
                # The browser's (fake) voices, unless a test asks for Ballsy's own.
                "TTS_ENABLED": "false",
                **env,
            },
            port=port,
            log_path=tmp_path / "server.log",
        ).start()
        started.append(server)
        server.wait_healthy(timeout=30)
        # The page's own ears need the speech model warm (partial words are only decoded by
        # a free, loaded worker): on a loaded machine it can take tens of seconds to load.
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def server(start_server: Callable[..., BallsyProcess]) -> BallsyProcess:
    return start_server()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Launch Chromium with a fresh profile; extra flags for the fake microphone."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        contexts: list[Any] = []

        def open_context(
            *extra_args: str, viewport: dict[str, int] | None = None, **options: Any
        ) -> Any:
            profile = tmp_path / f"profile-{len(contexts)}"
            context = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=[*CHROMIUM_ARGS, *extra_args],
                viewport=viewport or {"width": 1280, "height": 760},
                **options,
            )
            # Answered by Playwright itself: the tab opens at its address, nothing leaves.
            context.route(
                OFF_MACHINE,
                lambda route: route.fulfill(
                    status=200, content_type="text/html", body="<title>elsewhere</title>"
                ),
            )
            contexts.append(context)
            return context

        yield open_context
        for context in contexts:
            context.close()


AXE = _ROOT / ".axe" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core, installed by scripts/axe-core.sh into a folder git ignores; the tests
    inject it into the page, the product never serves it."""
    result = subprocess.run(
        [str(_ROOT / "scripts" / "axe-core.sh")], capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0 or not AXE.exists():
        message = f"axe-core could not be installed: {result.stderr.strip()[-500:]}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return AXE


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def which(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        message = f"{tool} not found: apt-get install -y {tool} (make test does)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return found
