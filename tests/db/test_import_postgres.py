"""Importing generated SQLite databases into real PostgreSQL: verified, idempotent, exact."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ballsy.db import migrate
from ballsy.db.models import Base
from ballsy.importer import ImportReport, import_sqlite, main, target
from ballsy.importer.errors import (
    SourceInvalid,
    TargetNotEmpty,
    TargetNotMigrated,
    TargetUnsupported,
)
from ballsy.importer.rules import timestamp_or_none
from ballsy.importer.tables import model_specs
from tests import pg
from tests.db.legacy_factory import LegacyFacts, build_ballsy_db, build_legacy_db

pytestmark = pytest.mark.postgres

TABLE_NAMES = ("users", "conversations", "messages", "settings", "command_history")


@pytest.fixture
async def target_url(postgres_url: str) -> str:
    """A fresh PostgreSQL database at Ballsy's migration head."""
    await asyncio.to_thread(migrate.upgrade, postgres_url)
    return postgres_url


@pytest.fixture
def legacy(tmp_path: Path) -> LegacyFacts:
    return build_legacy_db(tmp_path / "voice_assistant.db")


def _fetch(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def _snapshot(url: str) -> dict[str, Any]:
    """Everything an import could change: every table's rows, and the importer's schema."""
    with psycopg.connect(url) as conn:
        state: dict[str, Any] = {
            name: conn.execute(f"SELECT * FROM {name} ORDER BY id").fetchall()
            for name in TABLE_NAMES
        }
        state["schemas"] = conn.execute(
            "SELECT nspname FROM pg_namespace ORDER BY nspname"
        ).fetchall()
        state["sequences"] = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences ORDER BY 1"
        ).fetchall()
    return state


def _checksums(report: ImportReport) -> dict[str, tuple[int | None, str | None]]:
    return {t.name: (t.target_rows, t.target_checksum) for t in report.tables}


async def test_legacy_import_verifies_and_reports_every_quirk(
    legacy: LegacyFacts, target_url: str
) -> None:
    report = await import_sqlite(legacy.path, target_url, batch_size=64)

    assert report.ok, report.tables
    assert report.schema_kind == "legacy"
    # The test server's role is a superuser: COPY skipped the per-row foreign-key triggers
    # and every foreign key was checked once afterwards.
    assert report.foreign_keys_checked_per_row is False
    assert report.dangling_references == dict.fromkeys(
        [
            "conversations.user_id",
            "messages.conversation_id",
            "settings.user_id",
            "timers.user_id",
            "remembered_facts.user_id",
            "command_history.user_id",
        ],
        0,
    )
    assert all(t.verified for t in report.tables)
    for (table, rule), ids in legacy.expected_repairs.items():
        assert set(report.repaired_ids(table, rule)) == ids, (table, rule)
    # Three placeholders: the two missing user ids and the one for unusable references.
    placeholders = _fetch(
        target_url, "SELECT id, username, token_hash FROM users WHERE is_placeholder ORDER BY id"
    )
    users = legacy.rows["users"]
    assert [row[0] for row in placeholders] == [users + 1001, users + 2002, users + 2003]
    assert placeholders[-1][1] == "legacy-orphan-unknown"
    assert set(report.repaired_ids("users", "placeholder_user_created")) == {
        row[0] for row in placeholders
    }
    # Every imported user awaits an identity; none is a placeholder.
    real = _fetch(
        target_url, "SELECT count(*) FROM users WHERE NOT is_placeholder AND token_hash IS NULL"
    )
    assert real[0][0] == users


async def test_indexes_are_built_after_loading_and_all_come_back(
    legacy: LegacyFacts, target_url: str
) -> None:
    before = await asyncio.to_thread(pg.migrated_schema_objects)
    report = await import_sqlite(legacy.path, target_url, batch_size=64)
    assert report.ok
    # Every index, primary key, unique and foreign-key constraint is back, as migrated.
    assert await asyncio.to_thread(pg.schema_objects, target_url) == before
    assert len(before["indexes"]) > 5 and before["constraints"]  # it compared something
    # And they hold: a duplicate username is refused.
    with psycopg.connect(target_url) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "INSERT INTO users (username, created_at, is_placeholder) "
            "SELECT username, now(), false FROM users LIMIT 1"
        )


