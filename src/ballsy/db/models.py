"""The schema: the legacy prototype's entities, one to one, plus what Ballsy adds.

Legacy table -> here: `users`, `conversations`, `messages`, `settings` and
`command_history` keep their names and ids; legacy `timestamp` columns are
`created_at` here. Every timestamp is timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The product's limits on stored text, which TEXT columns do not enforce: a command is at
# most 1,000 characters (the ceiling of MAX_COMMAND_CHARS); a reply at most 32,000 (the
# AI's ceiling of 8,192 output tokens at about four characters each). A column carries
# its limit in `info["max_chars"]`: the importer cuts longer text (reporting each row),
# and history reads return at most that much of each value.
COMMAND_MAX_CHARS = 1000
REPLY_MAX_CHARS = 32_000
# A remembered fact: a sentence or two, never a document.
MEMORY_MAX_CHARS = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite stores no offset; we restore it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class User(Base):
    """A person. Anonymous users are created on first visit and hold a bearer token."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # SHA-256 of the bearer token; the token itself is never stored.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_issued_at: Mapped[datetime | None]
    # Indexed for the retention batch, which looks for users not seen since a cutoff.
    last_seen_at: Mapped[datetime | None] = mapped_column(index=True)
    # Last arithmetic result as an exact fraction "p/q", so "plus six" survives restarts.
    last_result: Mapped[str | None] = mapped_column(String(4200))
    # Rows created by the importer for orphaned legacy references.
    is_placeholder: Mapped[bool] = mapped_column(Boolean, default=False)

    conversations: Mapped[list[Conversation]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="conversations")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    is_user: Mapped[bool] = mapped_column(Boolean)
    content: Mapped[str] = mapped_column(Text, info={"max_chars": REPLY_MAX_CHARS})
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    turn_id: Mapped[str | None] = mapped_column(String(36))
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)


class UserSettings(Base):
    __tablename__ = "settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    voice: Mapped[str] = mapped_column(String(200), default="Daniel")
    voice_speed: Mapped[int] = mapped_column(Integer, default=180)
    theme: Mapped[str] = mapped_column(String(50), default="light")
    timezone: Mapped[str | None] = mapped_column(String(64))


class CommandHistory(Base):
    """One row per turn: what was asked, what was answered, and how long it took."""

    __tablename__ = "command_history"
    __table_args__ = (Index("ix_command_history_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    command: Mapped[str] = mapped_column(Text, info={"max_chars": COMMAND_MAX_CHARS})
    result: Mapped[str | None] = mapped_column(Text, info={"max_chars": REPLY_MAX_CHARS})
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    turn_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    source: Mapped[str | None] = mapped_column(String(16))  # "local" or "ai"
    family: Mapped[str | None] = mapped_column(String(32))  # which command answered
    action: Mapped[str | None] = mapped_column(String(32))
    action_data: Mapped[dict[str, Any] | None]
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Turn latency: received -> first text, received -> done (milliseconds).
    first_text_ms: Mapped[float | None] = mapped_column(Float)
    total_ms: Mapped[float | None] = mapped_column(Float)


class RateLimitBucket(Base):
    """One token bucket of the PostgreSQL rate-limit store (`providers/ratelimit/postgres.py`).

    `bucket_key` is `<budget>:<client>`. A bucket is full again at `expires_at`, after
    which the row means nothing and is purged. `last_allowed` is the decision of the
    latest check, read back by the check's own `RETURNING`.
    """

    __tablename__ = "rate_limit_buckets"
    # Throttling state, not user data: the SQLite importer leaves it out.
    __table_args__ = {"info": {"imported": False}}  # noqa: RUF012  # SQLAlchemy reads it

    bucket_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    last_allowed: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Timer(Base):
    """A timer, alarm or reminder (`kind`), due at `due_at` (`assistant/timers.py`).

    `fired_at` is set once, by the instance whose atomic claim (`UPDATE … WHERE fired_at
    IS NULL`) wins when the item is due, so it fires exactly once however many instances
    run; `fired_by` names that instance. `delivered_at` is set when a page has shown it;
    an item fired while no page was open is announced on the user's next connection.
    `timezone` is the zone it was set in, for saying its time when it fires.
    """

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_user_id_due_at", "user_id", "due_at"),
        # Only the items still to fire: what every instance's poll looks at (what is due,
        # when is the next), in a few index pages however many fired items are kept.
        Index(
            "ix_timers_due_at_pending",
            "due_at",
            postgresql_where=text("fired_at IS NULL"),
            sqlite_where=text("fired_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # timer, alarm, reminder
    label: Mapped[str | None] = mapped_column(String(200))
    seconds: Mapped[int | None] = mapped_column(Integer)  # a timer's length
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    fired_by: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None]


class RememberedFact(Base):
    """One thing a user asked Ballsy to remember (the long-term memory, assistant/recall.py).

    `embedding` is the fact's sentence vector as little-endian float32 bytes (384 of them
    for all-MiniLM-L6-v2, named in `model`, so a later model can tell which rows to
    re-embed); plain bytes work on SQLite and PostgreSQL alike, and recall ranks them in
    numpy from the per-user cache. `tokens` is the fact's length in the model's word
    pieces: the unit of the prompt's memory budget. Deleted with its user (ON DELETE
    CASCADE). The id is AUTOINCREMENT on SQLite too, so ids are never reused: the recall
    cache checks (count, newest id) to see whether another instance changed the memory.
    """

    __tablename__ = "remembered_facts"
    __table_args__ = (
        Index("ix_remembered_facts_user_id_id", "user_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text, info={"max_chars": MEMORY_MAX_CHARS})
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    model: Mapped[str] = mapped_column(String(64))
    tokens: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
