"""What a new user meets on the orb page, in real headless Chromium against a real server:
being offline, AI failures, the theme, long pastes, stopping Ballsy, examples, contrast,
who answered, the conversation list, keys, a phone-sized screen, and an axe-core audit."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.audio import speak_wav
from tests.browser.conftest import screenshot, which
from tests.fakes import Fail, FakeGemini, Reply
from tests.servers import BallsyProcess

pytestmark = pytest.mark.browser

ASSISTANT = "#conversation li.message.assistant"
USER = "#conversation li.message.user"
SYSTEM = "#conversation li.message.system"
FAKE_SPEECH = Path(__file__).with_name("fake_speech.js")
FAKE_MIC = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
PHONE = {"width": 390, "height": 780}


def _open(context: Any, url: str) -> Any:
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=15_000)
    page.js_errors = errors  # checked by _no_errors
    return page


def _no_errors(page: Any) -> None:
    assert page.js_errors == [], page.js_errors


def _say(page: Any, text: str) -> None:
    page.fill("#command-input", text)
    page.press("#command-input", "Enter")


def _api(page: Any, method: str, path: str, body: Any = None) -> Any:
    """Call the API as this page's identity (its token is in localStorage)."""
    return page.evaluate(
        """async ([method, path, body]) => {
          const headers = { Authorization: `Bearer ${localStorage.getItem("ballsy.token")}` };
          if (body !== null) headers["Content-Type"] = "application/json";
          const response = await fetch(path, {
            method, headers, body: body === null ? undefined : JSON.stringify(body),
          });
          const json = response.status === 204 ? null : await response.json();
          return { status: response.status, body: json };
        }""",
        [method, path, body],
    )


def _stored_commands(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "data" / "ballsy.db", timeout=5) as db:
        return [row[0] for row in db.execute("SELECT command FROM command_history ORDER BY id")]


# --- offline ----------------------------------------------------------------------------


def test_offline_is_said_plainly_and_a_typed_command_waits_for_the_server(
    start_server: Callable[..., BallsyProcess], launch: Callable[..., Any], axe_script: Path
) -> None:
    server = start_server()
    page = _open(launch(bypass_csp=True), server.base_url)
    expect(page.locator("#offline")).to_be_hidden()
    server.kill()

    # Said where the user looks, with a way to try again now; no claim that typing works.
    expect(page.locator("#offline")).to_be_visible(timeout=15_000)
    expect(page.locator("#retry-now")).to_be_visible()
    caption = page.locator("#orb-caption")
    expect(caption).to_contain_text("offline")
    expect(caption).not_to_contain_text("Tap the orb and speak")
    expect(page.locator("#connection")).not_to_contain_text("still work")

    _say(page, "what is 9 times 9")
    typed = page.locator(USER).last
    expect(typed).to_contain_text("Not sent yet")
    expect(typed).to_have_attribute("data-held", "true")
    expect(page.locator("#conversation")).not_to_contain_text("Failed to fetch")
    screenshot(page, "offline")
    assert _axe(page, axe_script, "offline") == []

    # Let the back-off grow well past the moment "Retry now" is pressed.
    expect(page.locator("#connection-text")).to_have_text(
        re.compile(r"retrying in ([89]|1\d) s"), timeout=30_000
    )
    start_server(port=server.port)
    with page.expect_websocket(timeout=5_000):
        page.click("#retry-now")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=10_000)
    expect(page.locator("#offline")).to_be_hidden()
    # The held command was sent once, on reconnecting, and answered.
    expect(page.locator(ASSISTANT).last).to_contain_text("81", timeout=10_000)
    expect(typed).not_to_contain_text("Not sent yet")
    expect(page.locator(USER)).to_have_count(1)
    expect(caption).not_to_contain_text("offline")
    _no_errors(page)


# --- AI failures --------------------------------------------------------------------------

FAILURES = [
    ("quota", Fail(429, "Resource has been exhausted (e.g. check quota).", times=3)),
    ("timeout", Reply(head_delay=6.0)),
    ("dropped stream", Reply(chunks=["Octopuses ", "have ", "three "], close_after=2)),
]


