"""Settings grouped by area: each part of Ballsy receives its own area's group.

`Settings` (config.py) reads every environment variable into one flat model; its
properties hand out one frozen group per area, e.g. `settings.database` ->
`DatabaseSettings`. The database engine gets `DatabaseSettings`, the AI providers
`AISettings`, the rate limiter `RateLimitSettings`, and so on; only the top-level
wiring (wiring.py, app.py, cli.py, server.py) holds the whole `Settings`, and passes a
value across areas explicitly where a part needs one (the import rules in
pyproject.toml keep `ballsy.config` out of the layers below the wiring).

A group's attributes have the flat settings' own names (`database.db_pool_size` is
DB_POOL_SIZE), so one name leads from `.env` to every place that reads it. Lists become
tuples, so a group is immutable all the way down.

Adding a setting to an area: declare the flat field in `Settings` under the area's
section (type, default, bounds), add the same name and type here to that area's group,
and document it under the same section of `.env.example`. tests/test_config_groups.py
fails, naming the group to use, while a setting belongs to no group or to two.

A group is built on each access (a few microseconds), so it always reflects the
settings it came from, including a `model_copy(update=...)`; read it once per
request or connection, not per frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import SecretStr

_WILDCARD_ADDRESS = re.compile(r"^(0\.0\.0\.0|::|\[::\])?$")
_NAMES: dict[type[SettingsGroup], tuple[str, ...]] = {}


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the setting."""


