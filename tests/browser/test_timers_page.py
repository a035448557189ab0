"""Timers on the page in headless Chromium: a timer typed on one page rings on it and on a
second page of the same user (chime, spoken sentence, notification), and the timers dialog
lists what is to come and cancels it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_page import ASSISTANT, _open, _say
from tests.servers import BallsyProcess

pytestmark = pytest.mark.browser

RING = "Time's up! Your tea timer is done."


def _rung(page: Any) -> dict[str, Any]:
    # Until the timer rings (a generous deadline: the machine is shared).
    page.wait_for_function(
        "(ring) => window.ballsy.spoken.some((entry) => entry.text === ring)",
        arg="Your tea timer is done.",  # spoken sentence by sentence
        timeout=60_000,
    )
    ring: dict[str, Any] = page.evaluate("window.ballsy.lastRing")
    return ring


def test_a_timer_rings_on_every_page_of_its_user_and_the_list_cancels(
    server: BallsyProcess, launch: Callable[..., Any]
) -> None:
    context = launch()
    context.grant_permissions(["notifications"], origin=server.base_url)
    first = _open(context, server.base_url)
    second = context.new_page()  # the same profile: the same user, a second page
    second.goto(server.base_url)
    expect(second.locator("#connection")).to_have_attribute(
        "data-state", "connected", timeout=15_000
    )
    _say(first, "set a tea timer for 2 seconds")
    expect(first.locator(ASSISTANT).last).to_contain_text("Tea timer set for 2 seconds")
    for page in (first, second):
        ring = _rung(page)
        assert ring["notified"] is True
        expect(page.locator("#conversation li.message.system").last).to_contain_text(RING)
    assert _rung(first)["chimed"] is True  # the page that was typed in may play sound

    _say(first, "set a pasta timer for 20 minutes")
    expect(first.locator(ASSISTANT).last).to_contain_text("Pasta timer set for 20 minutes")
    first.click("#open-timers")
    item = first.locator("#timer-list li")
    expect(item).to_have_count(1)
    expect(item.first).to_contain_text("Timer: pasta timer, ")
    item.first.get_by_role("button", name="Cancel").click()
    expect(first.locator("#timers-status")).to_have_text("No timers, alarms or reminders.")
    expect(item).to_have_count(0)