def _check_failure_note(context: Any, page: Any, command: str) -> Any:
    bubble = page.locator(ASSISTANT).last
    expect(bubble.get_by_role("button", name="Retry")).to_be_visible(timeout=20_000)
    expect(bubble.get_by_role("button", name="Search the web")).to_be_visible()
    expect(bubble).not_to_contain_text("Let me search")
    assert len(context.pages) == 1, "a tab opened that the user did not ask for"
    return bubble


def test_ai_failures_offer_retry_and_a_search_and_open_no_tab(
    start_server: Callable[..., BallsyProcess],
    fake_gemini: FakeGemini,
    launch: Callable[..., Any],
    axe_script: Path,
) -> None:
    server = start_server(AI_MAX_RETRIES="0", AI_FIRST_TOKEN_TIMEOUT_SECONDS="2")
    context = launch(bypass_csp=True)
    page = _open(context, server.base_url)
    for name, fault in FAILURES:
        fake_gemini.reset()
        fake_gemini.script(fault)
        _say(page, f"tell me about octopuses ({name})")
        bubble = _check_failure_note(context, page, name)
        # Ballsy's own words, saying the AI did not answer.
        expect(bubble.locator(".message-meta")).to_contain_text("the AI (gemini-")
    screenshot(page, "ai-failure")
    assert _axe(page, axe_script, "AI failures") == []

    # "Search the web" opens a search only when pressed.
    bubble = page.locator(ASSISTANT).last
    with context.expect_page(timeout=10_000) as search:
        bubble.get_by_role("button", name="Search the web").click()
    assert search.value.url.startswith("https://www.google.com/search?q=octopuses")
    # Retry sends the same command again; this time the AI answers.
    fake_gemini.reset()
    fake_gemini.script(Reply(chunks=["Octopuses ", "have ", "three hearts."]))
    bubble.get_by_role("button", name="Retry").click()
    expect(page.locator(USER).last).to_have_text(re.compile("tell me about octopuses"))
    expect(page.locator(ASSISTANT).last).to_contain_text("three hearts.", timeout=15_000)
    assert len(context.pages) == 2
    _no_errors(page)


def test_a_bad_ai_key_offers_retry_and_opens_no_tab(
    start_server: Callable[..., BallsyProcess], launch: Callable[..., Any]
) -> None:
    server = start_server(GEMINI_API_KEY="AIzaSy-not-the-right-key-000000000000")
    context = launch()
    page = _open(context, server.base_url)
    _say(page, "tell me a joke")
    bubble = _check_failure_note(context, page, "tell me a joke")
    expect(bubble).to_contain_text("The AI")
    _no_errors(page)


# --- theme ------------------------------------------------------------------------------

RECORD_THEMES = """
window.__themes = [];
new MutationObserver(() => {
  const theme = document.documentElement.dataset.theme;
  if (theme && window.__themes[window.__themes.length - 1] !== theme) window.__themes.push(theme);
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-theme"] });
"""


def test_first_visit_follows_a_dark_system_until_the_user_chooses(
    server: BallsyProcess, launch: Callable[..., Any]
) -> None:
    context = launch(color_scheme="dark")
    context.add_init_script(RECORD_THEMES)
    page = _open(context, server.base_url)
    _say(page, "what is 7 times 8")
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=10_000)
    assert page.evaluate("window.__themes") == ["dark"], "the page flipped theme on load"
    saved = _api(page, "GET", f"/api/settings/{page.evaluate('window.ballsy.userId')}")
    assert saved["body"]["settings"]["theme"] == "system"
    screenshot(page, "dark")

    page.click("#open-settings")
    expect(page.locator("#theme-system")).to_be_checked()
    page.check("#theme-light")
    page.click("#settings-save")
    expect(page.locator("#settings")).to_be_hidden()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
    # The user's choice now wins over the dark system, from the first paint.
    assert page.evaluate("window.__themes") == ["light"]
    page.click("#open-settings")
    page.check("#theme-system")
    page.click("#settings-save")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    # "System" follows the device when it changes.
    page.emulate_media(color_scheme="light")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    _no_errors(page)


# --- long pastes ----------------------------------------------------------------------------