async def test_deferring_records_every_index_and_restoring_rebuilds_it(target_url: str) -> None:
    conn = await target.connect(target_url)
    try:
        await target.prepare_state(conn)
        deferred = await target.defer_indexes(conn)
        left = await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename = ANY($1::text[]) ORDER BY 1",
            [spec.name for spec in model_specs()],
        )
        # Only the primary keys that foreign keys refer to stay while loading.
        assert [row[0] for row in left] == ["pk_conversations", "pk_users"]
        recorded = await conn.fetchval("SELECT count(*) FROM ballsy_import.deferred_indexes")
        assert deferred == recorded >= 8
        for spec in model_specs():
            await target.restore_indexes(conn, spec.name)
    finally:
        await conn.close()
    assert await asyncio.to_thread(pg.schema_objects, target_url) == await asyncio.to_thread(
        pg.migrated_schema_objects
    )


async def test_indexes_deferred_by_an_interrupted_import_are_rebuilt_by_the_next(
    legacy: LegacyFacts, target_url: str
) -> None:
    """A run that stops after deferring the indexes (and some batches) leaves them recorded;
    the next run of the same import re-creates them, even with nothing left to write."""
    first = await import_sqlite(legacy.path, target_url, batch_size=64)
    assert first.ok
    with psycopg.connect(target_url) as conn:  # as if killed after deferring these two
        conn.execute(
            "INSERT INTO ballsy_import.deferred_indexes "
            "(index_name, table_name, is_primary_key, restore_sql) VALUES "
            "('ix_messages_conversation_id_id', 'messages', false, "
            "pg_get_indexdef('ix_messages_conversation_id_id'::regclass)), "
            "('uq_users_username', 'users', false, 'ALTER TABLE users ADD CONSTRAINT "
            "uq_users_username UNIQUE (username)')"
        )
        conn.execute("DROP INDEX ix_messages_conversation_id_id")
        conn.execute("ALTER TABLE users DROP CONSTRAINT uq_users_username")
    second = await import_sqlite(legacy.path, target_url, batch_size=64)
    assert second.ok and second.written_rows == 0
    assert await asyncio.to_thread(pg.schema_objects, target_url) == await asyncio.to_thread(
        pg.migrated_schema_objects
    )


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE messages SET created_at = created_at + interval '1 microsecond' WHERE id = 7",
        "UPDATE messages SET is_user = NOT is_user WHERE id = 7",
        "UPDATE messages SET turn_id = 'x' WHERE id = 7",
        "UPDATE messages SET content = content || ' ' WHERE id = 7",
        "DELETE FROM messages WHERE id = 7",
    ],
)
async def test_any_change_to_a_stored_value_fails_the_verification(
    legacy: LegacyFacts, target_url: str, change: str
) -> None:
    assert (await import_sqlite(legacy.path, target_url)).ok
    with psycopg.connect(target_url) as conn:
        conn.execute(change)
    report = await import_sqlite(legacy.path, target_url)
    assert not report.ok
    assert [t.name for t in report.tables if t.verified is False] == ["messages"]


async def test_text_booleans_and_timestamps_arrive_exactly(
    legacy: LegacyFacts, target_url: str
) -> None:
    await import_sqlite(legacy.path, target_url)
    rows = {
        row[0]: row[1:]
        for row in _fetch(target_url, "SELECT id, content, is_user, created_at FROM messages")
    }
    for msg_id, sample in legacy.unicode_message_ids.items():
        assert rows[msg_id][0] == sample
        assert rows[msg_id][0].encode() == sample.encode()
    assert rows[33][0] == "x" * 10_000
    assert rows[30][0] == "nul \ufffd inside"
    for msg_id, truth in legacy.text_bool_message_ids.items():
        assert rows[msg_id][1] is truth, msg_id
    source_ts = _source_values(legacy.path, "SELECT id, timestamp FROM messages")
    for msg_id in legacy.fractional_ts_message_ids:
        expected = timestamp_or_none(source_ts[msg_id])
        assert expected is not None and expected.microsecond != 0
        assert rows[msg_id][2] == expected
        assert rows[msg_id][2].tzinfo is not None
    assert rows[32][2] == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)  # epoch seconds


def _source_values(path: Path, sql: str) -> dict[int, Any]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return dict(conn.execute(sql).fetchall())


