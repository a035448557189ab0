"""Generate SQLite databases to import: the prototype's schema with every quirk, and Ballsy's.

`build_legacy_db` writes a `voice_assistant.db` the way real files look (see the reference's
section 3): mixed timestamp formats, 0/1 and text booleans, any Unicode, rows pointing at
users or conversations that do not exist. With `lax=True` the tables are created without
their UNIQUE/NOT NULL constraints (as hand-edited or older files are), which lets it add
duplicate usernames, duplicate settings and NULLs in required columns. It returns the
facts a test needs: which row ids carry which quirk. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import sqlite3
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_LEGACY_DDL = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT {unique} {not_null},
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER REFERENCES users(id),
    started_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER REFERENCES conversations(id),
    is_user BOOLEAN {not_null},
    content TEXT {not_null},
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE settings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER {unique} REFERENCES users(id),
    voice TEXT DEFAULT 'Daniel',
    voice_speed INTEGER DEFAULT 180,
    theme TEXT DEFAULT 'light'
);
CREATE TABLE command_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER REFERENCES users(id),
    command TEXT {not_null},
    result TEXT,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
"""

# Text that must survive byte for byte: scripts, emoji with modifiers, combining marks,
# bidi, zero-width characters, line endings, quotes, backslashes and COPY's specials.
UNICODE_SAMPLES = (
    "hello 👋🏽 world",
    "مرحبا بالعالم",
    "こんにちは世界",
    "e\u0301 vs é",
    "family: 👨\u200d👩\u200d👧",
    "line one\r\nline two\ttab",
    "quotes ' \" and backslash \\ and \\N and ,;|",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 astral plane 𐍈",
    "\u202eright-to-left override",
    "",
    "  leading and trailing spaces  ",
    "Ω≈ç√∫˜µ≤≥÷ ﷽",
)
_WORDS = (
    "what",
    "is",
    "the",
    "time",
    "open",
    "youtube",
    "play",
    "music",
    "who",
    "was",
    "Ada",
    "Lovelace",
    "weather",
    "in",
    "Paris",
    "hello",
    "calculate",
    "2+2",
    "news",
)
BASE_TIME = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


@dataclass
class LegacyFacts:
    """What was generated: row counts and the ids carrying each quirk."""

    path: Path
    rows: dict[str, int] = field(default_factory=dict)
    # (table, rule) -> ids the importer must report under that rule.
    expected_repairs: dict[tuple[str, str], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )
    orphan_user_ids: set[int] = field(default_factory=set)
    orphan_conversation_ids: set[int] = field(default_factory=set)
    unicode_message_ids: dict[int, str] = field(default_factory=dict)
    fractional_ts_message_ids: set[int] = field(default_factory=set)
    text_bool_message_ids: dict[int, bool] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def expect(self, table: str, rule: str, row_id: int) -> None:
        self.expected_repairs[(table, rule)].add(row_id)


def _timestamp(rng: random.Random, index: int, quirks: bool = True) -> tuple[Any, bool]:
    """A timestamp in one of the shapes real files hold; (value, has fraction).

    Without quirks: only the prototype's own shapes (with and without fractions).
    """
    moment = BASE_TIME + timedelta(seconds=index * 37, microseconds=rng.randrange(1_000_000))
    shape = index % 6 if quirks else index % 2
    if shape == 0:
        return moment.strftime("%Y-%m-%d %H:%M:%S"), False
    if shape == 1:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f"), True
    if shape == 2:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], True
    if shape == 3:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), False
    if shape == 4:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") + "+00:00", True
    return moment.strftime("%Y-%m-%d %H:%M:%S"), False


_BOOL_SHAPES: tuple[tuple[Any, bool], ...] = (
    (1, True),
    (0, False),
    ("true", True),
    ("false", False),
    ("t", True),
    ("f", False),
    ("TRUE", True),
    ("no", False),
    (1, True),
    (0, False),
)


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 9)))


