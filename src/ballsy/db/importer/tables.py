"""The five tables the import carries: target columns, their kinds and SQLite sources.

Both source schemas are described here: the prototype's (`timestamp` columns, no Ballsy
extras) and Ballsy's own SQLite schema (the target's columns, one to one). A target column
takes the first of its source names the SQLite table has; a column the source lacks reads
as NULL and gets the target's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["int", "text", "bool", "ts", "float", "json"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return tuple(column.kind for column in self.columns)


def _col(name: str, kind: Kind, *sources: str) -> Column:
    return Column(name, kind, sources or (name,))


USERS = TableSpec(
    "users",
    (
        _col("id", "int"),
        _col("username", "text"),
        _col("created_at", "ts"),
        _col("token_hash", "text"),
        _col("token_issued_at", "ts"),
        _col("last_seen_at", "ts"),
        _col("last_result", "text"),
        _col("is_placeholder", "bool"),
    ),
)
CONVERSATIONS = TableSpec(
    "conversations",
    (
        _col("id", "int"),
        _col("user_id", "int"),
        _col("started_at", "ts", "started_at", "created_at", "timestamp"),
        _col("last_activity_at", "ts"),
    ),
)
MESSAGES = TableSpec(
    "messages",
    (
        _col("id", "int"),
        _col("conversation_id", "int"),
        _col("is_user", "bool"),
        _col("content", "text"),
        _col("created_at", "ts", "created_at", "timestamp"),
        _col("turn_id", "text"),
        _col("interrupted", "bool"),
    ),
)
SETTINGS = TableSpec(
    "settings",
    (
        _col("id", "int"),
        _col("user_id", "int"),
        _col("voice", "text"),
        _col("voice_speed", "int"),
        _col("theme", "text"),
        _col("timezone", "text"),
    ),
)
COMMAND_HISTORY = TableSpec(
    "command_history",
    (
        _col("id", "int"),
        _col("user_id", "int"),
        _col("command", "text"),
        _col("result", "text"),
        _col("created_at", "ts", "created_at", "timestamp"),
        _col("turn_id", "text"),
        _col("source", "text"),
        _col("family", "text"),
        _col("action", "text"),
        _col("action_data", "json"),
        _col("interrupted", "bool"),
        _col("first_text_ms", "float"),
        _col("total_ms", "float"),
    ),
)

# In foreign-key order: a table comes after every table it references.
TABLES: tuple[TableSpec, ...] = (USERS, CONVERSATIONS, MESSAGES, SETTINGS, COMMAND_HISTORY)

# Character limits of the target's varchar columns (PostgreSQL enforces them).
VARCHAR_LIMITS: dict[tuple[str, str], int] = {
    ("users", "username"): 150,
    ("users", "token_hash"): 64,
    ("users", "last_result"): 4200,
    ("messages", "turn_id"): 36,
    ("settings", "voice"): 200,
    ("settings", "theme"): 50,
    ("settings", "timezone"): 64,
    ("command_history", "turn_id"): 36,
    ("command_history", "source"): 16,
    ("command_history", "family"): 32,
    ("command_history", "action"): 32,
}

DEFAULT_VOICE_SPEED = 180
SETTINGS_DEFAULTS = {"voice": "Daniel", "theme": "light"}
