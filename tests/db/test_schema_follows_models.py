"""The models are the schema's one definition: a column added to them reaches the importer,
the migrations check and the snapshots check with no other edit.

The column goes into a copy of the models' metadata (`command_history.mood`, a
`String(16)`, and `pinned`, a NOT NULL boolean defaulting to false); the migration a
developer would write for it goes into a copy of the migrations directory.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Boolean, Column, MetaData, String, create_engine

from ballsy.db import head_schema, migrate, snapshots
from ballsy.db.models import NAMING_CONVENTION, Base
from ballsy.importer import import_sqlite
from ballsy.importer.copy_format import batch_encoder, reference_encoder
from ballsy.importer.tables import specs_from_metadata
from tests.db.legacy_factory import build_ballsy_db

_MIGRATION = '''"""mood and pinned

Revision ID: 0999
Revises: {head}
"""

import sqlalchemy as sa
from alembic import op

revision = "0999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("command_history", sa.Column("mood", sa.String(length=16), nullable=True))
    op.add_column(
        "command_history",
        sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("command_history", "pinned")
    op.drop_column("command_history", "mood")
'''


def _metadata_with_new_columns() -> MetaData:
    copy = MetaData(naming_convention=NAMING_CONVENTION)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(copy)
    history = copy.tables["command_history"]
    history.append_column(Column("mood", String(16), nullable=True))
    history.append_column(Column("pinned", Boolean, nullable=False, default=False))
    return copy


def _sync_url(url: str) -> str:
    """A URL for SQLAlchemy's synchronous engine (psycopg for PostgreSQL)."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _diff(url: str, metadata: MetaData) -> list[object]:
    engine = create_engine(_sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_the_migrations_and_snapshots_checks_follow_a_new_column(tmp_path: Path) -> None:
    metadata = _metadata_with_new_columns()
    # The migrations check: the models now differ from what the migrations build.
    current = f"sqlite:///{tmp_path / 'current.db'}"
    migrate.upgrade(current)
    added = [op for op in _diff(current, metadata) if op[0] == "add_column"]  # type: ignore[index]
    assert sorted(op[3].name for op in added) == ["mood", "pinned"]  # type: ignore[index]

    # With the migration for it, the check passes again...
    migrations = tmp_path / "migrations"
    shutil.copytree(
        migrate.MIGRATIONS_DIR, migrations, ignore=shutil.ignore_patterns("__pycache__")
    )
    (migrations / "versions" / "0999_mood.py").write_text(
        _MIGRATION.format(head=migrate.HEAD), encoding="utf-8"
    )
    upgraded = f"sqlite:///{tmp_path / 'upgraded.db'}"
    migrate.upgrade(upgraded, migrations_dir=migrations)
    assert _diff(upgraded, metadata) == []
    # ...and the snapshots check fails until the one command regenerates the file, which
    # then carries the column and the new head for both databases.
    regenerated = snapshots.render(migrations)
    assert regenerated != snapshots.TARGET.read_text(encoding="utf-8")
    assert 'REVISION = "0999"' in regenerated and head_schema.REVISION in snapshots.render()
    assert regenerated.count("mood VARCHAR(16)") == 2


@pytest.mark.postgres
def test_the_importer_follows_a_new_column(tmp_path: Path, postgres_url: str) -> None:
    metadata = _metadata_with_new_columns()
    specs = specs_from_metadata(metadata)
    history = next(spec for spec in specs if spec.name == "command_history")
    assert history.column_names[-2:] == ("mood", "pinned")
    # Its encoder follows the spec: the same bytes as the kind-by-kind definition.
    when = datetime(2026, 1, 1, tzinfo=UTC)
    row = (1, 1, "c", None, when, None, None, None, None, None, False, None, None, "x", True)
    assert batch_encoder(history)([row]) == [reference_encoder(history)(row)]

    engine = create_engine(_sync_url(postgres_url))
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()
    with psycopg.connect(postgres_url) as conn:
        conn.execute(
            "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
            f"INSERT INTO alembic_version VALUES ('{migrate.HEAD}')"
        )

    source = tmp_path / "ballsy.db"
    build_ballsy_db(source, commands=20)
    with sqlite3.connect(source) as conn:
        conn.execute("ALTER TABLE command_history ADD COLUMN mood TEXT")
        conn.execute("UPDATE command_history SET mood = 'calm' WHERE id % 2 = 0")
        conn.execute("UPDATE command_history SET mood = ? WHERE id = 3", ("x" * 40,))
    report = asyncio.run(import_sqlite(source, postgres_url, specs=specs))
    assert report.ok
    with psycopg.connect(postgres_url) as conn:
        moods = dict(conn.execute("SELECT id, mood FROM command_history").fetchall())
        pinned = {row[0] for row in conn.execute("SELECT DISTINCT pinned FROM command_history")}
    assert moods == {i: ("calm" if i % 2 == 0 else None) for i in range(1, 21)}
    assert pinned == {False}  # the source has no such column: the models' default
    assert report.repaired_ids("command_history", "too_long_cleared") == [3]
