"""The orb page in real headless Chromium: typing, streaming, actions, settings,
reconnecting, and a spoken command end to end through the server's speech model."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.audio import speak_wav
from tests.browser.conftest import screenshot, which
from tests.fakes import FakeGemini, Reply
from tests.servers import BallsyProcess

pytestmark = pytest.mark.browser

ASSISTANT = "#conversation li.message.assistant"
USER = "#conversation li.message.user"


def _open(context: Any, url: str) -> Any:
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=15_000)
    return page


def _say(page: Any, text: str) -> None:
    page.fill("#command-input", text)
    page.press("#command-input", "Enter")


def test_typing_a_command_shows_the_reply(
    server: BallsyProcess, launch: Callable[..., Any]
) -> None:
    page = _open(launch(), server.base_url)
    screenshot(page, "idle")
    _say(page, "what is 7 times 8")
    expect(page.locator(USER).last).to_contain_text("what is 7 times 8")
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=10_000)
    expect(page.locator("#orb")).to_have_attribute("data-state", re.compile("idle|speaking"))
    screenshot(page, "reply")


def test_ai_reply_streams_in(
    server: BallsyProcess, fake_gemini: FakeGemini, launch: Callable[..., Any]
) -> None:
    words = ["Rainbows ", "appear ", "when ", "sunlight ", "bends ", "through ", "raindrops."]
    fake_gemini.script(Reply(chunks=words, chunk_delay=0.35))
    page = _open(launch(), server.base_url)
    _say(page, "tell me why rainbows appear")
    bubble = page.locator(ASSISTANT).last
    expect(bubble).to_contain_text("Rainbows appear", timeout=10_000)
    partial = bubble.inner_text()
    assert "raindrops." not in partial, "the whole reply arrived at once"
    screenshot(page, "streaming")
    expect(bubble).to_contain_text(
        "Rainbows appear when sunlight bends through raindrops.", timeout=10_000
    )


def test_open_url_action_opens_a_tab(server: BallsyProcess, launch: Callable[..., Any]) -> None:
    context = launch()
    page = _open(context, server.base_url)
    with context.expect_page(timeout=10_000) as new_tab:
        _say(page, "play lofi beats on youtube")
    opened = new_tab.value
    assert opened.url.startswith("https://www.youtube.com/results?search_query=lofi")
    expect(page.locator(ASSISTANT).last).to_contain_text("YouTube", timeout=10_000)


def test_settings_survive_a_reload(server: BallsyProcess, launch: Callable[..., Any]) -> None:
    page = _open(launch(), server.base_url)
    page.click("#open-settings")
    expect(page.locator("#settings")).to_be_visible()
    page.check("#theme-dark")
    page.select_option("#setting-timezone", "Asia/Tokyo")
    screenshot(page, "settings")
    page.click("#settings-save")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.wait_for_timeout(300)
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=15_000)
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.click("#open-settings")
    expect(page.locator("#setting-timezone")).to_have_value("Asia/Tokyo")
    expect(page.locator("#theme-dark")).to_be_checked()


def test_reconnects_after_the_server_restarts(
    start_server: Callable[..., BallsyProcess], launch: Callable[..., Any]
) -> None:
    server = start_server()
    page = _open(launch(), server.base_url)
    _say(page, "hello")
    expect(page.locator(ASSISTANT).last).to_contain_text("Ballsy", timeout=10_000)
    server.kill()
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", "reconnecting", timeout=15_000
    )
    start_server(port=server.port)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=30_000)
    _say(page, "what is 9 times 9")
    expect(page.locator(ASSISTANT).last).to_contain_text("81", timeout=10_000)


def test_phone_sized_screen(server: BallsyProcess, launch: Callable[..., Any]) -> None:
    page = _open(launch(viewport={"width": 390, "height": 780}), server.base_url)
    _say(page, "what time is it")
    expect(page.locator(ASSISTANT).last).to_contain_text(re.compile(r"\d"), timeout=10_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(page, "phone")


def _spoken_wav(tmp_path: Path, text: str) -> Path:
    # The American voice the speech tests use (the default voice's "eight" is often
    # heard as "made" by the tiny model).
    raw = speak_wav(text, tmp_path / "raw.wav")
    wav = tmp_path / "spoken.wav"
    # Chromium's fake microphone wants 16-bit PCM; a second of silence first and after.
    subprocess.run(
        [which("sox"), str(raw), "-r", "48000", "-c", "1", "-b", "16", str(wav), "pad", "1", "2"],
        check=True,
        timeout=30,
    )
    return wav


def test_spoken_command_end_to_end(
    server: BallsyProcess, launch: Callable[..., Any], tmp_path: Path
) -> None:
    wav = _spoken_wav(tmp_path, "what is seven times eight")
    context = launch(
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
    )
    # ?stt=server forces the MediaRecorder path (Chromium's own recognition needs Google).
    page = _open(context, f"{server.base_url}/?stt=server")
    started = time.perf_counter()
    page.click("#orb")
    expect(page.locator("#orb")).to_have_attribute("data-state", "listening", timeout=5_000)
    screenshot(page, "listening")
    expect(page.locator(USER).last).to_contain_text(
        re.compile(r"7 times 8|seven times eight", re.IGNORECASE), timeout=30_000
    )
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=15_000)
    assert time.perf_counter() - started < 30


def test_barge_in_stops_the_reply_and_listens(
    server: BallsyProcess, fake_gemini: FakeGemini, launch: Callable[..., Any]
) -> None:
    fake_gemini.script(
        Reply(chunks=[f"sentence number {i}. " for i in range(40)], chunk_delay=0.25)
    )
    context = launch("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
    page = _open(context, f"{server.base_url}/?stt=server")
    _say(page, "tell me a very long story")
    bubble = page.locator(ASSISTANT).last
    expect(bubble).to_contain_text("sentence number 1.", timeout=10_000)
    page.click("#orb")  # barge in
    expect(page.locator("#orb")).to_have_attribute("data-state", "listening", timeout=5_000)
    expect(bubble).to_have_class(re.compile("interrupted"), timeout=5_000)
    assert fake_gemini.wait_for_disconnect(timeout=5.0), "the AI call was not cancelled"
    shown = bubble.inner_text()
    assert "sentence number 39." not in shown
