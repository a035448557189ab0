"""The PostgreSQL schema at the newest migration, as plain DDL.

An empty PostgreSQL database that the importer is asked to migrate (`--migrate`) gets these
statements, in one transaction, instead of a run of every Alembic migration: the same
schema (tests/db/test_migrations.py checks that the catalog they leave is exactly the
one the migrations leave), without loading Alembic and SQLAlchemy into the import's
start-up, where they cost about half a CPU-second. Databases that hold any table are
always upgraded by the migrations themselves.

The statements are Alembic's own offline output (`alembic upgrade head --sql`) without
the version bookkeeping. When a migration is added, update REVISION and these statements;
the test prints the statements the migrations now produce.
"""

from __future__ import annotations

REVISION = "0002"

STATEMENTS: tuple[str, ...] = (
    """
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
)
""",
    """
CREATE TABLE users (
    id SERIAL NOT NULL,
    username VARCHAR(150) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    token_hash VARCHAR(64),
    token_issued_at TIMESTAMP WITH TIME ZONE,
    last_seen_at TIMESTAMP WITH TIME ZONE,
    last_result VARCHAR(4200),
    is_placeholder BOOLEAN NOT NULL,
    CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT uq_users_token_hash UNIQUE (token_hash),
    CONSTRAINT uq_users_username UNIQUE (username)
)
""",
    """
CREATE TABLE command_history (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    command TEXT NOT NULL,
    result TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    turn_id VARCHAR(36),
    source VARCHAR(16),
    family VARCHAR(32),
    action VARCHAR(32),
    action_data JSON,
    interrupted BOOLEAN NOT NULL,
    first_text_ms FLOAT,
    total_ms FLOAT,
    CONSTRAINT pk_command_history PRIMARY KEY (id),
    CONSTRAINT fk_command_history_user_id_users FOREIGN KEY(user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT uq_command_history_turn_id UNIQUE (turn_id)
)
""",
    "CREATE INDEX ix_command_history_created_at ON command_history (created_at)",
    "CREATE INDEX ix_command_history_user_id_id ON command_history (user_id, id)",
    """
CREATE TABLE conversations (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    started_at TIMESTAMP WITH TIME ZONE NOT NULL,
    last_activity_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT pk_conversations PRIMARY KEY (id),
    CONSTRAINT fk_conversations_user_id_users FOREIGN KEY(user_id)
        REFERENCES users (id) ON DELETE CASCADE
)
""",
    "CREATE INDEX ix_conversations_user_id ON conversations (user_id)",
    """
CREATE TABLE settings (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    voice VARCHAR(200) NOT NULL,
    voice_speed INTEGER NOT NULL,
    theme VARCHAR(50) NOT NULL,
    timezone VARCHAR(64),
    CONSTRAINT pk_settings PRIMARY KEY (id),
    CONSTRAINT fk_settings_user_id_users FOREIGN KEY(user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT uq_settings_user_id UNIQUE (user_id)
)
""",
    """
CREATE TABLE messages (
    id SERIAL NOT NULL,
    conversation_id INTEGER NOT NULL,
    is_user BOOLEAN NOT NULL,
    content TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    turn_id VARCHAR(36),
    interrupted BOOLEAN NOT NULL,
    CONSTRAINT pk_messages PRIMARY KEY (id),
    CONSTRAINT fk_messages_conversation_id_conversations FOREIGN KEY(conversation_id)
        REFERENCES conversations (id) ON DELETE CASCADE
)
""",
    "CREATE INDEX ix_messages_conversation_id_id ON messages (conversation_id, id)",
    """
CREATE TABLE rate_limit_buckets (
    bucket_key VARCHAR(200) NOT NULL,
    tokens FLOAT NOT NULL,
    last_allowed BOOLEAN NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT pk_rate_limit_buckets PRIMARY KEY (bucket_key)
)
""",
    "CREATE INDEX ix_rate_limit_buckets_expires_at ON rate_limit_buckets (expires_at)",
    "ALTER TABLE rate_limit_buckets SET UNLOGGED",
)
