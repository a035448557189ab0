"""Request and response bodies at the HTTP edge (the legacy shapes, extended)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from ballsy.assistant.identity import parse_zone
from ballsy.assistant.pipeline import CONTROL_CHARACTERS

# Ids are SQL BIGINTs: anything outside that range can name no row, and would overflow
# the driver (SQLite: a 500) if it reached the database.
MAX_ID = 2**63 - 1
MIN_ID = -(2**63)


def _check_zone(value: str | None) -> str | None:
    if value is not None and parse_zone(value) is None:
        raise ValueError("must be an IANA time zone name such as Europe/Paris")
    return value


def _plain_text(value: str | None) -> str | None:
    if value is not None and CONTROL_CHARACTERS.search(value):
        raise ValueError("must not hold control characters (such as NUL)")
    return value


class CommandIn(BaseModel):
    command: str = Field(
        min_length=1,
        max_length=1000,
        pattern=r"\S",
        description="What the user said or typed (at most MAX_COMMAND_CHARS, ≤ 1,000).",
    )
    user_id: int | None = Field(
        default=1,
        ge=MIN_ID,
        le=MAX_ID,
        description="Legacy field; ignored when a session token is sent.",
    )
    timezone: str | None = Field(default=None, max_length=64)

    @field_validator("command")
    @classmethod
    def _no_controls(cls, value: str) -> str:
        _plain_text(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return _check_zone(_plain_text(value))


class CommandOut(BaseModel):
    response: str
    action: str | None
    data: dict[str, Any] | None


class VoiceOut(CommandOut):
    transcript: str


class SessionOut(BaseModel):
    user_id: int
    token: str = Field(description="Bearer token; keep it. Only its hash is stored.")
    username: str


class WhoAmI(BaseModel):
    user_id: int
    username: str


class HistoryItem(BaseModel):
    id: int
    user_id: int
    command: str
    result: str | None
    timestamp: str


class HistoryOut(BaseModel):
    history: list[HistoryItem]


class SettingsBody(BaseModel):
    user_id: int
    voice: str
    voice_speed: int
    theme: str
    timezone: str | None


class SettingsOut(BaseModel):
    settings: SettingsBody


class SettingsIn(BaseModel):
    voice: str | None = Field(default=None, min_length=1, max_length=200)
    voice_speed: int | None = Field(default=None, ge=50, le=500)
    # "system" follows the device's light or dark mode.
    theme: Literal["light", "dark", "system"] | None = None
    timezone: str | None = Field(default=None, max_length=64)

    @field_validator("voice")
    @classmethod
    def _plain_voice(cls, value: str | None) -> str | None:
        return _plain_text(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return _check_zone(_plain_text(value))


class ConversationOut(BaseModel):
    conversation_id: int


class ConversationItem(BaseModel):
    conversation_id: int
    started_at: str
    last_activity_at: str | None
    messages: int
    title: str | None = Field(default=None, description="The first command, shortened.")


class ConversationsOut(BaseModel):
    conversations: list[ConversationItem]


class ConversationMessage(BaseModel):
    role: Literal["user", "assistant"]
    text: str
    timestamp: str
    turn_id: str | None
    interrupted: bool
    source: str | None = Field(default=None, description='"local" or "ai", for a reply.')
    action: str | None = None
    data: dict[str, Any] | None = None


class ConversationDetail(BaseModel):
    conversation_id: int
    started_at: str
    last_activity_at: str | None
    messages: list[ConversationMessage]


class VoiceCapabilities(BaseModel):
    """Ballsy's own voice (Piper, spoken by the server), which a client may use instead
    of the browser's voices."""

    available: bool = Field(
        description="Whether this server can speak (TTS_ENABLED and the voice extra)."
    )
    name: str = Field(description="The voice (TTS_VOICE); empty when unavailable.")
    title: str = Field(description="The voice's name for people; empty when unavailable.")
    sample_rate: int | None = Field(
        description="Hz of the PCM it speaks (WebSocket audio, and pcm and wav from "
        "/v1/audio/speech); null when unavailable or not known before speaking."
    )
    stream_format: str = Field(
        description="The format of the WebSocket's binary voice frames (16-bit "
        "little-endian mono PCM), as voice_start names it."
    )
    formats: list[str] = Field(
        description="The response_format values POST /v1/audio/speech produces here; "
        "empty when unavailable."
    )
    reason: str | None = Field(description="Why it is unavailable, and the fix; else null.")


class Capabilities(BaseModel):
    """What this server can do, and the limits a client must keep to."""

    ai: bool
    ai_provider: str
    stt: bool
    max_command_chars: int = Field(description="Longest command, in characters.")
    max_audio_bytes: int = Field(description="Largest recording, in bytes (HTTP or WebSocket).")
    max_audio_seconds: float = Field(description="Longest recording, in seconds.")
    max_frame_bytes: int = Field(
        description="Largest WebSocket frame, text or binary: send audio in smaller chunks."
    )
    max_request_bytes: int = Field(description="Largest HTTP request body (an upload).")
    wake_word: str | None = Field(
        default=None,
        description="The wake phrase heard in hands-free mode (WAKE_WORD), or null when off.",
    )
    voice: VoiceCapabilities


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    db: str = Field(description="ok, unavailable, or schema_out_of_date")
    ai: str | None = None
    code: str | None = Field(default=None, description="schema_out_of_date when not migrated")
    message: str | None = None
    models: dict[str, str] | None = Field(
        default=None,
        description="Preloaded models (speech, …): loading, ok or failed; not ready while loading",
    )
