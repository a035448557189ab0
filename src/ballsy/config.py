"""Typed settings: the one source of truth for every environment variable.

Every setting is read from the environment (or an optional `.env` file) under the
upper-case form of its field name, e.g. `database_url` <- `DATABASE_URL`.
`.env.example` documents each one. `Settings.check_production()` refuses unsafe
values at startup with one line naming the offending setting. A renamed setting also
accepts its former name (`validation_alias`), so existing deployments keep working.

Each part of the code receives only its own area's group (`settings.database`,
`settings.ai`, … built in config_groups.py); the flat fields stay the one place a
setting is declared and read from the environment.

This module is on the CLI's fast path (`ballsy ask` answering locally), so SQLAlchemy,
which URL redaction needs, is imported only in `redacted()`: about 0.17 s and 86 modules.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ballsy.config_groups import (
    AISettings,
    ConfigError,
    ConversationSettings,
    DatabaseSettings,
    ListenSettings,
    LoggingSettings,
    MemorySettings,
    MetricsSettings,
    RateLimitSettings,
    ServiceSettings,
    SpeechSettings,
    TimerSettings,
    ToolSettings,
    VoiceSettings,
    WakeSettings,
)

__all__ = ["DEFAULT_PERSONA", "ConfigError", "Settings", "load_settings"]

CommaList = Annotated[list[str], NoDecode]

DEFAULT_PERSONA = (
    "You are Ballsy, a voice assistant with the voice of a witty, warm and honest big brother. "
    "Your replies are spoken aloud: answer in one or two short sentences of plain speech, "
    "with no markdown, lists, emoji or URLs. If you are not sure, say so plainly."
)


class Settings(BaseSettings):
    """Ballsy's configuration: flat fields, one per variable, under their area's section;
    each area's group (config_groups.py) is one property below."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- service -------------------------------------------------------------
    environment: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # In the database group (where the embedded SQLite file lives); declared here, where
    # `ballsy config check` has always listed it.
    data_dir: Path = Path("data")
    cors_origins: CommaList = Field(default_factory=list)
    max_body_bytes: int = Field(default=12 * 1024 * 1024, ge=1024)
    shutdown_grace_seconds: float = Field(default=8.0, ge=0, le=9.5)
    # Number of proxies in front of Ballsy whose X-Forwarded-For entry is trusted.
    # 0 (laptop): the socket peer is the client. Cloud Run: 1 (Google's front end).
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    # Set by Cloud Run; its presence means production.
    k_service: str | None = None
    operator_api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Host names the server answers to (the Host header); anything else gets 400, so a
    # DNS-rebinding page cannot drive a laptop's tokenless API. "*.example.com" matches
    # subdomains; "*" alone switches the check off. Empty: see `allowed_hosts()`.
    trusted_hosts: CommaList = Field(default_factory=list)

    # --- logging -------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    google_cloud_project: str | None = None

    # --- database ------------------------------------------------------------
    database_url: SecretStr | None = None
    db_pool_size: int = Field(default=3, ge=1, le=50)
    db_max_overflow: int = Field(default=2, ge=0, le=50)
    # Client-side bounds, so a server that stops answering (paused, partitioned) costs a
    # request at most about these seconds and a 503, never a hang.
    db_pool_timeout_seconds: float = Field(default=1.5, gt=0, le=60)
    db_connect_timeout_seconds: float = Field(default=1.5, gt=0, le=60)
    # Each statement, timed by the client (asyncpg command_timeout; SQLite's busy timeout).
    db_command_timeout_seconds: float = Field(default=2.0, gt=0, le=600)
    db_statement_timeout_ms: int = Field(default=10_000, ge=0)
    # Turns waiting for the group-commit writer; beyond this a turn is refused with `busy`.
    turn_queue_max: int = Field(default=2000, ge=1, le=100_000)
    # Signed-in users whose memory (last result, time zone) this instance keeps between turns.
    user_memory_cache_entries: int = Field(default=10_000, ge=1, le=1_000_000)
    ready_timeout_seconds: float = Field(default=1.5, gt=0, le=10)

    # --- conversation memory -------------------------------------------------
    max_command_chars: int = Field(default=1000, ge=1, le=1000)
    context_turns: int = Field(default=6, ge=0, le=50)
    context_max_chars: int = Field(default=4000, ge=0, le=100_000)
    conversation_idle_minutes: int = Field(default=30, ge=1)
    history_retention_days: int = Field(default=0, ge=0)
    # Anonymous users with no turns at all, unseen this many days, are deleted (0: never).
    anonymous_user_retention_days: int = Field(default=30, ge=0)
    # Memory for tokenless clients (no session token); ANONYMOUS_SCOPE_* is the former name.
    tokenless_scope_ttl_seconds: int = Field(
        default=900,
        ge=10,
        validation_alias=AliasChoices("tokenless_scope_ttl_seconds", "anonymous_scope_ttl_seconds"),
    )
    tokenless_scope_max_entries: int = Field(
        default=10_000,
        ge=10,
        validation_alias=AliasChoices("tokenless_scope_max_entries", "anonymous_scope_max_entries"),
    )
    ws_idle_timeout_seconds: float = Field(default=600, gt=0)
    ws_max_frame_bytes: int = Field(default=64 * 1024, ge=1024)

    # --- AI ------------------------------------------------------------------
    ai_provider: Literal["auto", "gemini", "openai", "none"] = "auto"
    gemini_api_key: SecretStr | None = None
    gemini_model: str = "gemini-2.5-flash-lite"
    google_genai_use_vertexai: bool = False
    google_cloud_location: str = "us-central1"
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str | None = None
    ai_system_prompt: str = DEFAULT_PERSONA
    ai_max_output_tokens: int = Field(default=256, ge=16, le=8192)
    ai_temperature: float = Field(default=0.7, ge=0, le=2)
    ai_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    ai_first_token_timeout_seconds: float = Field(default=8.0, gt=0)
    ai_total_timeout_seconds: float = Field(default=25.0, gt=0)
    ai_max_retries: int = Field(default=2, ge=0, le=5)
    ai_required_for_ready: bool = False

    # --- tools and weather ---------------------------------------------------
    ai_tools_enabled: bool = True
    ai_tool_max_rounds: int = Field(default=3, ge=0, le=8)
    ai_tool_timeout_seconds: float = Field(default=8.0, gt=0, le=60)
    weather_enabled: bool = True
    weather_forecast_url: str = "https://api.open-meteo.com/v1/forecast"
    weather_geocoding_url: str = "https://geocoding-api.open-meteo.com/v1/search"
    weather_default_place: str = Field(default="", max_length=100)
    weather_timeout_seconds: float = Field(default=4.0, gt=0, le=30)
    weather_cache_minutes: float = Field(default=10.0, ge=0, le=180)

    # --- speech-to-text ------------------------------------------------------
    stt_enabled: bool = True
    stt_model: str = "embedded"
    stt_device: Literal["auto", "cpu", "cuda"] = "auto"
    stt_compute_type: str = "int8"
    stt_cpu_threads: int = Field(default=1, ge=1, le=32)
    stt_max_concurrency: int = Field(default=1, ge=1, le=16)
    stt_queue_timeout_seconds: float = Field(default=3.0, ge=0)
    stt_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    stt_max_seconds: float = Field(default=60.0, gt=0)
    stt_preload: bool = True
    # Requests allowed to wait for a transcription slot; beyond it they are refused at once.
    stt_max_queue: int = Field(default=4, ge=0, le=256)
    # Beam 2 cut word errors on 60 s of speech from 20% to 12% (beam 1) for ~10% more CPU;
    # beam 5 with the command prompt, 11.7% -> 9.7% on 120 spoken commands for ~12% more.
    stt_beam_size: int = Field(default=5, ge=1, le=10)
    # Whisper pads every input to 30 s; short commands are encoded in a window this small.
    stt_min_window_seconds: float = Field(default=15.0, ge=5, le=30)
    # Untrusted audio is decoded and recognised in worker processes (one per concurrent
    # transcription): a job past this deadline is killed and its worker replaced...
    stt_job_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    # ...and each worker's address space is capped at this (CPU only; 0 = no cap).
    stt_worker_memory_mb: int = Field(default=1536, ge=0, le=1_048_576)

    # Decoding for short commands: the language a multilingual model is told (never
    # detected), and whether Whisper is prompted with the commands' vocabulary (which also
    # decodes again, among calculations, a command that asks for a sum it cannot be read as).
    stt_language: str = Field(default="en", pattern=r"^[a-z]{2,3}$")
    stt_command_prompt: bool = True

    # --- listening (live speech streamed from the page) ----------------------
    # The turn ends this long after the speaker falls silent (no click needed).
    listen_silence_seconds: float = Field(default=0.6, ge=0.2, le=5)
    # Partial transcripts: the growing utterance is decoded again every this much audio...
    listen_partial_interval_seconds: float = Field(default=0.5, ge=0.2, le=5)
    # ...by at most this many decodes at once per instance (0: no partial transcripts).
    listen_max_partials: int = Field(default=1, ge=0, le=16)
    # A stream in which nobody speaks for this long is closed without a turn.
    listen_no_speech_seconds: float = Field(default=8.0, ge=1, le=60)

    # --- wake word ------------------------------------------------------------
    # A wake word heard on the stream of a page in hands-free mode (off by default; the
    # models are pymicro-wakeword's, see providers/wake/catalogue.py for their licences).
    wake_word: Literal["off", "okay_nabu", "hey_jarvis", "hey_mycroft", "alexa"] = "off"
    wake_max_streams: int = Field(default=64, ge=1, le=4096)

    # --- speech synthesis (Ballsy's own voice) -------------------------------
    # Piper, in worker processes (the `voice` extra); without it the page uses the
    # browser's voices. TTS_VOICE: a packaged voice ("joe") or a Piper .onnx file.
    tts_enabled: bool = True
    tts_voice: str = "joe"
    tts_max_concurrency: int = Field(default=1, ge=1, le=16)
    # Sentences waiting for a voice worker, and how long; past either the page is told
    # to speak that sentence with the browser's voice instead.
    tts_max_queue: int = Field(default=4, ge=0, le=256)
    tts_queue_timeout_seconds: float = Field(default=2.0, ge=0, le=60)
    tts_job_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    tts_worker_memory_mb: int = Field(default=1024, ge=0, le=1_048_576)
    tts_max_chars: int = Field(default=4096, ge=16, le=100_000)
    tts_preload: bool = True

    # --- rate limits ---------------------------------------------------------
    rate_limit_enabled: bool = True
    rate_limit_store: Literal["memory", "postgres"] = "memory"
    rate_limit_fail_open: bool = True
    rate_limit_requests_per_minute: int = Field(default=120, ge=1)
    rate_limit_ws_messages_per_minute: int = Field(default=60, ge=1)
    rate_limit_ai_calls_per_user_per_hour: int = Field(default=120, ge=1)
    rate_limit_ai_calls_per_instance_per_minute: int = Field(default=30, ge=1)
    rate_limit_stt_seconds_per_user_per_hour: int = Field(default=600, ge=1)
    # Per-address budgets sit above the per-user ones: new anonymous sessions from one
    # address share them, so they buy no fresh budget (set them for a household).
    rate_limit_ai_calls_per_address_per_hour: int = Field(default=360, ge=1)
    rate_limit_stt_seconds_per_address_per_hour: int = Field(default=1800, ge=1)
    rate_limit_ws_messages_per_address_per_minute: int = Field(default=240, ge=1)
    rate_limit_sessions_per_address_per_hour: int = Field(default=20, ge=1)
    rate_limit_sessions_per_instance_per_minute: int = Field(default=60, ge=1)
    rate_limit_conversations_per_user_per_hour: int = Field(default=60, ge=1)
    # Open WebSockets: per signed-in user (after `hello`), and per address, higher.
    rate_limit_ws_per_user: int = Field(default=5, ge=1)
    rate_limit_ws_per_address: int = Field(default=20, ge=1)
    rate_limit_ws_per_instance: int = Field(default=1000, ge=1)
    rate_limit_max_keys: int = Field(default=100_000, ge=100)
    # Refused WebSocket messages answered with a warning before the socket is closed (1008).
    rate_limit_ws_flood_warnings: int = Field(default=5, ge=0, le=1000)
    # How long a check may wait for the PostgreSQL store before failing open or closed.
    rate_limit_store_timeout_seconds: float = Field(default=1.0, gt=0, le=10)

    # --- long-term memory ------------------------------------------------------
    # "remember that …", "forget that", facts in every AI prompt (needs the `memory` extra).
    memory_enabled: bool = True
    # Remembered facts added to each AI prompt, most relevant first, within this many
    # word-piece tokens (0: none; the facts stay reachable by voice and the AI's tools).
    memory_prompt_tokens: int = Field(default=150, ge=0, le=4000)
    memory_max_facts_per_user: int = Field(default=1000, ge=1, le=100_000)
    # Threads computing embeddings (each a few ms of CPU per query).
    memory_embed_threads: int = Field(default=1, ge=1, le=16)
    # Vectors kept in each instance's recall cache, all users together (1.5 KB each).
    memory_cache_max_vectors: int = Field(default=200_000, ge=1000, le=10_000_000)

    # --- timers, alarms and reminders ----------------------------------------
    # How often each instance looks for items set or fired through other instances (it
    # also wakes at the next due time it knows of): the most a page on another instance
    # waits to hear an item fire.
    timer_poll_seconds: float = Field(default=0.5, ge=0.1, le=60)
    # Items (timers, alarms and reminders together) a user may have waiting.
    timers_max_per_user: int = Field(default=100, ge=1, le=10_000)
    # Bearer token a scheduler (Cloud Scheduler, infra/scheduler.tf) presents to POST
    # /internal/due, so due items fire while no instance is running; unset: 404.
    wake_token: SecretStr | None = None

    # --- metrics -------------------------------------------------------------
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("operator_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "gemini_api_key", "openai_api_key", "metrics_token", "wake_token", "database_url"
    )
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse at load time a URL no command could use (the message never shows it)."""
        if value is None:
            return value
        scheme, sep, _rest = value.get_secret_value().strip().partition("://")
        if not sep or not scheme.replace("+", "").isalnum():
            raise ValueError(
                "not a database URL; use sqlite:///path/to/ballsy.db or "
                "postgresql://USER:PASSWORD@HOST:5432/DATABASE"
            )
        if scheme.lower().split("+")[0] not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(
                f"unsupported database {scheme.split('+')[0]!r}; Ballsy runs on SQLite "
                "(sqlite:///…) or PostgreSQL (postgresql://…)"
            )
        return value

    # --- groups: what each part of the code receives ---------------------------
    @property
    def service(self) -> ServiceSettings:
        return ServiceSettings.from_settings(self)

    @property
    def logging(self) -> LoggingSettings:
        return LoggingSettings.from_settings(self)

    @property
    def database(self) -> DatabaseSettings:
        return DatabaseSettings.from_settings(self)

    @property
    def conversation(self) -> ConversationSettings:
        return ConversationSettings.from_settings(self)

    @property
    def ai(self) -> AISettings:
        return AISettings.from_settings(self)

    @property
    def speech(self) -> SpeechSettings:
        return SpeechSettings.from_settings(self)

    @property
    def limits(self) -> RateLimitSettings:
        return RateLimitSettings.from_settings(self)

    @property
    def voice(self) -> VoiceSettings:
        return VoiceSettings.from_settings(self)

    @property
    def listening(self) -> ListenSettings:
        return ListenSettings.from_settings(self)

    @property
    def wake(self) -> WakeSettings:
        return WakeSettings.from_settings(self)

    @property
    def memory(self) -> MemorySettings:
        return MemorySettings.from_settings(self)

    @property
    def tools(self) -> ToolSettings:
        return ToolSettings.from_settings(self)

    @property
    def timers(self) -> TimerSettings:
        return TimerSettings.from_settings(self)

    @property
    def metrics(self) -> MetricsSettings:
        return MetricsSettings.from_settings(self)

    # --- derived (each computed by its group) -----------------------------------
    @property
    def is_production(self) -> bool:
        return self.service.is_production

    def allowed_hosts(self) -> list[str]:
        """TRUSTED_HOSTS, or by default this machine's names; see `ServiceSettings`."""
        return self.service.allowed_hosts()

    @property
    def sqlite_default_path(self) -> Path:
        return self.database.sqlite_default_path

    def database_url_value(self) -> str:
        """The configured URL, or the embedded SQLite file when none is set."""
        return self.database.database_url_value()

    @property
    def uses_sqlite(self) -> bool:
        return self.database.uses_sqlite

    def effective_ai_provider(self) -> Literal["gemini", "openai", "none"]:
        """Which AI provider `auto` resolves to, from what is configured."""
        return self.ai.effective_ai_provider()

    def check_production(self) -> None:
        """Refuse unsafe production configuration; the message names the setting."""
        if not self.is_production:
            return
        if "*" in self.cors_origins:
            raise ConfigError("CORS_ORIGINS must list explicit origins in production, not '*'")
        if self.database_url is None:
            raise ConfigError("DATABASE_URL is required in production (a PostgreSQL URL)")
        if self.uses_sqlite:
            raise ConfigError("DATABASE_URL must be PostgreSQL in production, not SQLite")
        if (
            self.ai_provider == "gemini"
            and self.gemini_api_key is None
            and not self.google_genai_use_vertexai
        ):
            raise ConfigError(
                "GEMINI_API_KEY is required in production when AI_PROVIDER=gemini "
                "(or set GOOGLE_GENAI_USE_VERTEXAI=true)"
            )
        if self.ai_provider == "openai" and not (self.openai_base_url and self.openai_model):
            raise ConfigError(
                "OPENAI_BASE_URL and OPENAI_MODEL are required when AI_PROVIDER=openai"
            )
        if not self.trusted_hosts and not self.k_service:
            raise ConfigError(
                "TRUSTED_HOSTS is required in production outside Cloud Run: the host names "
                "clients use to reach Ballsy (e.g. ballsy.example.com)"
            )
        if self.metrics_enabled and self.metrics_token is None:
            raise ConfigError(
                "METRICS_TOKEN is required in production while METRICS_ENABLED=true "
                "(or set METRICS_ENABLED=false)"
            )

    def redacted(self) -> dict[str, Any]:
        """Every setting with secrets replaced, for `ballsy config check`."""
        from ballsy.redaction import redact_url

        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "database_url":
                value = redact_url(self.database_url_value())
            elif isinstance(value, SecretStr):
                value = "**********"
            elif isinstance(value, list) and value and isinstance(value[0], SecretStr):
                value = ["**********"] * len(value)
            elif isinstance(value, Path):
                value = str(value)
            out[name.upper()] = value
        out["(production)"] = self.is_production
        out["(ai provider)"] = self.effective_ai_provider()
        return out


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; nothing is read at import time."""
    env_file = os.environ.get("BALLSY_ENV_FILE", ".env")
    return Settings(_env_file=env_file, **overrides)
