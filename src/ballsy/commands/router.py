"""Route one command to the local command that answers it, or to the AI.

The families are tried in order and the first answer wins. The order is the
original's, corrected where it misrouted: specific questions (the time, the
news, a calculation, "X on youtube") are tried before the generic who/what-is
lookup, which in the original caught "what's the time" and "what's 7 times 8".
"""

from __future__ import annotations

from collections.abc import Callable

from ballsy.commands import web
from ballsy.commands.base import CommandContext, LocalReply, NeedsAI, NeedsTool
from ballsy.commands.calculator import answer_arithmetic
from ballsy.commands.clock import answer_clock
from ballsy.commands.conversation import answer_conversation
from ballsy.commands.lookup import answer_chat, answer_lookup
from ballsy.commands.normalize import Utterance, understand
from ballsy.commands.timers import TimerRequest, answer_timers
from ballsy.commands.weather import answer_weather

Decision = LocalReply | NeedsAI | NeedsTool | TimerRequest
Handler = Callable[[Utterance, CommandContext], Decision | None]

NOT_HEARD_REPLY = "Sorry, I didn't catch that. Could you say it again?"

HANDLERS: tuple[Handler, ...] = (
    answer_conversation,  # greetings, name, small talk, thanks, goodbyes (exit)
    answer_timers,  # timers, alarms and reminders (carried out by the assistant)
    answer_clock,  # time and date
    answer_arithmetic,  # calculations, including "plus six" after a result
    answer_weather,  # "will it rain tomorrow in Lyon": the weather tool, without the AI
    web.answer_site_search,  # "X on youtube/spotify/netflix/amazon/twitter/facebook/instagram"
    web.answer_maps,  # directions and places on a map
    web.answer_news,
    web.answer_email,
    web.answer_search,  # "open X on google", "search for X"
    web.answer_open,  # streaming services, well-known sites, else an app
    answer_lookup,  # who/what-is for the AI, with the search fallback
)


def route(text: str, ctx: CommandContext) -> Decision:
    """Answer `text` locally (`LocalReply`), name the tool that answers it (`NeedsTool`),
    say what to do with the user's timers (`TimerRequest`, carried out by the assistant),
    or say what the AI must do (`NeedsAI`).

    Pure: no I/O, the clock and the last result come from `ctx`. Fast on any input:
    every pattern is linear and every calculation bounded.
    """
    utterance = understand(text)
    if not utterance.text:
        return LocalReply(text=NOT_HEARD_REPLY, family="empty")
    for handler in HANDLERS:
        reply = handler(utterance, ctx)
        if reply is not None:
            return reply
    return answer_chat(utterance, ctx)
