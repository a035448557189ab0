"""Ballsy's own ears in real headless Chromium, with no settings touched: the fake
microphone streamed as 16 kHz PCM from an AudioWorklet over the socket, words shown while
they are spoken, the turn ended by the server after the silence (no second click),
barge-in that keeps the first word under load, and a follow-up heard without a click.

Chromium's fake microphone plays a WAV file from its start each time the microphone is
opened (looping unless `%noloop`). The speech synthesiser is the stand-in with realistic
timing (fake_speech.js): headless Chromium has no voices."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.audio import speak_wav
from tests.browser.conftest import which
from tests.fakes import FakeGemini, Reply
from tests.servers import BallsyProcess
from tests.voice.conftest import require_voice

pytestmark = pytest.mark.browser

ASSISTANT = "#conversation li.message.assistant"
USER = "#conversation li.message.user"
FAKE_SPEECH = Path(__file__).with_name("fake_speech.js")
FAKE_MIC = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
SEVEN_TIMES_EIGHT = re.compile(r"(7|seven) times (8|eight)", re.IGNORECASE)
LEAD_SILENCE = 3.5

# Records, in the page, every partial shown and when the speech_end came, so the test can
# say that words appeared before the end of speech; and counts clicks on the orb.
WATCH_MESSAGES = """(() => {
  window.__heard = { partials: [], speechEnd: null, socketsOpened: 0 };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__heard.socketsOpened += 1;
      this.addEventListener("message", (event) => {
        if (typeof event.data !== "string") return;
        const message = JSON.parse(event.data);
        if (message.type === "partial") window.__heard.partials.push(message.text);
        if (message.type === "speech_end" && window.__heard.speechEnd === null) {
          const before = window.__heard.partials.length;
          window.__heard.speechEnd = { reason: message.reason, partialsBefore: before };
        }
      });
    }
  };
  // The words the page showed in #interim before the speech ended (a partial can be on
  // screen for a moment only on a loaded machine, so it is recorded as it is shown).
  window.__heard.shownBeforeEnd = [];
  document.addEventListener("DOMContentLoaded", () => {
    const interim = document.getElementById("interim");
    new MutationObserver(() => {
      const text = interim.textContent.trim();
      if (text && !interim.hidden && window.__heard.speechEnd === null) {
        window.__heard.shownBeforeEnd.push(text);
      }
    }).observe(interim, { childList: true, characterData: true, subtree: true, attributes: true });
  });
  window.__orbClicks = 0;
  document.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("#orb")) window.__orbClicks += 1;
  }, true);
})();"""


def _open(context: Any, url: str) -> Any:
    context.add_init_script(path=str(FAKE_SPEECH))
    context.add_init_script(script=WATCH_MESSAGES)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=15_000)
    return page


def _say(page: Any, text: str) -> None:
    page.fill("#command-input", text)
    page.press("#command-input", "Enter")


def _wav(
    tmp_path: Path,
    *parts: tuple[str, float],
    tail: float = 3.0,
    name: str = "mic",
    words_per_minute: int = 150,
) -> Path:
    """Speech for the fake microphone: each (text, silence before it), then `tail` s of
    silence; 48 kHz 16-bit mono as Chromium wants."""
    pieces: list[str] = []
    for index, (text, before) in enumerate(parts):
        raw = speak_wav(text, tmp_path / f"{name}-{index}.wav", words_per_minute=words_per_minute)
        padded = tmp_path / f"{name}-{index}-padded.wav"
        subprocess.run(
            [
                which("sox"),
                str(raw),
                "-r",
                "48000",
                "-c",
                "1",
                "-b",
                "16",
                str(padded),
                "pad",
                str(before),
                "0",
            ],
            check=True,
            timeout=30,
        )
        pieces.append(str(padded))
    out = tmp_path / f"{name}.wav"
    subprocess.run([which("sox"), *pieces, str(out), "pad", "0", str(tail)], check=True, timeout=30)
    return out


def test_a_spoken_command_is_heard_live_and_ends_by_itself(
    server: BallsyProcess, launch: Callable[..., Any], tmp_path: Path
) -> None:
    # Spoken unhurriedly (about 4 s): a partial decode needs time to finish while the
    # user still speaks, and on a loaded 2-core machine each decode takes a second or more.
    wav = _wav(tmp_path, ("what is seven times eight plus twelve", 1.0), words_per_minute=95)
    context = launch(*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}%noloop")
    page = _open(context, server.base_url)  # no ?stt=, no settings: Ballsy's own ears
    page.click("#orb")
    expect(page.locator("#orb")).to_have_attribute("data-state", "listening", timeout=5_000)
    expect(page.locator("#mic-open")).to_be_visible()
    # The server ends the turn after the silence, with no second click...
    expect(page.locator(USER).last).to_contain_text(SEVEN_TIMES_EIGHT, timeout=60_000)
    heard = page.evaluate("window.__heard")
    assert heard["speechEnd"] is not None and heard["speechEnd"]["reason"] == "silence", heard
    # ...and words were on screen while the user was still speaking.
    assert heard["speechEnd"]["partialsBefore"] >= 1, f"no words before the end: {heard}"
    assert any(re.search(r"\w+", text) for text in heard["shownBeforeEnd"]), heard
    assert page.evaluate("window.__orbClicks") == 1
    # ...and the command is answered (56 + 12).
    expect(page.locator(ASSISTANT).last).to_contain_text("68", timeout=15_000)
    # The microphone is released once nothing more is expected (the reply asked nothing).
    expect(page.locator("#mic-open")).to_be_hidden(timeout=15_000)
    expect(page.locator("#orb")).to_have_attribute("data-state", "idle")


def test_one_status_line_per_state(
    server: BallsyProcess, launch: Callable[..., Any], tmp_path: Path
) -> None:
    wav = _wav(tmp_path, ("what is seven times eight", 1.5))
    context = launch(*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}%noloop")
    page = _open(context, server.base_url)
    page.evaluate(
        """() => {
          window.__captions = [];
          const caption = document.getElementById("orb-caption");
          const interim = document.getElementById("interim");
          const record = () => window.__captions.push(
            [caption.textContent, interim.hidden ? "" : interim.textContent]);
          const watch = {childList: true, characterData: true, subtree: true, attributes: true};
          new MutationObserver(record).observe(caption, watch);
          new MutationObserver(record).observe(interim, watch);
        }"""
    )
    page.click("#orb")
    expect(page.locator("#orb-caption")).to_have_text("Hearing you…", timeout=30_000)
    expect(page.locator("#level-meter")).to_be_visible()
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=45_000)
    captions = page.evaluate("window.__captions")
    status_words = ("Listening", "Transcribing", "Thinking", "Hearing", "Speaking")
    for _caption, interim in captions:
        # The live words line only ever shows words heard, never a second status.
        assert not any(word in interim for word in status_words), captions
    shown = {caption.split("…")[0] for caption, _ in captions}
    assert {"Listening", "Hearing you"} <= shown, shown


@contextmanager
def _two_busy_processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two CPU-bound processes loading the machine, each ending by itself within 10 minutes
    should this test be killed before it stops them."""
    code = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end: pass"
    burners = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    try:
        yield burners
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait(timeout=30)