def build_legacy_db(
    path: Path,
    *,
    users: int = 30,
    conversations: int = 60,
    messages: int = 300,
    commands: int = 150,
    seed: int = 7,
    lax: bool = True,
    quirks: bool = True,
) -> LegacyFacts:
    """Write a prototype database at `path`; return what it holds."""
    rng = random.Random(seed)
    facts = LegacyFacts(path)
    ddl = _LEGACY_DDL.format(unique="" if lax else "UNIQUE", not_null="" if lax else "NOT NULL")
    conn = sqlite3.connect(path)
    try:
        conn.executescript(ddl)
        _users(conn, rng, facts, users, lax=lax, quirks=quirks)
        _conversations(conn, rng, facts, users, conversations, lax=lax, quirks=quirks)
        _messages(conn, rng, facts, conversations, messages, lax=lax, quirks=quirks)
        _settings(conn, rng, facts, users, lax=lax, quirks=quirks)
        _commands(conn, rng, facts, users, commands, lax=lax, quirks=quirks)
        conn.commit()
        for table in ("users", "conversations", "messages", "settings", "command_history"):
            facts.rows[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()
    return facts


def _users(
    conn: sqlite3.Connection,
    rng: random.Random,
    facts: LegacyFacts,
    count: int,
    *,
    lax: bool,
    quirks: bool,
) -> None:
    rows: list[tuple[Any, ...]] = []
    for user_id in range(1, count + 1):
        created, _ = _timestamp(rng, user_id, quirks)
        rows.append((user_id, f"user{user_id}", created))
    if quirks and count >= 6:
        rows[1] = (2, "Zoë 🎧 ünïcødé", rows[1][2])
        # A real user already named like the placeholder the importer will create.
        rows[2] = (3, f"legacy-orphan-{count + 1001}", rows[2][2])
        if lax:
            rows[3] = (4, "user1", rows[3][2])  # duplicate of user 1
            facts.expect("users", "duplicate_username_renamed", 4)
            rows[4] = (5, None, None)  # NULL username and NULL created_at
            facts.expect("users", "bad_username_renamed", 5)
            facts.expect("users", "null_timestamp_epoch", 5)
            rows[5] = (6, "x" * 200, "yesterday-ish")  # too long; unreadable timestamp
            facts.expect("users", "bad_username_renamed", 6)
            facts.expect("users", "bad_timestamp_epoch", 6)
    conn.executemany("INSERT INTO users (id, username, created_at) VALUES (?, ?, ?)", rows)


def _conversations(
    conn: sqlite3.Connection,
    rng: random.Random,
    facts: LegacyFacts,
    users: int,
    count: int,
    *,
    lax: bool,
    quirks: bool,
) -> None:
    rows: list[tuple[Any, ...]] = []
    for conv_id in range(1, count + 1):
        started, _ = _timestamp(rng, conv_id * 3, quirks)
        rows.append((conv_id, rng.randint(1, users), started))
    if quirks and count >= 10:
        missing = users + 1001
        rows[6] = (7, missing, rows[6][2])  # user deleted in the prototype
        facts.orphan_user_ids.add(missing)
        facts.expect("conversations", "orphan_user_placeholder", 7)
        rows[7] = (8, "abc", rows[7][2])  # not an integer at all
        facts.expect("conversations", "unknown_user_placeholder", 8)
        if lax:
            rows[8] = (9, None, rows[8][2])
            facts.expect("conversations", "unknown_user_placeholder", 9)
    conn.executemany("INSERT INTO conversations (id, user_id, started_at) VALUES (?, ?, ?)", rows)


def _messages(
    conn: sqlite3.Connection,
    rng: random.Random,
    facts: LegacyFacts,
    conversations: int,
    count: int,
    *,
    lax: bool,
    quirks: bool,
) -> None:
    rows: list[tuple[Any, ...]] = []
    for msg_id in range(1, count + 1):
        stamp, fractional = _timestamp(rng, msg_id, quirks)
        flag, truth = (
            _BOOL_SHAPES[msg_id % len(_BOOL_SHAPES)] if quirks else (msg_id % 2, bool(msg_id % 2))
        )
        if isinstance(flag, str):
            facts.text_bool_message_ids[msg_id] = truth
        if fractional:
            facts.fractional_ts_message_ids.add(msg_id)
        rows.append((msg_id, rng.randint(1, conversations), flag, _sentence(rng), stamp))
    if quirks and count >= 40:
        for offset, sample in enumerate(UNICODE_SAMPLES):
            msg_id = 11 + offset
            rows[msg_id - 1] = (msg_id, rows[msg_id - 1][1], 1, sample, rows[msg_id - 1][4])
            facts.unicode_message_ids[msg_id] = sample
            facts.text_bool_message_ids.pop(msg_id, None)
        rows[29] = (30, rows[29][1], 0, "nul \x00 inside", rows[29][4])
        facts.expect("messages", "nul_replaced", 30)
        missing_conv = conversations + 500
        rows[30] = (31, missing_conv, 1, "orphan message", rows[30][4])
        facts.orphan_conversation_ids.add(missing_conv)
        facts.expect("messages", "orphan_conversation_placeholder", 31)
        rows[31] = (32, rows[31][1], "maybe", "odd flag", 1709294400)  # epoch seconds
        facts.expect("messages", "bad_boolean_false", 32)
        facts.text_bool_message_ids.pop(32, None)
        rows[32] = (33, rows[32][1], 1, "x" * 10_000, "not a time")
        facts.expect("messages", "bad_timestamp_epoch", 33)
        if lax:
            rows[33] = (34, None, None, None, None)
            for rule in (
                "unknown_conversation_placeholder",
                "null_boolean_false",
                "null_text_emptied",
                "null_timestamp_epoch",
            ):
                facts.expect("messages", rule, 34)
            facts.text_bool_message_ids.pop(34, None)
        for msg_id in range(30, 36):  # rewritten above: their flags and times are quirks
            facts.text_bool_message_ids.pop(msg_id, None)
            facts.fractional_ts_message_ids.discard(msg_id)
    conn.executemany(
        "INSERT INTO messages (id, conversation_id, is_user, content, timestamp) "
        "VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    if quirks and count >= 40:
        # Bytes that are not UTF-8, stored as TEXT (SQLite does not check).
        conn.execute("UPDATE messages SET content = CAST(x'6f6b20ff20fe' AS TEXT) WHERE id = 35")
        facts.expect("messages", "invalid_utf8_replaced", 35)


def _settings(
    conn: sqlite3.Connection,
    rng: random.Random,
    facts: LegacyFacts,
    users: int,
    *,
    lax: bool,
    quirks: bool,
) -> None:
    rows: list[tuple[Any, ...]] = []
    voices = ("Daniel", "Samantha", "Alex", "Karen")
    themes = ("light", "dark")
    for user_id in range(1, users + 1):
        rows.append(
            (user_id, user_id, rng.choice(voices), rng.choice((150, 180, 220)), rng.choice(themes))
        )
    if quirks and users >= 6:
        next_id = users + 1
        rows.append((next_id, users + 1001, "Alex", 200, "dark"))  # orphan (user exists as ph)
        facts.expect("settings", "orphan_user_placeholder", next_id)
        rows.append((next_id + 1, users + 2002, "Alex", "fast", "t" * 60))
        facts.orphan_user_ids.add(users + 2002)
        facts.expect("settings", "orphan_user_placeholder", next_id + 1)
        facts.expect("settings", "bad_setting_defaulted", next_id + 1)  # speed and theme
        if lax:
            rows.append((next_id + 2, 1, "Karen", 150, "dark"))  # second row for user 1
            facts.expect("settings", "duplicate_settings_dropped", next_id + 2)
            rows[1] = (2, 2, None, None, None)
            facts.expect("settings", "bad_setting_defaulted", 2)
    conn.executemany(
        "INSERT INTO settings (id, user_id, voice, voice_speed, theme) VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def _commands(
    conn: sqlite3.Connection,
    rng: random.Random,
    facts: LegacyFacts,
    users: int,
    count: int,
    *,
    lax: bool,
    quirks: bool,
) -> None:
    rows: list[tuple[Any, ...]] = []
    for cmd_id in range(1, count + 1):
        stamp, _ = _timestamp(rng, cmd_id * 5, quirks)
        result = None if cmd_id % 17 == 0 else _sentence(rng)
        rows.append((cmd_id, rng.randint(1, users), _sentence(rng), result, stamp))
    if quirks and count >= 10:
        rows[4] = (5, users + 1001, "who are you", "I'm Ballsy", rows[4][4])
        facts.expect("command_history", "orphan_user_placeholder", 5)
        rows[5] = (6, 1, "emoji 🧮 2+2", "4 ✅", rows[5][4])
        if lax:
            rows[6] = (7, 1, None, "answer to nothing", rows[6][4])
            facts.expect("command_history", "null_text_emptied", 7)
    conn.executemany(
        "INSERT INTO command_history (id, user_id, command, result, timestamp) "
        "VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def build_ballsy_db(path: Path, *, users: int = 5, commands: int = 20) -> dict[str, Any]:
    """A database in Ballsy's own SQLite schema (created by its migrations), with extras.

    Returns a few values to check after import (token hashes, turn ids, JSON text).
    """
    from ballsy.db import migrate

    migrate.upgrade(f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    stamp = "2025-05-06 07:08:09.123456"
    # Ids with a gap (a forgotten fact), and every byte value, NUL included.
    facts = [(2, bytes(range(256)) * 6), (5, struct.pack("<384f", *range(384)))]
    try:
        conn.executemany(
            "INSERT INTO users (id, username, created_at, token_hash, token_issued_at, "
            "last_seen_at, last_result, is_placeholder) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    i,
                    f"ballsy-user-{i}",
                    stamp,
                    f"{i:064x}",
                    stamp,
                    None,
                    "7/2" if i == 1 else None,
                    0,
                )
                for i in range(1, users + 1)
            ],
        )
        conn.execute(
            "INSERT INTO conversations (id, user_id, started_at, last_activity_at) "
            "VALUES (1, 1, ?, ?)",
            (stamp, stamp),
        )
        conn.execute(
            "INSERT INTO messages (id, conversation_id, is_user, content, created_at, turn_id, "
            "interrupted) VALUES (1, 1, 1, 'hi ✨', ?, 'turn-1', 0), "
            "(2, 1, 0, 'hello!', ?, 'turn-1', 1)",
            (stamp, stamp),
        )
        conn.execute(
            "INSERT INTO settings (id, user_id, voice, voice_speed, theme, timezone) "
            "VALUES (1, 1, 'Samantha', 200, 'dark', 'Europe/Paris')"
        )
        conn.executemany(
            "INSERT INTO command_history (id, user_id, command, result, created_at, turn_id, "
            "source, family, action, action_data, interrupted, first_text_ms, total_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    i,
                    1 + i % users,
                    f"open youtube {i}",
                    "Opening YouTube",
                    stamp,
                    f"turn-{i}",
                    "local",
                    "open_site",
                    "open_url",
                    '{"url": "https://www.youtube.com", "description": "YouTube"}',
                    0,
                    0.1 * i,
                    1.5 * i,
                )
                for i in range(1, commands + 1)
            ],
        )
        # Long-term memories as Ballsy stores them: 384 little-endian float32s as a BLOB.
        conn.executemany(
            "INSERT INTO remembered_facts (id, user_id, text, embedding, model, tokens, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (i, 1, f"fact {i}", embedding, "all-MiniLM-L6-v2", 4, stamp)
                for i, embedding in facts
            ],
        )
        conn.commit()
    finally:
        conn.close()
    return {
        "token_hash_1": f"{1:064x}",
        "action_data": ('{"url": "https://www.youtube.com", "description": "YouTube"}'),
        "embeddings": dict(facts),
    }
