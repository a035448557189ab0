"""Timers, alarms and reminders as tools the AI may call (function calling).

The command family (`commands/timers.py`) understands the common phrasings itself; these
tools let the AI handle the rest ("set a timer for as long as a soft-boiled egg takes").
Each handler stores through the same `Timers` service as the spoken commands, and answers
with the same sentences.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ballsy.assistant.timers import Timers, TooManyTimers, view
from ballsy.assistant.tools import Tool, ToolContext, ToolError, ToolResult
from ballsy.commands.timers import (
    LABEL_MAX_CHARS,
    MAX_AHEAD_SECONDS,
    MAX_TIMER_SECONDS,
    CancelItems,
    Kind,
    SetItem,
    list_reply,
    set_reply,
)
from ballsy.commands.when import local_instant

_KINDS = ["timer", "alarm", "reminder"]


def _user(ctx: ToolContext) -> int:
    if ctx.user_id is None:  # the ToolBox offers needs_user tools to signed-in users only
        raise ToolError("Timers need a signed-in user.")
    return ctx.user_id


def _label(args: dict[str, Any], key: str) -> str | None:
    value = args.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ToolError(f"'{key}' must be a string.")
    return value.strip()[:LABEL_MAX_CHARS] or None


def _whole(args: dict[str, Any], key: str) -> int | None:
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError(f"'{key}' must be a number.")
    return round(value)


def timer_tools(timers: Timers) -> list[Tool]:
    """set_timer, set_reminder, list_timers and cancel_timer, stored for the caller."""

    async def store(ctx: ToolContext, item: SetItem) -> ToolResult:
        try:
            stored = await timers.add(_user(ctx), item, zone=ctx.zone, now=ctx.now)
        except TooManyTimers:
            raise ToolError(
                "The user has too many timers waiting; they must cancel some."
            ) from None
        return ToolResult(
            text=set_reply(item, ctx.now, ctx.zone),
            action="timer_set",
            data={"id": stored.id, "kind": stored.kind, "due_at": stored.due_at.isoformat()},
        )

    async def set_timer(ctx: ToolContext, args: dict[str, Any]) -> ToolResult:
        seconds = _whole(args, "seconds")
        if seconds is None or not 1 <= seconds <= MAX_TIMER_SECONDS:
            raise ToolError(f"'seconds' must be between 1 and {MAX_TIMER_SECONDS}.")
        item = SetItem(
            kind="timer",
            due_at=ctx.now + timedelta(seconds=seconds),
            label=_label(args, "label"),
            seconds=seconds,
        )
        return await store(ctx, item)

    async def set_reminder(ctx: ToolContext, args: dict[str, Any]) -> ToolResult:
        kind: Kind = "alarm" if args.get("kind") == "alarm" else "reminder"
        in_seconds = _whole(args, "in_seconds")
        at = args.get("at")
        note: str | None = None
        if in_seconds is not None:
            if not 1 <= in_seconds <= MAX_AHEAD_SECONDS:
                raise ToolError("'in_seconds' must be between 1 and a year.")
            due = ctx.now + timedelta(seconds=in_seconds)
        elif isinstance(at, str):
            try:
                wall = datetime.fromisoformat(at)
            except ValueError:
                raise ToolError(
                    "'at' must be a local date and time like 2026-12-03T18:30."
                ) from None
            if wall.tzinfo is not None:
                due = wall
            else:
                moment = local_instant(wall, ctx.zone)
                due, note = moment.at, moment.note
        else:
            raise ToolError("Give 'at' (local date and time) or 'in_seconds'.")
        if due <= ctx.now:
            raise ToolError("That time has already passed.")
        if (due - ctx.now).total_seconds() > MAX_AHEAD_SECONDS:
            raise ToolError("Reminders can be set up to a year ahead.")
        item = SetItem(kind=kind, due_at=due, label=_label(args, "text"), note=note)
        return await store(ctx, item)

    async def list_timers(ctx: ToolContext, args: dict[str, Any]) -> ToolResult:
        kind = args.get("kind")
        items = [view(i) for i in await timers.pending(_user(ctx))]
        chosen: Kind | None = kind if kind in _KINDS else None
        return ToolResult(
            text=list_reply(items, chosen, ctx.now, ctx.zone),
            data={"ids": [i.id for i in items]},
        )

    async def cancel_timer(ctx: ToolContext, args: dict[str, Any]) -> ToolResult:
        user_id = _user(ctx)
        timer_id = _whole(args, "id")
        if timer_id is not None:
            cancelled = await timers.cancel(user_id, [timer_id])
            if not cancelled:
                raise ToolError(f"There is no timer, alarm or reminder {timer_id}.")
            return ToolResult(
                text=f"Cancelled {cancelled[0].kind} {timer_id}.",
                action="timer_cancelled",
                data={"ids": [timer_id]},
            )
        kind = args.get("kind")
        intent = CancelItems(
            kind=kind if kind in _KINDS else None,
            label=_label(args, "label"),
            everything=bool(args.get("all")),
        )
        text, cancelled_items = await timers.cancel_matching(
            user_id, intent, now=ctx.now, zone=ctx.zone
        )
        return ToolResult(
            text=text,
            action="timer_cancelled" if cancelled_items else None,
            data={"ids": [i.id for i in cancelled_items]} if cancelled_items else None,
        )

    return [
        Tool(
            name="set_timer",
            description="Start a countdown timer for the user (it rings on their pages).",
            parameters={
                "type": "object",
                "properties": {
                    "seconds": {"type": "integer", "description": "How long, in seconds."},
                    "label": {"type": "string", "description": "A name, e.g. 'pasta'."},
                },
                "required": ["seconds"],
            },
            handler=set_timer,
            needs_user=True,
        ),
        Tool(
            name="set_reminder",
            description=(
                "Remind the user of something, or wake them (kind 'alarm'), at a local date "
                "and time or after some seconds."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "text": {"type": "string", "description": "What to remind them of."},
                    "at": {
                        "type": "string",
                        "description": "Local date and time in the user's zone, ISO 8601, "
                        "e.g. 2026-12-03T18:30.",
                    },
                    "in_seconds": {"type": "integer", "description": "Or: seconds from now."},
                    "kind": {"type": "string", "enum": ["reminder", "alarm"]},
                },
            },
            handler=set_reminder,
            needs_user=True,
        ),
        Tool(
            name="list_timers",
            description="List the user's timers, alarms and reminders still to come.",
            parameters={
                "type": "object",
                "properties": {"kind": {"type": "string", "enum": _KINDS}},
            },
            handler=list_timers,
            needs_user=True,
        ),
        Tool(
            name="cancel_timer",
            description=(
                "Cancel the user's timer, alarm or reminder by id, or by kind and label "
                "(all of that kind with all=true)."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "kind": {"type": "string", "enum": _KINDS},
                    "label": {"type": "string", "description": "e.g. 'pasta' or '7 am'."},
                    "all": {"type": "boolean"},
                },
            },
            handler=cancel_timer,
            needs_user=True,
        ),
    ]