def test_barge_in_keeps_the_first_word_five_times_under_load(
    server: BallsyProcess, fake_gemini: FakeGemini, launch: Callable[..., Any], tmp_path: Path
) -> None:
    wav = _wav(tmp_path, ("what is seven times eight", LEAD_SILENCE), tail=3.0)
    context = launch(*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}")
    page = _open(context, server.base_url)
    with _two_busy_processes() as burners:
        for run in range(5):
            fake_gemini.script(
                Reply(chunks=[f"sentence number {i}. " for i in range(40)], chunk_delay=0.25)
            )
            users_before = page.locator(USER).count()
            _say(page, f"tell me a very long story number {run}")
            expect(page.locator("#orb")).to_have_attribute("data-state", "speaking", timeout=20_000)
            # The user talks over Ballsy: no click, no key.
            command = page.locator(USER).nth(users_before + 1)
            expect(command).to_contain_text(SEVEN_TIMES_EIGHT, timeout=60_000)
            text = command.locator(".message-text").inner_text()
            assert re.match(r"\W*what\b", text, re.IGNORECASE), f"run {run}: heard {text!r}"
            expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=30_000)
            # Released before the next run, so the file plays from its start again.
            page.wait_for_function("() => window.ballsy.ears.state === 'off'", timeout=20_000)
            assert all(burner.poll() is None for burner in burners), "the load stopped early"
    assert page.evaluate("window.__orbClicks") == 0


