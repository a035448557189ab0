"""The one place that picks concrete backends from settings and builds the services.

An AI provider's module is imported only when that provider is chosen: Gemini's SDK
alone costs about 0.42 s and 208 modules on import (measured: `import google.genai`
after the server is loaded), and a start with no AI configured, or with the other
provider, does not pay for it (tests/test_startup.py checks the start path).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ballsy.assistant.identity import TokenCache, TokenlessScopes
from ballsy.assistant.memory import MemoryCache
from ballsy.assistant.pipeline import Assistant, PipelineConfig
from ballsy.assistant.prompting import PromptBuilder
from ballsy.config import Settings
from ballsy.db.engine import build_engine, build_sessionmaker
from ballsy.db.turn_store import TurnWriter
from ballsy.errors import FeatureUnavailable, ProviderUnavailable
from ballsy.metrics import Metrics
from ballsy.providers.llm.base import AIError, GenerationParams, LLMProvider
from ballsy.providers.ratelimit.limiter import RateLimiter
from ballsy.providers.stt.base import SpeechToText
from ballsy.providers.stt.unavailable import UnavailableSpeechToText
from ballsy.providers.stt.whisper import WhisperSpeechToText
from ballsy.providers.tts.base import TextToSpeech, UnavailableTextToSpeech

log = logging.getLogger("ballsy.wiring")


@dataclass
class Overrides:
    """Backends a test or embedding program supplies instead of the configured ones."""

    llm: LLMProvider | None = None
    stt: SpeechToText | None = None  # None with use_stt_override: speech switched off
    use_llm_override: bool = False
    use_stt_override: bool = False
    tts: TextToSpeech | None = None  # None with use_tts_override: Ballsy's voice off
    use_tts_override: bool = False


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    metrics: Metrics
    scopes: TokenlessScopes
    assistant: Assistant
    llm: LLMProvider | None
    stt: SpeechToText
    limiter: RateLimiter
    tts: TextToSpeech = field(
        default_factory=lambda: UnavailableTextToSpeech("Ballsy's voice is not set up here.")
    )
    tokens: TokenCache = field(default_factory=TokenCache)
    extras: dict[str, Any] = field(default_factory=dict)

    async def aclose(self) -> None:
        # Store the turns already queued before anything they need goes away.
        await self.assistant.turns.aclose()
        for closable in (self.llm, self.stt, self.tts, self.limiter):
            if closable is not None and hasattr(closable, "aclose"):
                try:
                    await closable.aclose()
                except Exception:
                    log.exception("error while closing a backend")
        await self.engine.dispose()


def make_llm(settings: Settings) -> LLMProvider | None:
    """The configured AI provider, or None when none is set up; raises `AIError` when the
    configuration cannot make one (bad OPENAI_BASE_URL, Vertex AI without credentials …)."""
    choice = settings.effective_ai_provider()
    if choice == "none":
        return None
    if choice == "gemini":
        from ballsy.providers.llm.gemini import GeminiProvider

        return GeminiProvider.from_settings(settings)
    from ballsy.providers.llm.openai_compat import OpenAICompatProvider

    return OpenAICompatProvider.from_settings(settings)


def build_llm(settings: Settings) -> LLMProvider | None:
    """The configured AI provider for the server: a configuration that cannot make one is
    reported once, clearly, and local commands keep being served (AI_REQUIRED_FOR_READY
    turns this into a readiness failure)."""
    try:
        return make_llm(settings)
    except AIError as exc:
        log.error(
            "AI provider not available: %s",
            exc.message,
            extra={"ai_provider": settings.effective_ai_provider()},
        )
        return None


def build_stt(settings: Settings) -> SpeechToText:
    """The speech model, or a stand-in that explains why there is none."""
    if not settings.stt_enabled:
        return UnavailableSpeechToText(
            "Server speech recognition is switched off here (STT_ENABLED=false); type instead."
        )
    try:
        return WhisperSpeechToText.from_settings(settings)
    except FeatureUnavailable as exc:  # the `speech` extra is not installed
        log.warning("server speech recognition unavailable: %s", exc.message)
        return UnavailableSpeechToText(exc.message)


def build_tts(settings: Settings) -> TextToSpeech:
    """Ballsy's own voice (Piper in worker processes), or a stand-in saying why not:
    the page then speaks with the browser's voices."""
    if not settings.tts_enabled:
        return UnavailableTextToSpeech(
            "Ballsy's own voice is switched off here (TTS_ENABLED=false); "
            "the browser's voices are used."
        )
    try:
        from ballsy.providers.tts.options import SynthesisOptions
        from ballsy.providers.tts.piper import PiperTextToSpeech
        from ballsy.providers.tts.voices import require_voice_extra, resolve_voice

        require_voice_extra()
        files = resolve_voice(settings.tts_voice)
    except (FeatureUnavailable, ProviderUnavailable) as exc:
        log.warning("Ballsy's own voice unavailable: %s", exc.message)
        return UnavailableTextToSpeech(exc.message)
    return PiperTextToSpeech(
        SynthesisOptions(
            voice=files.name,
            title=files.title,
            model_path=files.model_path,
            config_path=files.config_path,
            max_concurrency=settings.tts_max_concurrency,
            max_queue=settings.tts_max_queue,
            queue_timeout_seconds=settings.tts_queue_timeout_seconds,
            job_timeout_seconds=settings.tts_job_timeout_seconds,
            worker_memory_mb=settings.tts_worker_memory_mb,
            max_chars=settings.tts_max_chars,
            preload=settings.tts_preload,
        )
    )


