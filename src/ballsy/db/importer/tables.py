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
    required: bool  # NOT NULL in the target


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
    return Column(name, kind, sources or (name,), required=False)


def _req(name: str, kind: Kind, *sources: str) -> Column:
    return Column(name, kind, sources or (name,), required=True)


USERS = TableSpec(
    "users",
    (
        _req("id", "int"),
        _req("username", "text"),
        _req("created_at", "ts"),
        _col("token_hash", "text"),
        _col("token_issued_at", "ts"),
        _col("last_seen_at", "ts"),
        _col("last_result", "text"),
        _req("is_placeholder", "bool"),
    ),
)
CONVERSATIONS = TableSpec(
    "conversations",
    (
        _req("id", "int"),
        _req("user_id", "int"),
        _req("started_at", "ts", "started_at", "created_at", "timestamp"),
        _col("last_activity_at", "ts"),
    ),
)
MESSAGES = TableSpec(
    "messages",
    (
        _req("id", "int"),
        _req("conversation_id", "int"),
        _req("is_user", "bool"),
        _req("content", "text"),
        _req("created_at", "ts", "created_at", "timestamp"),
        _col("turn_id", "text"),
        _req("interrupted", "bool"),
    ),
)
SETTINGS = TableSpec(
    "settings",
    (
        _req("id", "int"),
        _req("user_id", "int"),
        _req("voice", "text"),
        _req("voice_speed", "int"),
        _req("theme", "text"),
        _col("timezone", "text"),
    ),
)
COMMAND_HISTORY = TableSpec(
    "command_history",
    (
        _req("id", "int"),
        _req("user_id", "int"),
        _req("command", "text"),
        _col("result", "text"),
        _req("created_at", "ts", "created_at", "timestamp"),
        _col("turn_id", "text"),
        _col("source", "text"),
        _col("family", "text"),
        _col("action", "text"),
        _col("action_data", "json"),
        _req("interrupted", "bool"),
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
