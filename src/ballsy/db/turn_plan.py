"""What a batch of stored turns writes, decided in Python from one read of the database.

The writer reads, for the batch's users, their memory (last arithmetic result, stored
time zone) and their latest conversation; `plan_batch` then decides, turn by turn and in
order, which turns are stale, which conversation each joins (or starts), and what each
user's row becomes, and the plan's rows are keyed by the models' column names. Each
database's writer (db/turn_postgres.py, db/turn_sqlite.py) turns them into a few
set-based statements built from the models; nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Column, Table, func, type_coerce

from ballsy.db.models import (
    CommandHistory,
    Conversation,
    Message,
    User,
    UserSettings,
    UTCDateTime,
)
from ballsy.db.repositories import TurnRecord

UNCHANGED: Any = object()

# What a turn's answer was computed from: the user's (last_result, stored time zone).
Memory = tuple[str | None, str | None]

# A turn waiting to be stored: the record, its new arithmetic memory (or UNCHANGED), and
# the memory its answer was computed from (checked before storing), or None.
Turn = tuple[TurnRecord, Any, Memory | None]

# PostgreSQL's text columns refuse NUL; stored text carries the replacement character.
_NUL = "\x00"
_REPLACEMENT = "\ufffd"


@dataclass(slots=True)
class NewConversation:
    """A conversation the batch starts; its id is the database's to give."""

    user_id: int
    started_at: datetime
    last_activity_at: datetime
    # Set by a writer that inserts it on its own (SQLite), for the turns' messages.
    id: int | None = None


@dataclass(slots=True)
class BatchPlan:
    """Everything one batch writes."""

    # Indexes (in the batch) of the turns not stored: their memory changed.
    stale: set[int] = field(default_factory=set)
    new_conversations: list[NewConversation] = field(default_factory=list)
    # Existing conversation id -> its new last activity.
    touched: dict[int, datetime] = field(default_factory=dict)
    # The turns to store, in order, each with its conversation (an id, or one it starts).
    turns: list[tuple[TurnRecord, int | NewConversation]] = field(default_factory=list)
    # User id -> (last seen, new last_result or UNCHANGED).
    users: dict[int, tuple[datetime, Any]] = field(default_factory=dict)
    # The memory the plan assumed for the users whose turns checked it: a writer that
    # read without a lock stores the plan only if the database still holds exactly this.
    assumed: dict[int, Memory] = field(default_factory=dict)


def plan_batch(
    turns: list[Turn],
    *,
    memory: dict[int, Memory],
    latest: dict[int, tuple[int, datetime]],
    idle_gap: timedelta,
) -> BatchPlan:
    """Decide the batch, in order: a turn whose `expected` memory is not the user's
    (after the batch's earlier turns) is stale; a turn joins its user's latest
    conversation if that was active within `idle_gap` of the turn, else starts one.
    `memory` and `latest` are what the database holds for the batch's users (a user
    missing from `memory` is left to the foreign key: the turn is refused)."""
    plan = BatchPlan()
    current_memory = dict(memory)
    open_by_user: dict[int, tuple[int | NewConversation, datetime]] = dict(latest)
    for index, (turn, last_result, expected) in enumerate(turns):
        user_id = turn.user_id
        known = current_memory.get(user_id)
        if expected is not None and known is not None:
            if user_id not in plan.assumed:
                plan.assumed[user_id] = memory[user_id]
            if known != expected:
                plan.stale.add(index)
                continue
        if known is not None and last_result is not UNCHANGED:
            current_memory[user_id] = (last_result, known[1])
        at = turn.created_at
        current = open_by_user.get(user_id)
        conversation: int | NewConversation
        if current is None or current[1] <= at - idle_gap:
            conversation = NewConversation(user_id, at, at)
            plan.new_conversations.append(conversation)
            open_by_user[user_id] = (conversation, at)
        else:
            conversation = current[0]
            if at > current[1]:
                open_by_user[user_id] = (conversation, at)
                if isinstance(conversation, NewConversation):
                    conversation.last_activity_at = at
                else:
                    plan.touched[conversation] = at
        plan.turns.append((storable(turn), conversation))
        seen, result = plan.users.get(user_id, (at, UNCHANGED))
        plan.users[user_id] = (
            max(seen, at),
            result if last_result is UNCHANGED else last_result,
        )
    return plan


def storable(turn: TurnRecord) -> TurnRecord:
    """The turn as stored: NUL characters (which PostgreSQL's text columns refuse, and
    an AI's reply may carry) become U+FFFD, on every database alike."""
    if _NUL not in turn.command and _NUL not in turn.response:
        return turn
    return replace(
        turn,
        command=turn.command.replace(_NUL, _REPLACEMENT),
        response=turn.response.replace(_NUL, _REPLACEMENT),
    )


# The tables a batch writes, as the models define them.
USERS = cast(Table, User.__table__)
SETTINGS = cast(Table, UserSettings.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)
MESSAGES = cast(Table, Message.__table__)
HISTORY = cast(Table, CommandHistory.__table__)

# A conversation's latest activity: the order the conversation list shows, and how the
# open one (the one a turn joins) is chosen, so a conversation reopened from the list
# takes the next turn.
ACTIVITY = type_coerce(
    func.coalesce(Conversation.last_activity_at, Conversation.started_at), UTCDateTime()
)


def stored_columns(table: Table) -> list[Column[Any]]:
    """The columns a batch fills: all but the generated primary key."""
    return [c for c in table.columns if not c.primary_key]


def message_rows(plan: BatchPlan) -> list[dict[str, Any]]:
    """Two rows per stored turn (the words, the reply); a turn joining a conversation the
    batch starts names it by (new_user_id, new_started_at) until it has an id."""
    rows: list[dict[str, Any]] = []
    for turn, conversation in plan.turns:
        if isinstance(conversation, NewConversation):
            conversation_id, new_user, new_at = (
                conversation.id,
                conversation.user_id,
                conversation.started_at,
            )
        else:
            conversation_id, new_user, new_at = conversation, None, None
        common = {
            "conversation_id": conversation_id,
            "new_user_id": new_user,
            "new_started_at": new_at,
            "created_at": turn.created_at,
            "turn_id": turn.turn_id,
        }
        rows.append({**common, "is_user": True, "content": turn.command, "interrupted": False})
        rows.append(
            {**common, "is_user": False, "content": turn.response, "interrupted": turn.interrupted}
        )
    return rows


def history_rows(plan: BatchPlan) -> list[dict[str, Any]]:
    """One row per stored turn."""
    return [
        {
            "user_id": turn.user_id,
            "command": turn.command,
            "result": turn.response,
            "created_at": turn.created_at,
            "turn_id": turn.turn_id,
            "source": turn.source,
            "family": turn.family,
            "action": turn.action,
            "action_data": turn.action_data,
            "interrupted": turn.interrupted,
            "first_text_ms": turn.first_text_ms,
            "total_ms": turn.total_ms,
        }
        for turn, _ in plan.turns
    ]


def user_rows(plan: BatchPlan) -> list[dict[str, Any]]:
    """One row per user the batch writes: last seen, and the memory if a turn set it."""
    return [
        {
            "id": user_id,
            "last_seen_at": seen,
            "set_result": result is not UNCHANGED,
            "last_result": None if result is UNCHANGED else result,
        }
        for user_id, (seen, result) in plan.users.items()
    ]
