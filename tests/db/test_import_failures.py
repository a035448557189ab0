"""Imports that cannot succeed leave the target as it was; sources that would mislead are
read fully or refused; imported text keeps the product's limits. Real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ballsy.db import migrate
from ballsy.db.models import COMMAND_MAX_CHARS, REPLY_MAX_CHARS, Base
from ballsy.importer import import_sqlite, main
from ballsy.importer.errors import SourceInvalid
from ballsy.importer.progress import SilentProgress
from tests.db.legacy_factory import build_legacy_db

# Every foreign key the schema declares (the models are the one definition).
FOREIGN_KEYS = sum(len(table.foreign_keys) for table in Base.metadata.sorted_tables)
IMPORTED_TABLES = {t.name for t in Base.metadata.sorted_tables if t.info.get("imported", True)}

pytestmark = pytest.mark.postgres

TABLE_NAMES = ("users", "conversations", "messages", "settings", "command_history")


@pytest.fixture
def target_url(postgres_url: str) -> str:
    migrate.upgrade(postgres_url)
    return postgres_url


def _fetch(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def _state(url: str) -> dict[str, Any]:
    """Rows per table, the schemas, and every constraint with its validation flag."""
    with psycopg.connect(url) as conn:
        found: dict[str, Any] = {
            name: conn.execute(f"SELECT count(*) FROM {name}").fetchone() for name in TABLE_NAMES
        }
        found["schemas"] = conn.execute("SELECT nspname FROM pg_namespace ORDER BY 1").fetchall()
        found["constraints"] = conn.execute(
            "SELECT conrelid::regclass::text, conname, contype, convalidated FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
        ).fetchall()
    return found


def _dangling(url: str) -> int:
    return int(
        _fetch(
            url,
            "SELECT (SELECT count(*) FROM command_history c WHERE NOT EXISTS "
            "(SELECT 1 FROM users u WHERE u.id = c.user_id)) + (SELECT count(*) FROM messages m "
            "WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = m.conversation_id))",
        )[0][0]
    )


def test_a_refused_import_is_undone_and_a_fixed_retry_succeeds(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL refuses one users row (here: a CHECK the target adds) while the other
    tables load beside it: exit 2, and not one row, record or dropped constraint is left;
    every foreign key is present and validated. Once the cause is gone, the same command
    imports and verifies."""
    legacy = build_legacy_db(tmp_path / "voice_assistant.db")
    migrate.upgrade(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        conn.execute("ALTER TABLE users ADD CONSTRAINT no_user9 CHECK (username <> 'user9')")
    before = _state(postgres_url)
    assert main([str(legacy.path), "--to", postgres_url, "--batch-size", "16"]) == 2
    err = capsys.readouterr().err
    assert "error [import_rejected]" in err and "no_user9" in err and "undone" in err
    after = _state(postgres_url)
    assert after == before
    assert all(validated for *_, kind, validated in after["constraints"] if kind == "f")
    assert len([c for c in after["constraints"] if c[2] == "f"]) == FOREIGN_KEYS
    assert _dangling(postgres_url) == 0

    with psycopg.connect(postgres_url) as conn:
        conn.execute("ALTER TABLE users DROP CONSTRAINT no_user9")
    capsys.readouterr()
    assert main([str(legacy.path), "--to", postgres_url, "--batch-size", "16"]) == 0
    assert _fetch(postgres_url, "SELECT count(*) FROM messages")[0][0] == legacy.rows["messages"]


def test_repeated_ids_are_refused_before_anything_is_written(
    tmp_path: Path, target_url: str
) -> None:
    """A users table without its primary key, holding id 1 twice (and so its username
    twice): refused with the ids named, the target untouched; so is a non-integer id."""
    path = tmp_path / "voice_assistant.db"
    build_legacy_db(path)
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE people (id INTEGER, username TEXT, created_at TIMESTAMP);"
            "INSERT INTO people SELECT id, username, created_at FROM users;"
            "INSERT INTO people VALUES (1, 'user1', '2024-01-01 00:00:00');"
            "DROP TABLE users; ALTER TABLE people RENAME TO users;"
        )
    before = _state(target_url)
    with pytest.raises(SourceInvalid, match=r"users repeats ids \(1 \(2 rows\)\)"):
        asyncio.run(import_sqlite(path, target_url))
    assert _state(target_url) == before

    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM users WHERE rowid = (SELECT max(rowid) FROM users)")
        conn.execute("UPDATE users SET id = 2.5 WHERE id = 2")
    with pytest.raises(SourceInvalid, match=r"users has ids that are not integers \(2\.5\)"):
        asyncio.run(import_sqlite(path, target_url))
    assert _state(target_url) == before


