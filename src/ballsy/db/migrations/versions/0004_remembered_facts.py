"""remembered facts: the long-term memory

One row per fact a user asked Ballsy to remember, with its sentence vector as
float32 bytes (no pgvector needed; recall ranks the vectors in numpy). AUTOINCREMENT
on SQLite so ids are never reused (the recall cache compares the newest id).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "remembered_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_remembered_facts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remembered_facts")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("remembered_facts", schema=None) as batch_op:
        batch_op.create_index("ix_remembered_facts_user_id_id", ["user_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("remembered_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_remembered_facts_user_id_id")
    op.drop_table("remembered_facts")
