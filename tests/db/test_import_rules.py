"""The importer's value rules, checksum encoding and planning, on SQLite alone."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ballsy.importer import plan as plan_module
from ballsy.importer.checksum import (
    bucket_query,
    buckets,
    differing,
    table_checksum,
    tuples_digest,
)
from ballsy.importer.convert import column_converter
from ballsy.importer.copy_format import reference_encoder, row_encoder
from ballsy.importer.errors import SourceInvalid
from ballsy.importer.plan import build_plan
from ballsy.importer.report import compress_ids
from ballsy.importer.rules import (
    INT4_MAX,
    INT4_MIN,
    UNKNOWN_TIME,
    BadText,
    RepairLog,
    boolean_or_none,
    int4_or_none,
    text_or_rule,
    timestamp_or_none,
)
from ballsy.importer.source import SourceDb
from ballsy.importer.tables import TableSpec, by_name, model_specs
from tests.db.legacy_factory import build_legacy_db

TABLES = model_specs()
USERS = by_name(TABLES)["users"]
MESSAGES = by_name(TABLES)["messages"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-01 12:00:05", datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)),
        ("2024-03-01 12:00:05.25", datetime(2024, 3, 1, 12, 0, 5, 250000, tzinfo=UTC)),
        ("2024-03-01 12:00:05.123456789", datetime(2024, 3, 1, 12, 0, 5, 123456, tzinfo=UTC)),
        ("2024-03-01T12:00:05Z", datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)),
        ("2024-03-01 14:00:05+02:00", datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)),
        (" 2024-03-01 12:00:05 ", datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        (1709294400, datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)),
        (1709294400.5, datetime(2024, 3, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        (b"2024-03-01 12:00:05", datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)),
    ],
)
def test_timestamps_become_aware_utc(raw: object, expected: datetime) -> None:
    parsed = timestamp_or_none(raw)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is not None


@pytest.mark.parametrize("raw", [None, "", "yesterday", "2024-13-01 00:00:00", 10**13, True])
def test_unreadable_timestamps_are_none(raw: object) -> None:
    assert timestamp_or_none(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, True),
        (0, False),
        (2, True),
        ("1", True),
        ("0", False),
        ("true", True),
        ("FALSE", False),
        (" t ", True),
        ("f", False),
        ("yes", True),
        ("no", False),
        ("on", True),
        ("off", False),
        (1.0, True),
        (0.0, False),
        ("maybe", None),
        (None, None),
        ("", None),
    ],
)
def test_booleans(raw: object, expected: bool | None) -> None:
    assert boolean_or_none(raw) is expected


def test_text_is_kept_exactly_except_what_postgres_cannot_hold() -> None:
    exotic = "👋🏽 e\u0301 \r\n \\N \u202e 𐍈"
    assert text_or_rule(exotic) == (exotic, None)
    assert text_or_rule("a\x00b") == ("a\ufffdb", "nul_replaced")
    assert text_or_rule(BadText("ok \ufffd")) == ("ok \ufffd", "invalid_utf8_replaced")
    assert text_or_rule(b"caf\xc3\xa9") == ("café", "blob_decoded")
    assert text_or_rule(b"\xff") == ("\ufffd", "blob_decoded")
    assert text_or_rule(42) == ("42", "number_as_text")
    assert text_or_rule(None) == (None, None)


def test_bytes_are_kept_exactly_and_anything_else_is_dropped_and_listed() -> None:
    facts = by_name(TABLES)["remembered_facts"]
    log = RepairLog()
    convert = column_converter(facts, facts.column("embedding"), log, missing=False)
    vector = bytes(range(256))
    assert convert(1, vector) == vector
    assert convert(2, memoryview(vector)) == vector
    # Text where the vector belongs is not guessed at; the NOT NULL column gets b"".
    assert convert(3, "0.1 0.2") == b""
    assert convert(4, None) == b""
    assert [(r.row_id, r.rule, r.column) for r in log.items] == [
        (3, "bad_bytes_cleared", "embedding"),
        (3, "null_value_defaulted", "embedding"),
        (4, "null_value_defaulted", "embedding"),
    ]


def test_int4_range() -> None:
    assert int4_or_none(2**31 - 1) == 2**31 - 1
    assert int4_or_none(2**31) is None
    assert int4_or_none(7.0) == 7
    assert int4_or_none(7.5) is None
    assert int4_or_none("7") is None


def test_digest_covers_every_kind_and_the_row_order() -> None:
    encode = row_encoder(MESSAGES)
    row = (1, 2, True, "hi", datetime(2024, 1, 1, tzinfo=UTC), None, False)
    other = (2, 2, False, "yo", datetime(2024, 1, 2, tzinfo=UTC), "t", True)

    def digest(*rows: tuple[object, ...]) -> bytes:
        return tuples_digest(map(encode, rows))

    assert digest(row, other) == digest(tuple(row), tuple(other))
    changed = [
        (1, 2, False, "hi", row[4], None, False),
        (1, 2, True, "hi ", row[4], None, False),
        (1, 2, True, "hi", row[4].replace(microsecond=1), None, False),
        (1, 2, True, "hi", row[4], "", False),
    ]
    found = {digest(row, other), digest(other, row), digest(row), digest()}
    found |= {digest(r, other) for r in changed}
    assert len(found) == 8


_SAMPLES: dict[str, list[object]] = {
    "int": [0, 1, -(2**31), 2**31 - 1],
    "text": ["", "héllo 👋", "x" * 300],
    "json": ['{"a": 1}', "[]"],
    "bool": [True, False],
    "ts": [
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 11, 22, 8, 30, 15, 123456, tzinfo=UTC),
    ],
    "float": [0.0, -1.5, 1e300],
    "bytes": [b"", b"\x00\xff", bytes(range(256)) * 6],
}


@pytest.mark.parametrize("spec", TABLES, ids=lambda spec: spec.name)
def test_table_encoders_give_the_reference_bytes(spec: TableSpec) -> None:
    """The written-out encoder of each table equals the one built from its column kinds,
    with every column filled (each sample value) and with every nullable column NULL."""
    fast, reference = row_encoder(spec), reference_encoder(spec)
    rows = []
    for index in range(max(len(values) for values in _SAMPLES.values())):
        rows.append(tuple(_SAMPLES[c.kind][index % len(_SAMPLES[c.kind])] for c in spec.columns))
        rows.append(
            tuple(
                _SAMPLES[c.kind][index % len(_SAMPLES[c.kind])] if c.required else None
                for c in spec.columns
            )
        )
    for row in rows:
        assert fast(row) == reference(row), row
    # The reference itself: field count, then each field's length and bytes.
    first = reference(rows[0])
    assert first[:2] == len(spec.columns).to_bytes(2, "big")
    # Different rows, different bytes (a table with no nullable column repeats rows).
    assert len({fast(row) for row in rows}) == len(set(rows))


def test_buckets_cover_every_id_and_mismatches_name_their_range() -> None:
    assert buckets([]) == [(INT4_MIN, INT4_MAX)]
    assert buckets([(1, 10), (11, 15)]) == [(INT4_MIN, 0), (1, 10), (11, 15), (16, INT4_MAX)]
    assert buckets([(INT4_MIN, INT4_MAX)]) == [(INT4_MIN, INT4_MAX)]
    same = {(1, 10): b"a", (11, 15): b"b"}
    assert table_checksum(same) == table_checksum(dict(reversed(same.items())))
    assert table_checksum(same) != table_checksum({(1, 10): b"b", (11, 15): b"a"})
    assert differing(same, {(1, 10): b"a", (11, 15): b"c"}) == [(11, 15)]
    assert differing(same, {(1, 10): b"a"}) == [(11, 15)]


def test_bucket_query_covers_every_column_in_order() -> None:
    sql = bucket_query(USERS, (1, 20))
    columns = ", ".join(f'"{name}"' for name in USERS.column_names)
    assert sql.startswith(f"SELECT {columns} FROM")
    assert sql.endswith("WHERE id BETWEEN 1 AND 20 ORDER BY id")


def test_compress_ids() -> None:
    assert compress_ids([5, 1, 2, 3, 9, 10, 3]) == "1-3, 5, 9-10"
    assert compress_ids([]) == ""


def test_plan_decides_placeholders_names_and_duplicates(tmp_path: Path) -> None:
    facts = build_legacy_db(tmp_path / "legacy.db")
    source = SourceDb(tmp_path / "legacy.db")
    try:
        plan = build_plan(source)
    finally:
        source.close()
    users = facts.rows["users"]
    placeholder_names = {row[0]: row[1] for row in plan.placeholder_users}
    # The real user 3 already holds the name the placeholder would get: it takes a suffix.
    assert placeholder_names[users + 1001] == f"legacy-orphan-{users + 1001}~{users + 1001}"
    assert placeholder_names[users + 2002] == f"legacy-orphan-{users + 2002}"
    assert plan.unknown_user_id == users + 2002 + 1
    assert placeholder_names[plan.unknown_user_id] == "legacy-orphan-unknown"
    assert all(row[7] is True for row in plan.placeholder_users)
    assert plan.username_overrides[4] == "user1~4"
    assert plan.username_overrides[5] == "legacy-user-5"
    assert plan.orphan_conversation_ids == frozenset(facts.orphan_conversation_ids)
    assert plan.dropped_settings_ids == frozenset(
        facts.expected_repairs[("settings", "duplicate_settings_dropped")]
    )
    # Placeholders take the earliest timestamp of the rows pointing at them; settings
    # rows carry none, so a user only settings point at gets the "unknown" epoch.
    created = {row[0]: row[2] for row in plan.placeholder_users}
    assert created[users + 1001] > UNKNOWN_TIME
    assert created[users + 2002] == UNKNOWN_TIME


@pytest.mark.parametrize("reference_type", ["INTEGER", ""])  # "": no affinity, text stays text
def test_dense_parent_ids_shortcut_finds_the_same_dangling_references(
    tmp_path: Path, reference_type: str
) -> None:
    """Integer references inside a dense parent id range skip the lookup; every other
    value (text, real, NULL, outside the range) is still looked up, as before."""
    path = tmp_path / "refs.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT)")
        conn.execute(
            f"CREATE TABLE conversations (id INTEGER PRIMARY KEY, user_id {reference_type}, "
            "started_at TEXT)"
        )
        conn.executemany("INSERT INTO users VALUES (?, ?)", [(i, f"u{i}") for i in (1, 2, 3)])
        references = [1, 2.0, "2", 3.5, "abc", None, 0, 4, -7, b"\x01", 3]
        conn.executemany(
            "INSERT INTO conversations (user_id, started_at) VALUES (?, ?)",
            [(ref, f"2024-01-0{1 + n % 9} 10:00:00") for n, ref in enumerate(references)],
        )
    source = SourceDb(path)
    try:
        dense = plan_module._dense_ids(source, "users")
        assert dense == (1, 3)
        ts = ("started_at",)
        fast = plan_module._dangling(source, "conversations", "user_id", "users", ts, dense)
        slow = plan_module._dangling(source, "conversations", "user_id", "users", ts, None)
        assert sorted(map(repr, fast)) == sorted(map(repr, slow))
        assert {repr(ref) for ref, _ in slow} >= {"None", "0", "4", "-7", "'abc'", "3.5"}
    finally:
        source.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM users WHERE id = 2")  # a gap: no shortcut
    source = SourceDb(path)
    try:
        assert plan_module._dense_ids(source, "users") is None
    finally:
        source.close()


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("hello")
    with pytest.raises(SourceInvalid, match="not a SQLite database"):
        SourceDb(text)
    with pytest.raises(SourceInvalid, match="does not exist"):
        SourceDb(tmp_path / "missing.db")
    with pytest.raises(SourceInvalid, match="directory"):
        SourceDb(tmp_path)


def test_a_sqlite_file_without_ballsy_tables_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(SourceInvalid, match="none of the tables"):
        SourceDb(other)


def test_ids_beyond_postgres_integer_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    build_legacy_db(path, users=8, conversations=12, messages=50, commands=12)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO command_history (id, user_id, command) VALUES (?, 1, 'x')", (2**31,)
        )
    source = SourceDb(path)
    try:
        with pytest.raises(SourceInvalid, match="outside PostgreSQL's integer range"):
            build_plan(source)
    finally:
        source.close()


def test_import_workers_start_without_sqlalchemy_or_the_coordinator() -> None:
    """Each worker process is a fresh interpreter: it loads only what converting and
    copying need, so the import starts sooner (the DSN arrives ready-made)."""
    import subprocess
    import sys

    code = (
        "import sys, ballsy.importer.workers; "
        "print(*(m for m in ('sqlalchemy', 'alembic', 'ballsy.importer.run', "
        "'ballsy.importer.cli') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


def test_one_command_line_serves_both_entry_points() -> None:
    """`ballsy db import-sqlite` registers the importer's own command, which `python -m
    ballsy.importer` runs too: one parser, one set of options."""
    from ballsy import cli
    from ballsy.importer import cli as importer_cli

    (registered,) = [c for c in cli.db_app.registered_commands if c.name == "import-sqlite"]
    assert registered.callback is importer_cli.import_sqlite_command
    assert importer_cli.main(["--help"]) == 0


def test_the_specs_reach_the_workers_without_sqlalchemy() -> None:
    """The coordinator derives the specs from the models and pickles them to the workers;
    unpickling them must not load SQLAlchemy there (its import costs each worker about
    half a CPU-second)."""
    import pickle
    import subprocess
    import sys

    data = pickle.dumps(model_specs())
    code = (
        "import pickle, sys; specs = pickle.loads(sys.stdin.buffer.read()); "
        "print(len(specs), 'sqlalchemy' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, timeout=60, check=True
    )
    assert result.stdout.decode().split() == [str(len(model_specs())), "False"]
