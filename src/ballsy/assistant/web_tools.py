"""The `open` and `search` tools: the AI's way to the local web commands.

They reuse the commands a user can say directly (commands/web.py and sites.py), so
"play jazz on YouTube" means the same whether the router or the AI understood it, and
the page carries out the same `open_url` action.
"""

from __future__ import annotations

from typing import Any

from ballsy.assistant.tools import Tool, ToolContext, ToolError, ToolResult
from ballsy.commands import sites, web
from ballsy.commands.base import CommandContext, LocalReply
from ballsy.commands.normalize import understand

_MAX_TEXT = 200


def _text(arguments: dict[str, Any], name: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str):
        return ""
    return " ".join(value.split())[:_MAX_TEXT]


def _result(reply: LocalReply | None, what: str) -> ToolResult:
    if reply is None or reply.action is None:
        raise ToolError(f"I don't know how to open {what}.")
    return ToolResult(reply.text, reply.action, reply.data)


def _command_context(ctx: ToolContext) -> CommandContext:
    return CommandContext(now=ctx.now, timezone=ctx.zone)


async def _open(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    site = _text(arguments, "site")
    query = _text(arguments, "query")
    if not site:
        raise ToolError("Say which site or service to open.")
    if query:
        phrase = understand(f"{query} on {site}")
        return _result(web.answer_site_search(phrase, _command_context(ctx)), f"{query} on {site}")
    return _result(web.answer_open(understand(f"open {site}"), _command_context(ctx)), site)


async def _search(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    query = _text(arguments, "query")
    if not query:
        raise ToolError("Say what to search for.")
    # The web search the search fallback offers, opened as a link the page shows.
    return ToolResult(
        f"Searching the web for {query}.",
        "open_url",
        {"url": sites.google_search_url(query), "description": f"{query} on the web"},
    )


def web_tools() -> list[Tool]:
    return [
        Tool(
            name="open",
            description=(
                "Open a website or service in the user's browser, optionally searching it: "
                "site='youtube', query='jazz' plays jazz on YouTube; site='github' opens "
                "GitHub. Works for YouTube, Spotify, Netflix, Amazon, maps and well-known sites."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "site": {"type": "string", "description": "site or service name"},
                    "query": {"type": "string", "description": "what to look for there"},
                },
                "required": ["site"],
            },
            handler=_open,
        ),
        Tool(
            name="search",
            description="Open a web search for the user when they ask to look something up.",
            parameters={
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
            handler=_search,
        ),
    ]
