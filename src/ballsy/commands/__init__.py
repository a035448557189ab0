"""Local commands: pure functions, no I/O, the clock and memory passed in.

`route(text, ctx)` answers a command Ballsy can handle itself with a `LocalReply`,
or returns `NeedsAI` for everything that needs an AI model. For lookups the AI
answers, `is_uncertain` says when to give way to `search_fallback`.
"""

from ballsy.commands.base import CommandContext, LocalReply, NeedsAI
from ballsy.commands.hedging import (
    REASON_UNAVAILABLE,
    REASON_UNSURE,
    is_uncertain,
    search_fallback,
)
from ballsy.commands.router import route

__all__ = [
    "REASON_UNAVAILABLE",
    "REASON_UNSURE",
    "CommandContext",
    "LocalReply",
    "NeedsAI",
    "is_uncertain",
    "route",
    "search_fallback",
]