def test_a_table_that_is_a_view_is_read_like_a_table(tmp_path: Path, target_url: str) -> None:
    path = tmp_path / "voice_assistant.db"
    legacy = build_legacy_db(path, lax=False)
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "ALTER TABLE users RENAME TO people; CREATE VIEW users AS SELECT * FROM people;"
        )
        names = dict(conn.execute("SELECT id, username FROM people").fetchall())
    report = asyncio.run(import_sqlite(path, target_url))
    assert report.ok
    users = next(t for t in report.tables if t.name == "users")
    assert users.source_rows == users.read_rows == legacy.rows["users"]
    imported = dict(_fetch(target_url, "SELECT id, username FROM users WHERE NOT is_placeholder"))
    assert imported == names


def test_unread_rows_are_never_reported_verified() -> None:
    from ballsy.importer.report import TableResult

    result = TableResult("users", source_rows=30, expected_rows=0, read_rows=0)
    result.target_rows, result.target_checksum = 0, result.expected_checksum
    assert result.verified is False
    result.read_rows = 30
    assert result.verified is True


def test_foreign_keys_are_absent_while_loading_and_checked_when_back(
    tmp_path: Path, target_url: str
) -> None:
    """While the COPY skips the per-row triggers, the catalog shows no foreign key it
    cannot vouch for: they are dropped, and re-added (PostgreSQL checking every row)."""
    legacy = build_legacy_db(tmp_path / "voice_assistant.db", messages=2_000)
    seen: list[list[tuple[Any, ...]]] = []

    class Watch(SilentProgress):
        def batch_done(self, table: str, *, read: int, total: int, written: int) -> None:
            if table == "messages" and not seen:
                rows = _fetch(
                    target_url,
                    "SELECT conrelid::regclass::text, conname FROM pg_constraint "
                    "WHERE contype = 'f'",
                )
                # Tables the importer does not carry keep theirs (nothing is loaded there).
                seen.append([row for row in rows if row[0] in IMPORTED_TABLES])

    report = asyncio.run(import_sqlite(legacy.path, target_url, batch_size=64, progress=Watch()))
    assert report.ok and not report.foreign_keys_checked_per_row
    assert seen == [[]]
    back = _fetch(target_url, "SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f'")
    assert len(back) == FOREIGN_KEYS and all(validated for _, validated in back)


def test_text_past_the_products_limits_is_cut_and_listed(tmp_path: Path, target_url: str) -> None:
    path = tmp_path / "voice_assistant.db"
    build_legacy_db(path, lax=False)
    huge = "ab" * 1_500_000  # 3,000,000 characters
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE command_history SET command = ?, result = ? WHERE id = 9", (huge, huge)
        )
        conn.execute("UPDATE messages SET content = ? WHERE id = 50", (huge,))
    report_path = tmp_path / "report.json"
    assert main([str(path), "--to", target_url, "--report-json", str(report_path)]) == 0
    command, result = _fetch(
        target_url, "SELECT command, result FROM command_history WHERE id = 9"
    )[0]
    (content,) = _fetch(target_url, "SELECT content FROM messages WHERE id = 50")[0]
    assert len(command) == COMMAND_MAX_CHARS and command.startswith("abab")
    assert "cut by the SQLite import from 3,000,000 characters" in command
    assert len(result) == len(content) == REPLY_MAX_CHARS
    listed = {
        (r["table"], r["row_id"], r["column"])
        for r in json.loads(report_path.read_text())["repairs"]
        if r["rule"] == "too_long_truncated"
    }
    assert listed == {
        ("command_history", 9, "command"),
        ("command_history", 9, "result"),
        ("messages", 50, "content"),
    }
