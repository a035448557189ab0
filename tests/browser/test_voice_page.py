"""Ballsy's own voice in real headless Chromium: the server's audio is played with Web
Audio (no browser voice is asked for anything), and stops at once on barge-in, with the
reply stored as what was heard."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.fakes import FakeGemini, Reply
from tests.servers import BallsyProcess
from tests.voice.conftest import require_voice

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ASSISTANT = "#conversation li.message.assistant"
FAKE_SPEECH = Path(__file__).with_name("fake_speech.js")
VOICE_ON = {"TTS_ENABLED": "true", "TTS_PRELOAD": "true"}


def _open(context: Any, url: str) -> Any:
    # The browser's synthesiser is a recording stand-in: anything it is asked to say shows.
    context.add_init_script(path=str(FAKE_SPEECH))
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=15_000)
    page.wait_for_function("() => window.ballsy.voice.enabled === true", timeout=15_000)
    return page


def _say(page: Any, text: str) -> None:
    page.fill("#command-input", text)
    page.press("#command-input", "Enter")


def _browser_speech(page: Any) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = page.evaluate("window.__speech.log.slice()")
    return [entry for entry in log if entry.get("event") == "speak"]


def test_the_reply_is_played_with_ballsys_voice(
    start_server: Callable[..., BallsyProcess], launch: Callable[..., Any]
) -> None:
    require_voice()
    server = start_server(**VOICE_ON)
    page = _open(launch(), server.base_url)

    # New users get Ballsy's voice by default, never a voice this browser lacks.
    page.click("#open-settings")
    expect(page.locator("#setting-voice")).to_have_value("ballsy")
    assert "not available" not in page.locator("#setting-voice").inner_text()
    page.click("#settings-cancel")

    _say(page, "what is 7 times 8")
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=15_000)
    page.wait_for_function("() => window.ballsy.played.length >= 1", timeout=30_000)
    played = page.evaluate("window.ballsy.played")
    assert "56" in played[0]["text"] and played[0]["seconds"] > 0.5
    # The audio clock runs: the sound was really played, not just decoded.
    page.wait_for_function(
        "() => window.ballsy.voice.audioState === 'running' && window.ballsy.voice.audioTime > 0.5",
        timeout=30_000,
    )
    expect(page.locator("#orb")).to_have_attribute("data-state", "idle", timeout=30_000)
    assert _browser_speech(page) == []
    screenshot(page, "ballsy-voice")

    # The preview speaks with Ballsy's voice (the OpenAI-compatible route, with this page's
    # token), and the choice saves.
    page.click("#open-settings")
    with page.expect_response(lambda r: "/v1/audio/speech" in r.url, timeout=30_000) as spoken:
        page.click("#voice-preview")
    assert spoken.value.ok and spoken.value.headers["content-type"] == "audio/wav"
    with page.expect_response(
        lambda r: r.request.method == "PUT" and "/api/settings/" in r.url, timeout=15_000
    ) as saved:
        page.click("#settings-save")
    assert saved.value.ok and saved.value.json()["settings"]["voice"] == "ballsy"
    assert _browser_speech(page) == []


def test_barge_in_stops_the_audio_and_stores_what_was_heard(
    start_server: Callable[..., BallsyProcess],
    fake_gemini: FakeGemini,
    launch: Callable[..., Any],
    tmp_path: Path,
) -> None:
    require_voice()
    fake_gemini.script(
        Reply(
            chunks=[f"This is sentence number {i} of a long story. " for i in range(80)],
            chunk_delay=0.25,
        )
    )
    server = start_server(**VOICE_ON)
    page = _open(launch(), server.base_url)
    command = "tell me a very long story"
    _say(page, command)
    # Playing: at least one sentence scheduled on the audio clock.
    page.wait_for_function(
        "() => window.ballsy.voice.scheduled >= 1 && window.ballsy.voice.speaking", timeout=30_000
    )
    page.keyboard.press("Escape")  # barge in
    # Stopped at once: nothing left scheduled, nothing more will be.
    state = page.evaluate("window.ballsy.voice")
    assert state["scheduled"] == 0 and state["speaking"] is False
    bubble = page.locator(ASSISTANT).last
    expect(bubble).to_have_class(re.compile("interrupted"), timeout=10_000)
    assert fake_gemini.wait_for_disconnect(timeout=10.0), "the AI call was not cancelled"

    # The server stored what was heard: whole sentences played, and the page shows the same.
    def stored() -> tuple[int, str] | None:
        with sqlite3.connect(tmp_path / "data" / "ballsy.db", timeout=5) as db:
            row = db.execute(
                "SELECT interrupted, result FROM command_history WHERE command = ?", (command,)
            ).fetchone()
        return None if row is None else (int(row[0]), row[1] or "")

    expect(bubble).not_to_contain_text("sentence number 79", timeout=10_000)
    deadline = time.monotonic() + 20
    row = stored()
    while row is None and time.monotonic() < deadline:  # stored once the turn is settled
        page.wait_for_timeout(100)
        row = stored()
    assert row is not None and row[0] == 1
    heard = row[1]
    assert "sentence number 79" not in heard
    assert heard == "" or heard.startswith("This is sentence number 0")
    assert heard in bubble.inner_text()
    # Nothing more plays after the barge-in, and no browser voice stepped in.
    page.wait_for_timeout(1500)
    assert page.evaluate("window.ballsy.voice.scheduled") == 0
    assert _browser_speech(page) == []