class SettingsGroup:
    """One area's settings, copied by name from the flat `Settings`."""

    __slots__ = ()
    # The `.env.example` section (`# --- <section> ---`) that documents the group.
    SECTION: ClassVar[str]
    # Settings only a benchmark would turn; `.env.example` marks each one
    # "(tuning: leave as is unless measuring)" (tests/test_env_example.py checks it).
    TUNING: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The group's settings, by field name."""
        found = _NAMES.get(cls)
        if found is None:
            found = _NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
        return found

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        """The group's values from `settings` (lists as tuples)."""
        values: dict[str, Any] = {}
        for name in cls.names():
            value = getattr(settings, name)
            values[name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSettings(SettingsGroup):
    """The HTTP service: where it listens, who may call it, what it accepts."""

    SECTION: ClassVar[str] = "service"

    environment: Literal["development", "production", "test"]
    host: str
    port: int
    cors_origins: tuple[str, ...]
    max_body_bytes: int
    shutdown_grace_seconds: float
    trusted_proxy_hops: int
    k_service: str | None
    operator_api_keys: tuple[SecretStr, ...]
    trusted_hosts: tuple[str, ...]

    @property
    def is_production(self) -> bool:
        return self.environment == "production" or (
            self.environment == "development" and bool(self.k_service)
        )

    def allowed_hosts(self) -> list[str]:
        """TRUSTED_HOSTS, or by default this machine's names (and HOST when it names one
        address), plus on Cloud Run the service's own run.app URLs."""
        if self.trusted_hosts:
            return list(self.trusted_hosts)
        hosts = ["localhost", "127.0.0.1", "::1"]
        # A wildcard listen address names no host a client could use.
        if not _WILDCARD_ADDRESS.match(self.host) and self.host.lower() not in hosts:
            hosts.append(self.host.lower())
        if self.k_service:
            # {service}-{project number}.{region}.run.app and {service}-{hash}-{region}.a.run.app
            hosts.append(f"{self.k_service.lower()}-*.run.app")
        return hosts


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingSettings(SettingsGroup):
    SECTION: ClassVar[str] = "logging"

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    log_format: Literal["json", "text"]
    google_cloud_project: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseSettings(SettingsGroup):
    """Where the data lives, and every bound on waiting for it."""

    SECTION: ClassVar[str] = "database"
    TUNING: ClassVar[frozenset[str]] = frozenset({"turn_queue_max", "user_memory_cache_entries"})

    data_dir: Path
    database_url: SecretStr | None
    db_pool_size: int
    db_max_overflow: int
    db_pool_timeout_seconds: float
    db_connect_timeout_seconds: float
    db_command_timeout_seconds: float
    db_statement_timeout_ms: int
    turn_queue_max: int
    user_memory_cache_entries: int
    ready_timeout_seconds: float

    @property
    def sqlite_default_path(self) -> Path:
        return self.data_dir / "ballsy.db"

    def database_url_value(self) -> str:
        """The configured URL, or the embedded SQLite file when none is set."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.sqlite_default_path}"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url_value().startswith("sqlite")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationSettings(SettingsGroup):
    """Turns, conversation memory and its retention, the WebSocket's own bounds."""

    SECTION: ClassVar[str] = "conversation memory"
    TUNING: ClassVar[frozenset[str]] = frozenset({"tokenless_scope_max_entries"})

    max_command_chars: int
    context_turns: int
    context_max_chars: int
    conversation_idle_minutes: int
    history_retention_days: int
    anonymous_user_retention_days: int
    tokenless_scope_ttl_seconds: int
    tokenless_scope_max_entries: int
    ws_idle_timeout_seconds: float
    ws_max_frame_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AISettings(SettingsGroup):
    SECTION: ClassVar[str] = "AI"

    ai_provider: Literal["auto", "gemini", "openai", "none"]
    gemini_api_key: SecretStr | None
    gemini_model: str
    google_genai_use_vertexai: bool
    google_cloud_location: str
    openai_base_url: str | None
    openai_api_key: SecretStr | None
    openai_model: str | None
    ai_system_prompt: str
    ai_max_output_tokens: int
    ai_temperature: float
    ai_connect_timeout_seconds: float
    ai_first_token_timeout_seconds: float
    ai_total_timeout_seconds: float
    ai_max_retries: int
    ai_required_for_ready: bool

    def effective_ai_provider(self) -> Literal["gemini", "openai", "none"]:
        """Which AI provider `auto` resolves to, from what is configured."""
        if self.ai_provider != "auto":
            return self.ai_provider
        if self.gemini_api_key is not None or self.google_genai_use_vertexai:
            return "gemini"
        if self.openai_base_url and self.openai_model:
            return "openai"
        return "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechSettings(SettingsGroup):
    SECTION: ClassVar[str] = "speech-to-text"
    TUNING: ClassVar[frozenset[str]] = frozenset({"stt_beam_size", "stt_min_window_seconds"})

    stt_enabled: bool
    stt_model: str
    stt_device: Literal["auto", "cpu", "cuda"]
    stt_compute_type: str
    stt_cpu_threads: int
    stt_max_concurrency: int
    stt_queue_timeout_seconds: float
    stt_max_bytes: int
    stt_max_seconds: float
    stt_preload: bool
    stt_max_queue: int
    stt_beam_size: int
    stt_min_window_seconds: float
    stt_job_timeout_seconds: float
    stt_worker_memory_mb: int
    stt_language: str
    stt_command_prompt: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitSettings(SettingsGroup):
    SECTION: ClassVar[str] = "rate limits"
    TUNING: ClassVar[frozenset[str]] = frozenset({"rate_limit_max_keys"})

    rate_limit_enabled: bool
    rate_limit_store: Literal["memory", "postgres"]
    rate_limit_fail_open: bool
    rate_limit_requests_per_minute: int
    rate_limit_ws_messages_per_minute: int
    rate_limit_ai_calls_per_user_per_hour: int
    rate_limit_ai_calls_per_instance_per_minute: int
    rate_limit_stt_seconds_per_user_per_hour: int
    rate_limit_ai_calls_per_address_per_hour: int
    rate_limit_stt_seconds_per_address_per_hour: int
    rate_limit_ws_messages_per_address_per_minute: int
    rate_limit_sessions_per_address_per_hour: int
    rate_limit_sessions_per_instance_per_minute: int
    rate_limit_conversations_per_user_per_hour: int
    rate_limit_ws_per_user: int
    rate_limit_ws_per_address: int
    rate_limit_ws_per_instance: int
    rate_limit_max_keys: int
    rate_limit_ws_flood_warnings: int
    rate_limit_store_timeout_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceSettings(SettingsGroup):
    SECTION: ClassVar[str] = "speech synthesis: Ballsy's own voice"

    tts_enabled: bool
    tts_voice: str
    tts_max_concurrency: int
    tts_max_queue: int
    tts_queue_timeout_seconds: float
    tts_job_timeout_seconds: float
    tts_worker_memory_mb: int
    tts_max_chars: int
    tts_preload: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenSettings(SettingsGroup):
    SECTION: ClassVar[str] = "listening"
    TUNING: ClassVar[frozenset[str]] = frozenset({"listen_partial_interval_seconds"})

    listen_silence_seconds: float
    listen_partial_interval_seconds: float
    listen_max_partials: int
    listen_no_speech_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeSettings(SettingsGroup):
    SECTION: ClassVar[str] = "wake word"

    wake_word: Literal["off", "okay_nabu", "hey_jarvis", "hey_mycroft", "alexa"]
    wake_max_streams: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MemorySettings(SettingsGroup):
    SECTION: ClassVar[str] = "long-term memory"
    TUNING: ClassVar[frozenset[str]] = frozenset({"memory_cache_max_vectors"})

    memory_enabled: bool
    memory_prompt_tokens: int
    memory_max_facts_per_user: int
    memory_embed_threads: int
    memory_cache_max_vectors: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSettings(SettingsGroup):
    SECTION: ClassVar[str] = "tools and weather"

    ai_tools_enabled: bool
    ai_tool_max_rounds: int
    ai_tool_timeout_seconds: float
    weather_enabled: bool
    weather_default_place: str
    weather_forecast_url: str
    weather_geocoding_url: str
    weather_timeout_seconds: float
    weather_cache_minutes: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerSettings(SettingsGroup):
    SECTION: ClassVar[str] = "timers, alarms and reminders"
    TUNING: ClassVar[frozenset[str]] = frozenset({"timer_poll_seconds"})

    timer_poll_seconds: float
    timers_max_per_user: int
    wake_token: SecretStr | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsSettings(SettingsGroup):
    SECTION: ClassVar[str] = "metrics"

    metrics_enabled: bool
    metrics_token: SecretStr | None


# Every group, by the name of the `Settings` property that builds it.
GROUPS: dict[str, type[SettingsGroup]] = {
    "service": ServiceSettings,
    "logging": LoggingSettings,
    "database": DatabaseSettings,
    "conversation": ConversationSettings,
    "ai": AISettings,
    "speech": SpeechSettings,
    "voice": VoiceSettings,
    "listening": ListenSettings,
    "wake": WakeSettings,
    "limits": RateLimitSettings,
    "memory": MemorySettings,
    "tools": ToolSettings,
    "timers": TimerSettings,
    "metrics": MetricsSettings,
}