def test_a_long_paste_is_not_cut_without_warning(
    server: BallsyProcess, launch: Callable[..., Any]
) -> None:
    page = _open(launch(), server.base_url)
    pasted = ("lorem ipsum dolor sit amet " * 200)[:5000]
    page.fill("#command-input", pasted)
    warning = page.locator("#too-long")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("5,000")
    expect(warning).to_contain_text("1,000")
    expect(page.locator("#send")).to_be_disabled()
    page.press("#command-input", "Enter")
    assert page.input_value("#command-input") == pasted, "the paste was cut or sent"
    expect(page.locator(USER)).to_have_count(0)

    page.get_by_role("button", name="Cut to 1,000 characters").click()
    assert page.input_value("#command-input") == pasted[:1000].strip()
    expect(warning).to_be_hidden()
    page.press("#command-input", "Enter")
    expect(page.locator(USER).last).to_have_text(re.compile(r"^(You: )?lorem ipsum"))
    assert len(page.locator(USER).last.locator(".message-text").inner_text()) == len(
        pasted[:1000].strip()
    )
    expect(page.locator(ASSISTANT).last).not_to_be_empty(timeout=10_000)
    _no_errors(page)


# --- replies that do not contradict themselves, and "stop" ------------------------------------


def test_app_and_stop_replies_say_one_thing(
    server: BallsyProcess, launch: Callable[..., Any], tmp_path: Path
) -> None:
    context = launch()
    page = _open(context, server.base_url)
    with context.expect_page(timeout=10_000) as tab:
        _say(page, "open app spotify")
    assert tab.value.url.startswith("https://open.spotify.com")
    reply = page.locator(ASSISTANT).last
    expect(reply).to_contain_text("Opening Spotify.", timeout=10_000)
    expect(reply).not_to_contain_text("App Spotify")
    expect(reply).not_to_contain_text("can't")

    _say(page, "open calculator")
    reply = page.locator(ASSISTANT).last
    expect(reply).to_contain_text("I can't open desktop apps like Calculator", timeout=10_000)
    expect(reply).not_to_contain_text("Opening")
    spoken = [entry["text"] for entry in page.evaluate("window.ballsy.spoken")]
    assert not any("Opening Calculator" in text for text in spoken), spoken

    # "stop" while idle: the server says it stopped, not goodbye; nothing is ended.
    _say(page, "stop")
    reply = page.locator(ASSISTANT).last
    expect(reply).to_contain_text("I've stopped", timeout=10_000)
    expect(page.locator("#conversation")).not_to_contain_text("Goodbye")
    expect(page.locator("#orb-caption")).not_to_contain_text("Goodbye")
    _say(page, "what is 2 plus 2")
    expect(page.locator(ASSISTANT).last).to_contain_text("4", timeout=10_000)
    assert "stop" in _stored_commands(tmp_path)
    _no_errors(page)


@pytest.mark.parametrize("word", ["stop", "cancel", "be quiet"])
def test_stop_words_while_speaking_stop_at_once_and_send_nothing(
    server: BallsyProcess,
    fake_gemini: FakeGemini,
    launch: Callable[..., Any],
    tmp_path: Path,
    word: str,
) -> None:
    fake_gemini.script(
        Reply(chunks=[f"sentence number {i}. " for i in range(30)], chunk_delay=0.25)
    )
    context = launch()
    context.add_init_script(path=str(FAKE_SPEECH))
    page = _open(context, server.base_url)
    _say(page, "tell me a very long story")
    expect(page.locator("#orb")).to_have_attribute("data-state", "speaking", timeout=10_000)
    _say(page, word)
    expect(page.locator(SYSTEM).last).to_have_text(re.compile("Stopped."))
    expect(page.locator("#orb")).to_have_attribute("data-state", "idle", timeout=5_000)
    assert page.evaluate("window.__speech.speaking") is False
    assert fake_gemini.wait_for_disconnect(timeout=5.0), "the AI call was not cancelled"
    expect(page.locator(ASSISTANT).last).to_have_class(re.compile("interrupted"))
    # Handled on the page: the server never saw the word, nothing said goodbye.
    expect(page.locator(ASSISTANT)).to_have_count(1)
    assert word not in _stored_commands(tmp_path)
    expect(page.locator("#conversation")).not_to_contain_text("Goodbye")
    _no_errors(page)