async def test_sequences_move_past_imported_ids(legacy: LegacyFacts, target_url: str) -> None:
    await import_sqlite(legacy.path, target_url)
    with psycopg.connect(target_url) as conn:
        max_user = conn.execute("SELECT max(id) FROM users").fetchone()[0]  # type: ignore[index]
        new_id = conn.execute(
            "INSERT INTO users (username, created_at, is_placeholder) "
            "VALUES ('fresh', now(), false) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        max_msg = conn.execute("SELECT max(id) FROM messages").fetchone()[0]  # type: ignore[index]
        new_msg = conn.execute(
            "INSERT INTO messages (conversation_id, is_user, content, created_at, interrupted) "
            "VALUES (1, true, 'new', now(), false) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
    assert new_id == max_user + 1
    assert new_msg == max_msg + 1


async def test_a_second_run_imports_nothing_and_verifies_again(
    legacy: LegacyFacts, target_url: str
) -> None:
    first = await import_sqlite(legacy.path, target_url, batch_size=50)
    before = _snapshot(target_url)
    second = await import_sqlite(legacy.path, target_url, batch_size=50)
    assert first.written_rows == first.expected_rows > 0
    assert second.written_rows == 0
    assert second.ok
    assert _checksums(second) == _checksums(first)
    assert _snapshot(target_url) == before
    # The repairs are reported again, in full, by the second run.
    assert {(r.table, r.row_id, r.rule) for r in second.repairs} == {
        (r.table, r.row_id, r.rule) for r in first.repairs
    }


async def test_the_dry_run_changes_nothing(legacy: LegacyFacts, target_url: str) -> None:
    before = _snapshot(target_url)
    report = await import_sqlite(legacy.path, target_url, dry_run=True)
    assert _snapshot(target_url) == before
    assert report.dry_run and report.written_rows == 0
    assert all(t.verified is None for t in report.tables)
    assert report.expected_rows > legacy.total_rows  # placeholders included
    # The dry run predicts exactly what the real import then writes.
    real = await import_sqlite(legacy.path, target_url)
    assert [(t.expected_rows, t.expected_checksum) for t in report.tables] == [
        (t.target_rows, t.target_checksum) for t in real.tables
    ]


async def test_strict_legacy_schema_imports(tmp_path: Path, target_url: str) -> None:
    facts = build_legacy_db(tmp_path / "strict.db", lax=False, seed=3)
    report = await import_sqlite(facts.path, target_url, batch_size=1000)
    assert report.ok
    assert report.repaired_ids("users", "duplicate_username_renamed") == []
    for (table, rule), ids in facts.expected_repairs.items():
        assert set(report.repaired_ids(table, rule)) == ids


async def test_ballsy_schema_imports_with_its_extras(tmp_path: Path, target_url: str) -> None:
    path = tmp_path / "ballsy.db"
    expected = await asyncio.to_thread(build_ballsy_db, path)
    report = await import_sqlite(path, target_url)
    assert report.ok and report.schema_kind == "ballsy"
    assert report.repairs == []
    user = _fetch(target_url, "SELECT token_hash, last_result, created_at FROM users WHERE id = 1")[
        0
    ]
    assert user[0] == expected["token_hash_1"]
    assert user[1] == "7/2"
    assert user[2] == datetime(2025, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    cmd = _fetch(
        target_url,
        "SELECT action_data::text, turn_id, first_text_ms, total_ms "
        "FROM command_history WHERE id = 3",
    )[0]
    assert cmd[0] == expected["action_data"]
    assert json.loads(cmd[0])["url"] == "https://www.youtube.com"
    assert cmd[1:] == ("turn-3", pytest.approx(0.3), 4.5)
    assert _fetch(target_url, "SELECT interrupted FROM messages ORDER BY id") == [(False,), (True,)]
    assert _fetch(target_url, "SELECT timezone FROM settings") == [("Europe/Paris",)]
    # Long-term memories come too, each vector byte for byte, and verified like the rest.
    facts = _fetch(target_url, "SELECT id, user_id, text, embedding FROM remembered_facts")
    assert {row[0]: bytes(row[3]) for row in facts} == expected["embeddings"]
    assert {(row[1], row[2]) for row in facts} == {(1, "fact 2"), (1, "fact 5")}
    [memories] = [t for t in report.tables if t.name == "remembered_facts"]
    assert memories.verified and memories.target_rows == 2
    # And new facts never reuse an imported id (the recall cache relies on it).
    [(next_id,)] = _fetch(target_url, "SELECT nextval('remembered_facts_id_seq')")
    assert next_id > 5


async def test_a_target_without_the_schema_is_refused_or_migrated(
    legacy: LegacyFacts, postgres_url: str
) -> None:
    with pytest.raises(TargetNotMigrated, match="--migrate"):
        await import_sqlite(legacy.path, postgres_url)
    with pytest.raises(TargetNotMigrated):
        await import_sqlite(legacy.path, postgres_url, dry_run=True, migrate=True)
    report = await import_sqlite(legacy.path, postgres_url, migrate=True)
    assert report.ok


async def test_a_target_with_other_data_is_refused(
    legacy: LegacyFacts, target_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(target_url) as conn:
        conn.execute(
            "INSERT INTO users (username, created_at, is_placeholder) "
            "VALUES ('already-here', now(), false)"
        )
    before = _snapshot(target_url)
    with pytest.raises(TargetNotEmpty, match="already has rows in users"):
        await import_sqlite(legacy.path, target_url)
    assert _snapshot(target_url) == before


async def test_a_target_holding_another_import_is_refused(
    legacy: LegacyFacts, target_url: str, tmp_path: Path
) -> None:
    await import_sqlite(legacy.path, target_url)
    other = build_legacy_db(tmp_path / "other.db", seed=99, users=12)
    with pytest.raises(TargetNotEmpty, match="another SQLite file"):
        await import_sqlite(other.path, target_url)


async def test_bad_inputs_get_clear_errors(tmp_path: Path, target_url: str) -> None:
    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("not a database")
    with pytest.raises(SourceInvalid):
        await import_sqlite(not_sqlite, target_url)
    legacy = build_legacy_db(tmp_path / "legacy.db", users=8, conversations=12, messages=50)
    with pytest.raises(TargetUnsupported, match="must be PostgreSQL"):
        await import_sqlite(legacy.path, f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(TargetUnsupported, match="could not connect"):
        await import_sqlite(legacy.path, "postgresql://nobody:s3cret@127.0.0.1:1/none")


def test_main_exits_non_zero_on_a_verification_mismatch(
    legacy: LegacyFacts, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "report.json"
    assert (
        main(
            [str(legacy.path), "--to", postgres_url, "--migrate", "--report-json", str(report_path)]
        )
        == 0
    )
    assert json.loads(report_path.read_text())["ok"] is True
    # Someone edits an imported message: the next run's verification must notice.
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE messages SET content = content || '!' WHERE id = 12")
    capsys.readouterr()
    assert main([str(legacy.path), "--to", postgres_url]) == 1
    captured = capsys.readouterr()
    assert "| messages |" in captured.out and "**MISMATCH**" in captured.out
    assert "import_verification_failed" in captured.err


def test_main_reports_errors_with_a_code_and_no_secret(
    legacy: LegacyFacts, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([str(legacy.path), "--to", "postgresql://me:hunter2@127.0.0.1:1/db"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error [import_target_unsupported]" in err
    assert "hunter2" not in err


@pytest.fixture
def unprivileged_url(postgres_url: str) -> Iterator[str]:
    """The test database, owned by a fresh role that is not a superuser."""
    role = f"ballsy_importer_{uuid.uuid4().hex[:10]}"
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(pg.ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER')
        admin.execute(f'ALTER DATABASE "{name}" OWNER TO "{role}"')
    try:
        yield postgres_url.replace("postgres@", f"{role}@", 1)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO postgres')
            conn.execute(f'DROP OWNED BY "{role}"')
        with psycopg.connect(pg.ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" OWNER TO postgres')
            admin.execute(f'DROP ROLE "{role}"')


async def test_a_role_without_superuser_imports_with_per_row_checks(
    legacy: LegacyFacts, unprivileged_url: str
) -> None:
    report = await import_sqlite(legacy.path, unprivileged_url, migrate=True, batch_size=100)
    assert report.ok
    assert report.foreign_keys_checked_per_row is True
    assert not any(report.dangling_references.values())
    # Every foreign key of every table the importer carries.
    imported = [t for t in Base.metadata.sorted_tables if t.info.get("imported", True)]
    assert len(report.dangling_references) == sum(len(t.foreign_keys) for t in imported)