def build_limiter(settings: Settings, engine: AsyncEngine) -> RateLimiter:
    """The limiter; with RATE_LIMIT_ENABLED=false it exists and admits everything."""
    return RateLimiter.from_settings(settings, engine=engine)


def build_services(settings: Settings, overrides: Overrides | None = None) -> Services:
    overrides = overrides or Overrides()
    engine = build_engine(settings)
    sessions = build_sessionmaker(engine)
    metrics = Metrics()
    metrics.watch_pool(_pool_stats(engine))
    llm = overrides.llm if overrides.use_llm_override else build_llm(settings)
    if overrides.use_stt_override:
        stt = overrides.stt or build_stt(settings.model_copy(update={"stt_enabled": False}))
    else:
        stt = build_stt(settings)
    if overrides.use_tts_override:
        tts = overrides.tts or build_tts(settings.model_copy(update={"tts_enabled": False}))
    else:
        tts = build_tts(settings)
    limiter = build_limiter(settings, engine)
    scopes = TokenlessScopes(
        ttl_seconds=settings.tokenless_scope_ttl_seconds,
        max_entries=settings.tokenless_scope_max_entries,
        max_turns=max(settings.context_turns, 1),
    )
    assistant = Assistant(
        engine=engine,
        sessions=sessions,
        llm=llm,
        prompts=PromptBuilder(
            system_prompt=settings.ai_system_prompt, context_max_chars=settings.context_max_chars
        ),
        config=PipelineConfig(
            max_command_chars=settings.max_command_chars,
            context_turns=settings.context_turns,
            context_max_chars=settings.context_max_chars,
            conversation_idle=timedelta(minutes=settings.conversation_idle_minutes),
            generation=GenerationParams(
                max_output_tokens=settings.ai_max_output_tokens,
                temperature=settings.ai_temperature,
            ),
        ),
        scopes=scopes,
        limits=limiter,
        metrics=metrics,
        turns=TurnWriter(
            engine,
            idle_gap=timedelta(minutes=settings.conversation_idle_minutes),
            max_queue=settings.turn_queue_max,
            busy_timeout_ms=round(settings.db_command_timeout_seconds * 1000),
        ),
        memory=MemoryCache(settings.user_memory_cache_entries),
    )
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        metrics=metrics,
        scopes=scopes,
        assistant=assistant,
        llm=llm,
        stt=stt,
        limiter=limiter,
        tts=tts,
    )


def _pool_stats(engine: AsyncEngine) -> Any:
    def stats() -> dict[str, float]:
        pool = engine.sync_engine.pool
        out: dict[str, float] = {}
        for name in ("checkedout", "checkedin", "overflow", "size"):
            method = getattr(pool, name, None)
            if callable(method):
                out[name.replace("checked", "checked_")] = float(method())
        return out

    return stats