def test_a_question_is_followed_up_without_a_click(
    server: BallsyProcess, fake_gemini: FakeGemini, launch: Callable[..., Any], tmp_path: Path
) -> None:
    fake_gemini.script(
        Reply(chunks=["Sure. Where would you like to go?"]),
        Reply(chunks=["Paris is lovely in the spring."]),
    )
    wav = _wav(
        tmp_path,
        ("help me plan a trip", 1.0),
        ("i would like to go to paris", 7.0),
        tail=4.0,
    )
    context = launch(*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}%noloop")
    page = _open(context, server.base_url)
    page.click("#orb")
    expect(page.locator(ASSISTANT).first).to_contain_text("Where would you", timeout=45_000)
    # The reply asked something: Ballsy listens again by itself, microphone sign shown.
    expect(page.locator(USER).nth(1)).to_contain_text(re.compile("paris", re.I), timeout=45_000)
    expect(page.locator(ASSISTANT).last).to_contain_text("lovely in the spring", timeout=30_000)
    assert page.evaluate("window.__orbClicks") == 1


def test_the_browsers_recognition_is_opt_in_and_falls_back_to_ballsys(
    server: BallsyProcess, launch: Callable[..., Any], tmp_path: Path
) -> None:
    wav = _wav(tmp_path, ("what is seven times eight", 1.0))
    context = launch(*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}%noloop")
    page = _open(context, server.base_url)
    # The settings say where audio goes; the browser's recognition is off until chosen.
    page.click("#open-settings")
    expect(page.locator("#setting-browser-stt")).not_to_be_checked()
    expect(page.locator("#setting-hands-free")).not_to_be_checked()
    expect(page.locator("#setting-browser-stt-hint")).to_contain_text("only to this")
    expect(page.locator("#setting-browser-stt-hint")).to_contain_text("Google")
    page.get_by_label("Use the browser's speech recognition instead of Ballsy's").check()
    page.click("#settings-save")
    expect(page.locator("#settings")).to_be_hidden()
    # Chromium without Google's speech service fails to recognise ("No microphone was
    # found" to a user); that is not a refused permission, so Ballsy's own ears take over.
    has_recognition = page.evaluate("() => 'webkitSpeechRecognition' in window")
    page.click("#orb")
    expect(page.locator(USER).last).to_contain_text(SEVEN_TIMES_EIGHT, timeout=45_000)
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=15_000)
    assert page.locator("#conversation li.message.system").count() == 0
    if has_recognition:
        assert page.evaluate("window.__heard.speechEnd") is not None  # it was Ballsy's


@pytest.mark.parametrize("voice", ["browser", "ballsy"])
def test_hands_free_listens_again_after_every_reply(
    start_server: Callable[..., BallsyProcess],
    launch: Callable[..., Any],
    tmp_path: Path,
    voice: str,
) -> None:
    if voice == "ballsy":  # Ballsy's own voice speaks each reply; listening resumes after it
        require_voice()
        server = start_server(TTS_ENABLED="true", TTS_PRELOAD="true")
    else:
        server = start_server()
    wav = _wav(tmp_path, ("what is seven times eight", 1.0), ("plus six", 8.0), tail=4.0)
    context = launch(*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}%noloop")
    page = _open(context, server.base_url)
    page.click("#open-settings")
    page.get_by_label("Hands-free: keep listening after each reply").check()
    page.click("#settings-save")
    expect(page.locator("#settings")).to_be_hidden()
    page.click("#orb")
    expect(page.locator(ASSISTANT).first).to_contain_text("56", timeout=45_000)
    # "That's 56." asks nothing; hands-free listens again anyway, microphone sign on.
    expect(page.locator(ASSISTANT).nth(1)).to_contain_text("62", timeout=45_000)
    expect(page.locator("#mic-open")).to_be_visible()
    assert page.evaluate("window.__orbClicks") == 1
    if voice == "ballsy":  # both replies were spoken by Ballsy's voice, not the browser's
        page.wait_for_function(
            "() => new Set(window.ballsy.played.map((s) => s.turnId)).size >= 2",
            timeout=30_000,
        )
    page.keyboard.press("Escape")  # ends hands-free listening
    expect(page.locator("#mic-open")).to_be_hidden(timeout=15_000)