# --- first load, contrast, who answered -------------------------------------------------------


def test_first_load_offers_example_requests(
    server: BallsyProcess, launch: Callable[..., Any]
) -> None:
    page = _open(launch(), server.base_url)
    examples = page.locator("#examples")
    expect(examples).to_be_visible()
    assert examples.get_by_role("button").count() >= 3
    screenshot(page, "idle")
    examples.get_by_role("button", name="What is 7 times 8?").click()
    expect(page.locator(USER).last).to_contain_text("What is 7 times 8?")
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=10_000)
    expect(examples).to_be_hidden()
    # A new conversation offers them again.
    page.click("#new-conversation")
    expect(examples).to_be_visible()
    _no_errors(page)


CONTRAST = """(selector) => {
  const channels = (color) => color.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = (color) => {
    const [r, g, b] = channels(color).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const element = document.querySelector(selector);
  let opacity = 1;
  for (let node = element; node; node = node.parentElement) {
    opacity *= Number(getComputedStyle(node).opacity);
  }
  const style = getComputedStyle(element);
  const [a, b] = [luminance(style.color), luminance(style.backgroundColor)].sort((x, y) => y - x);
  return { ratio: (a + 0.05) / (b + 0.05), opacity };
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_earlier_messages_keep_enough_contrast(
    server: BallsyProcess, launch: Callable[..., Any], theme: str
) -> None:
    page = _open(launch(color_scheme=theme), server.base_url)
    _say(page, "what is 7 times 8")
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=10_000)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    expect(page.locator(f"{USER}.past")).to_have_count(1)
    # Each bubble's text colour against the bubble's own background, with no fading.
    for selector in (f"{USER}.past", f"{ASSISTANT}.past"):
        measured = page.evaluate(CONTRAST, selector)
        assert measured["opacity"] == 1, f"{selector} is faded"
        assert measured["ratio"] >= 4.5, (theme, selector, measured)


def test_each_reply_says_who_answered(
    server: BallsyProcess, fake_gemini: FakeGemini, launch: Callable[..., Any]
) -> None:
    fake_gemini.script(Reply(chunks=["Rainbows ", "are ", "light."]))
    page = _open(launch(), server.base_url)
    _say(page, "what is 7 times 8")
    local = page.locator(ASSISTANT).last
    expect(local.locator(".message-meta")).to_have_text("Answered by Ballsy", timeout=10_000)
    _say(page, "tell me why rainbows appear")
    ai = page.locator(ASSISTANT).last
    expect(ai).to_contain_text("Rainbows are light.", timeout=10_000)
    expect(ai.locator(".message-meta")).to_have_text(re.compile(r"^Answered by AI · gemini-"))
    screenshot(page, "reply")
    _no_errors(page)


# --- the conversation list ------------------------------------------------------------------


def test_conversations_can_be_listed_opened_continued_and_deleted(
    server: BallsyProcess, launch: Callable[..., Any]
) -> None:
    context = launch()
    page = _open(context, server.base_url)
    with context.expect_page(timeout=10_000):
        _say(page, "play lofi beats on youtube")
    expect(page.locator(ASSISTANT).last).to_contain_text("YouTube", timeout=10_000)
    _say(page, "what is 7 times 8")
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=10_000)

    # After a reload the conversation is back, with the link that was opened.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
    link = page.locator(f"{ASSISTANT}.past a[href*='youtube.com/results']")
    expect(link).to_have_count(1)
    expect(link).to_have_text("lofi beats on YouTube")

    page.click("#new-conversation")
    expect(page.locator(USER)).to_have_count(0)
    _say(page, "hello")
    expect(page.locator(ASSISTANT).last).to_contain_text("Ballsy", timeout=10_000)

    page.click("#open-conversations")
    dialog = page.locator("#conversations")
    items = dialog.locator(".conversation-item")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("hello")
    expect(items.nth(1)).to_contain_text("play lofi beats on youtube")
    expect(items.nth(1)).to_contain_text("4 messages")
    screenshot(page, "conversations")

    # Open the older one: its messages and link come back, and the next turn continues it.
    items.nth(1).locator(".conversation-open").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(USER).first).to_contain_text("play lofi beats on youtube")
    expect(page.locator(f"{ASSISTANT} a[href*='youtube.com/results']")).to_have_count(1)
    _say(page, "thank you")
    expect(page.locator(ASSISTANT).last).to_contain_text("welcome", timeout=10_000)
    listed = _api(page, "GET", "/api/conversations")["body"]["conversations"]
    assert listed[0]["title"] == "play lofi beats on youtube" and listed[0]["messages"] == 6

    # Delete the other one (a second press confirms).
    page.click("#open-conversations")
    expect(items).to_have_count(2)
    hello = items.filter(has_text="hello")
    hello.get_by_role("button", name=re.compile("^Delete")).click()
    expect(hello.get_by_role("button", name=re.compile("^Delete"))).to_have_text("Really delete?")
    hello.get_by_role("button", name=re.compile("^Delete")).click()
    expect(items).to_have_count(1)
    expect(page.locator("#conversations-status")).to_have_text("Deleted.")
    listed = _api(page, "GET", "/api/conversations")["body"]["conversations"]
    assert [c["title"] for c in listed] == ["play lofi beats on youtube"]
    _no_errors(page)


# --- stopping, keys ---------------------------------------------------------------------------


def test_stop_button_stops_a_reply_and_tapping_the_orb_only_stops(
    server: BallsyProcess, fake_gemini: FakeGemini, launch: Callable[..., Any]
) -> None:
    fake_gemini.script(
        Reply(chunks=[f"sentence number {i}. " for i in range(40)], chunk_delay=0.25),
        Reply(chunks=[f"part {i}. " for i in range(40)], chunk_delay=0.25),
    )
    context = launch(*FAKE_MIC)
    context.add_init_script(path=str(FAKE_SPEECH))
    page = _open(context, f"{server.base_url}/?stt=server")
    shortcuts = page.locator("#shortcuts")
    expect(shortcuts).to_contain_text("Hold Space to talk")
    expect(shortcuts).to_contain_text("Esc stops Ballsy")
    stop = page.get_by_role("button", name="Stop", exact=True)
    expect(stop).to_be_hidden()

    _say(page, "tell me a very long story")
    bubble = page.locator(ASSISTANT).last
    expect(bubble).to_contain_text("sentence number 1.", timeout=10_000)
    expect(stop).to_be_visible()
    screenshot(page, "streaming")
    stop.click()
    expect(bubble).to_have_class(re.compile("interrupted"), timeout=5_000)
    assert fake_gemini.wait_for_disconnect(timeout=5.0), "the AI call was not cancelled"
    expect(page.locator("#orb")).to_have_attribute("data-state", "idle")
    expect(stop).to_be_hidden()

    # Tapping the orb during a reply stops it and does not open the microphone.
    _say(page, "tell me another long story")
    bubble = page.locator(ASSISTANT).last
    expect(bubble).to_contain_text("part 1.", timeout=10_000)
    page.click("#orb")
    expect(bubble).to_have_class(re.compile("interrupted"), timeout=5_000)
    expect(page.locator("#orb")).to_have_attribute("data-state", "idle")
    assert fake_gemini.wait_for_disconnect(timeout=5.0, count=2)
    # The next tap listens.
    page.click("#orb")
    expect(page.locator("#orb")).to_have_attribute("data-state", "listening", timeout=5_000)
    page.keyboard.press("Escape")
    expect(page.locator("#orb")).not_to_have_attribute("data-state", "listening", timeout=5_000)
    _no_errors(page)


def _spoken_wav(tmp_path: Path, text: str) -> Path:
    raw = speak_wav(text, tmp_path / "raw.wav")
    wav = tmp_path / "spoken.wav"
    subprocess.run(
        [which("sox"), str(raw), "-r", "48000", "-c", "1", "-b", "16", str(wav), "pad", "1", "2"],
        check=True,
        timeout=30,
    )
    return wav


def test_hold_space_to_talk(
    server: BallsyProcess, launch: Callable[..., Any], tmp_path: Path
) -> None:
    wav = _spoken_wav(tmp_path, "what is seven times eight")
    context = launch(*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}%noloop")
    page = _open(context, f"{server.base_url}/?stt=server")
    orb = page.locator("#orb")

    # In the text box Space types a space.
    page.fill("#command-input", "a")
    page.press("#command-input", "Space")
    assert page.input_value("#command-input") == "a "
    expect(orb).to_have_attribute("data-state", "idle")
    page.fill("#command-input", "")

    page.locator("body").click(position={"x": 5, "y": 300})  # focus away from the text box
    page.keyboard.down("Space")
    expect(orb).to_have_attribute("data-state", "listening", timeout=5_000)
    expect(page.locator("#orb-caption")).to_contain_text("let go of Space")
    screenshot(page, "listening")
    # Still held: the recording ends when the speaker falls silent, and is answered.
    expect(page.locator(USER).last).to_contain_text(
        re.compile(r"7 times 8|seven times eight", re.IGNORECASE), timeout=30_000
    )
    expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=15_000)
    page.keyboard.up("Space")

    # Letting go of Space stops listening.
    page.keyboard.down("Space")
    expect(orb).to_have_attribute("data-state", "listening", timeout=5_000)
    page.keyboard.up("Space")
    expect(orb).not_to_have_attribute("data-state", "listening", timeout=5_000)
    _no_errors(page)


# --- phone --------------------------------------------------------------------------------------

PLACEHOLDER_FITS = """() => {
  const input = document.getElementById("command-input");
  const style = getComputedStyle(input);
  const context = document.createElement("canvas").getContext("2d");
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return { text: context.measureText(input.placeholder).width, room };
}"""


def test_phone_shows_the_whole_placeholder_and_gives_the_conversation_room(
    server: BallsyProcess, launch: Callable[..., Any]
) -> None:
    page = _open(launch(viewport=PHONE), server.base_url)
    fits = page.evaluate(PLACEHOLDER_FITS)
    assert fits["text"] <= fits["room"], f"the placeholder is cut: {fits}"
    _say(page, "what time is it")
    expect(page.locator(ASSISTANT).last).to_contain_text(re.compile(r"\d"), timeout=10_000)
    orb = page.locator("#orb").bounding_box()
    panel = page.locator(".conversation-panel").bounding_box()
    assert orb is not None and panel is not None
    assert orb["height"] <= 0.12 * PHONE["height"], f"the orb keeps {orb['height']}px"
    assert panel["height"] >= 0.5 * PHONE["height"], f"the conversation gets {panel['height']}px"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "phone")
    _no_errors(page)


# --- accessibility --------------------------------------------------------------------------------


def _axe(page: Any, axe_script: Path, state: str) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe_script))
    result = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{state}: {v['id']} ({v['impact']}) {json.dumps([n['target'] for n in v['nodes']][:3])}"
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(
    server: BallsyProcess, launch: Callable[..., Any], axe_script: Path, scheme: str
) -> None:
    found: list[str] = []
    for name, viewport in (("desktop", None), ("phone", PHONE)):
        # The page's CSP refuses inline scripts; only this test's browser may inject axe.
        context = launch(viewport=viewport, color_scheme=scheme, bypass_csp=True)
        page = _open(context, server.base_url)
        expect(page.locator("html")).to_have_attribute("data-theme", scheme)
        found += _axe(page, axe_script, f"{name} first load")
        _say(page, "what is 7 times 8")
        expect(page.locator(ASSISTANT).last).to_contain_text("56", timeout=10_000)
        page.fill("#command-input", "x" * 1200)
        expect(page.locator("#too-long")).to_be_visible()
        found += _axe(page, axe_script, f"{name} conversation")
        page.fill("#command-input", "")
        page.click("#open-settings")
        expect(page.locator("#settings")).to_be_visible()
        found += _axe(page, axe_script, f"{name} settings")
        page.click("#settings-cancel")
        page.click("#open-conversations")
        expect(page.locator("#conversations .conversation-item")).to_have_count(1)
        found += _axe(page, axe_script, f"{name} conversations")
        page.click("#conversations-close")
    assert found == [], "\n".join(found)
