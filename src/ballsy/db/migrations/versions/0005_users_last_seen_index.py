"""an index on users.last_seen_at, for the retention batch

The anonymous-user retention batch looks for users not seen since a cutoff; without
this index it reads the whole users table on every run.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 18:15:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ix_users_last_seen_at", ["last_seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_last_seen_at")
