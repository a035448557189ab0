"""The wake word in real headless Chromium: hands-free on, WAKE_WORD=okay_nabu, the fake
microphone playing synthesised speech. Between turns the page waits for the wake word on
a stream the server hears with its wake word detector only; "okay nabu" followed by a
command is answered, and ordinary speech alone starts nothing.

The page is tapped once (hands-free starts with a tap, as a user would): Ballsy listens
for a command, hears none (LISTEN_NO_SPEECH_SECONDS=2 of the file's leading silence) and
then waits for the wake word, with the microphone sign on the whole time."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_listening import (
    ASSISTANT,
    FAKE_MIC,
    SEVEN_TIMES_EIGHT,
    USER,
    _open,
    _wav,
)
from tests.servers import BallsyProcess

pytestmark = pytest.mark.browser

# Records every wake message and pong the page's socket receives, and keeps the socket so
# the test can ping it: the server answers a ping only after feeding every frame before it
# to the detector, so a pong proves all the audio streamed so far was heard.
WATCH_WAKE = """(() => {
  window.__wake = { messages: [], pongs: 0, socket: null };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__wake.socket = this;
      this.addEventListener("message", (event) => {
        if (typeof event.data !== "string") return;
        const message = JSON.parse(event.data);
        if (message.type === "wake") window.__wake.messages.push(message);
        if (message.type === "pong") window.__wake.pongs += 1;
      });
    }
  };
})();"""


@pytest.fixture
def wake_server(start_server: Callable[..., BallsyProcess]) -> BallsyProcess:
    return start_server(WAKE_WORD="okay_nabu", LISTEN_NO_SPEECH_SECONDS="2")


def _hands_free_page(launch: Callable[..., Any], server: BallsyProcess, wav: Path) -> Any:
    context = launch(*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}%noloop")
    context.add_init_script(script=WATCH_WAKE)
    page = _open(context, server.base_url)
    page.click("#open-settings")
    page.get_by_label("Hands-free: keep listening after each reply").check()
    page.click("#settings-save")
    expect(page.locator("#settings")).to_be_hidden()
    page.click("#orb")
    # No command in the first two seconds: Ballsy waits for its wake word, microphone open.
    expect(page.locator("#orb")).to_have_attribute("data-state", "waiting", timeout=30_000)
    expect(page.locator("#orb-caption")).to_contain_text("Okay Nabu")
    expect(page.locator("#mic-open")).to_be_visible()
    return page


def test_the_wake_phrase_starts_listening_and_the_command_is_answered(
    wake_server: BallsyProcess, launch: Callable[..., Any], tmp_path: Path
) -> None:
    wav = _wav(
        tmp_path, ("okay nabu", 6.0), ("what is seven times eight", 1.0), tail=6.0, name="wake"
    )
    page = _hands_free_page(launch, wake_server, wav)
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=60_000)
    command = page.locator(USER).last.locator(".message-text").inner_text()
    assert SEVEN_TIMES_EIGHT.search(command), command
    assert "nabu" not in command.lower(), command  # the wake phrase is no part of it
    assert page.evaluate("window.__wake.messages") == [{"type": "wake", "word": "Okay Nabu"}]
    assert page.evaluate("window.ballsy.wake.heard") == 1
    assert page.locator(USER).count() == 1
    # Hands-free: after the reply Ballsy waits for the wake word again, microphone sign on.
    expect(page.locator("#orb")).to_have_attribute("data-state", "waiting", timeout=30_000)
    expect(page.locator("#mic-open")).to_be_visible()
    assert page.evaluate("window.__orbClicks") == 1
    page.keyboard.press("Escape")  # ends hands-free: the microphone closes
    expect(page.locator("#mic-open")).to_be_hidden(timeout=15_000)
    expect(page.locator("#orb")).to_have_attribute("data-state", "idle")


def test_ordinary_speech_alone_starts_nothing(
    wake_server: BallsyProcess, launch: Callable[..., Any], tmp_path: Path
) -> None:
    wav = _wav(tmp_path, ("what is seven times eight", 6.0), tail=8.0, name="ordinary")
    page = _hands_free_page(launch, wake_server, wav)
    # Wait until the stream has carried the whole command and silence after it...
    page.wait_for_function("() => window.ballsy.wake.waitedSeconds >= 10", timeout=90_000)
    # ...and until the server has fed all of it to the detector (the pong comes after).
    pongs = page.evaluate("window.__wake.pongs")
    page.evaluate("window.__wake.socket.send(JSON.stringify({type: 'ping'}))")
    page.wait_for_function(f"() => window.__wake.pongs > {pongs}", timeout=30_000)
    assert page.evaluate("window.__wake.messages") == []
    assert page.evaluate("window.__heard.partials") == []  # nothing was transcribed
    assert page.locator(USER).count() == 0 and page.locator(ASSISTANT).count() == 0
    expect(page.locator("#orb")).to_have_attribute("data-state", "waiting")
    expect(page.locator("#mic-open")).to_be_visible()
    assert re.search("Okay Nabu", page.locator("#orb-caption").inner_text())
