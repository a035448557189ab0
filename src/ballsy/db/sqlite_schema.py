"""The embedded SQLite schema at the newest migration, as plain DDL.

A fresh SQLite database is created from these statements instead of by running every
Alembic migration: it is the same schema (tests/db/test_migrations.py checks that the
statements leave `sqlite_master` exactly as the migrations do, text and order) and it
needs neither Alembic nor SQLAlchemy, which keeps a first start fast. Databases that
already hold tables are always upgraded by the migrations themselves.

When a migration is added, update REVISION and these statements; the test prints the
statements the migrations now produce.
"""

from __future__ import annotations

REVISION = "0002"


def _table(name: str, *lines: str) -> str:
    # The layout SQLAlchemy's DDL compiler emits, which SQLite stores verbatim.
    return f"CREATE TABLE {name} (\n\t" + ", \n\t".join(lines) + "\n)"


STATEMENTS: tuple[str, ...] = (
    _table(
        "alembic_version",
        "version_num VARCHAR(32) NOT NULL",
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)",
    ),
    _table(
        "users",
        "id INTEGER NOT NULL",
        "username VARCHAR(150) NOT NULL",
        "created_at DATETIME NOT NULL",
        "token_hash VARCHAR(64)",
        "token_issued_at DATETIME",
        "last_seen_at DATETIME",
        "last_result VARCHAR(4200)",
        "is_placeholder BOOLEAN NOT NULL",
        "CONSTRAINT pk_users PRIMARY KEY (id)",
        "CONSTRAINT uq_users_token_hash UNIQUE (token_hash)",
        "CONSTRAINT uq_users_username UNIQUE (username)",
    ),
    _table(
        "command_history",
        "id INTEGER NOT NULL",
        "user_id INTEGER NOT NULL",
        "command TEXT NOT NULL",
        "result TEXT",
        "created_at DATETIME NOT NULL",
        "turn_id VARCHAR(36)",
        "source VARCHAR(16)",
        "family VARCHAR(32)",
        "action VARCHAR(32)",
        "action_data JSON",
        "interrupted BOOLEAN NOT NULL",
        "first_text_ms FLOAT",
        "total_ms FLOAT",
        "CONSTRAINT pk_command_history PRIMARY KEY (id)",
        "CONSTRAINT fk_command_history_user_id_users FOREIGN KEY(user_id)"
        " REFERENCES users (id) ON DELETE CASCADE",
        "CONSTRAINT uq_command_history_turn_id UNIQUE (turn_id)",
    ),
    "CREATE INDEX ix_command_history_created_at ON command_history (created_at)",
    "CREATE INDEX ix_command_history_user_id_id ON command_history (user_id, id)",
    _table(
        "conversations",
        "id INTEGER NOT NULL",
        "user_id INTEGER NOT NULL",
        "started_at DATETIME NOT NULL",
        "last_activity_at DATETIME",
        "CONSTRAINT pk_conversations PRIMARY KEY (id)",
        "CONSTRAINT fk_conversations_user_id_users FOREIGN KEY(user_id)"
        " REFERENCES users (id) ON DELETE CASCADE",
    ),
    "CREATE INDEX ix_conversations_user_id ON conversations (user_id)",
    _table(
        "settings",
        "id INTEGER NOT NULL",
        "user_id INTEGER NOT NULL",
        "voice VARCHAR(200) NOT NULL",
        "voice_speed INTEGER NOT NULL",
        "theme VARCHAR(50) NOT NULL",
        "timezone VARCHAR(64)",
        "CONSTRAINT pk_settings PRIMARY KEY (id)",
        "CONSTRAINT fk_settings_user_id_users FOREIGN KEY(user_id)"
        " REFERENCES users (id) ON DELETE CASCADE",
        "CONSTRAINT uq_settings_user_id UNIQUE (user_id)",
    ),
    _table(
        "messages",
        "id INTEGER NOT NULL",
        "conversation_id INTEGER NOT NULL",
        "is_user BOOLEAN NOT NULL",
        "content TEXT NOT NULL",
        "created_at DATETIME NOT NULL",
        "turn_id VARCHAR(36)",
        "interrupted BOOLEAN NOT NULL",
        "CONSTRAINT pk_messages PRIMARY KEY (id)",
        "CONSTRAINT fk_messages_conversation_id_conversations FOREIGN KEY(conversation_id)"
        " REFERENCES conversations (id) ON DELETE CASCADE",
    ),
    "CREATE INDEX ix_messages_conversation_id_id ON messages (conversation_id, id)",
    _table(
        "rate_limit_buckets",
        "bucket_key VARCHAR(200) NOT NULL",
        "tokens FLOAT NOT NULL",
        "last_allowed BOOLEAN NOT NULL",
        "updated_at DATETIME NOT NULL",
        "expires_at DATETIME NOT NULL",
        "CONSTRAINT pk_rate_limit_buckets PRIMARY KEY (bucket_key)",
    ),
    "CREATE INDEX ix_rate_limit_buckets_expires_at ON rate_limit_buckets (expires_at)",
)
