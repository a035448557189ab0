"""The one place that picks concrete backends from settings and builds the services.

It holds the whole `Settings` and hands each part only its area's group
(`settings.database` to the engine, `settings.ai` to the AI provider, …), passing a
value across areas explicitly where a part needs one.

An AI provider's module is imported only when that provider is chosen: Gemini's SDK
alone costs about 0.42 s and 208 modules on import (measured: `import google.genai`
after the server is loaded), and a start with no AI configured, or with the other
provider, does not pay for it (tests/test_startup.py checks the start path).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ballsy.assistant.identity import TokenCache, TokenlessScopes, TokenLookups
from ballsy.assistant.memory import MemoryCache
from ballsy.assistant.memory_tools import memory_tools
from ballsy.assistant.pipeline import Assistant, PipelineConfig
from ballsy.assistant.prompting import PromptBuilder
from ballsy.assistant.recall import LongTermMemory, MemoryOptions
from ballsy.assistant.timer_tools import timer_tools
from ballsy.assistant.timers import TimerOptions, Timers
from ballsy.assistant.tool_runner import ToolLimits
from ballsy.assistant.tools import ToolBox
from ballsy.assistant.weather import weather_tools
from ballsy.assistant.web_tools import web_tools
from ballsy.config import Settings
from ballsy.config_groups import AISettings, ConversationSettings, SpeechSettings, VoiceSettings
from ballsy.db import repositories as repo
from ballsy.db.engine import build_engine, build_sessionmaker
from ballsy.db.turn_store import TurnWriter
from ballsy.errors import FeatureUnavailable, ProviderUnavailable
from ballsy.metrics import Metrics
from ballsy.providers.embedding.encoder import load_embedder
from ballsy.providers.llm.base import AIError, GenerationParams, LLMProvider
from ballsy.providers.ratelimit.limiter import RateLimiter
from ballsy.providers.stt.base import SpeechToText
from ballsy.providers.stt.listen import Listening, ListenOptions
from ballsy.providers.stt.unavailable import UnavailableSpeechToText
from ballsy.providers.stt.whisper import WhisperSpeechToText
from ballsy.providers.tts.base import TextToSpeech, UnavailableTextToSpeech
from ballsy.providers.wake.service import WakeOptions, WakeWordService
from ballsy.providers.weather.open_meteo import OpenMeteo, WeatherOptions

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
    timers: Timers
    tts: TextToSpeech = field(
        default_factory=lambda: UnavailableTextToSpeech("Ballsy's voice is not set up here.")
    )
    tokens: TokenCache = field(default_factory=TokenCache)
    token_lookups: TokenLookups = field(init=False)
    extras: dict[str, Any] = field(default_factory=dict)
    # Tool services holding connections (the weather client), closed at shutdown.
    closables: list[Any] = field(default_factory=list)
    listening: Listening = field(default_factory=lambda: Listening(ListenOptions()))
    wake: WakeWordService | None = None  # WAKE_WORD=off (the default): None

    def __post_init__(self) -> None:
        self.token_lookups = TokenLookups(self._user_ids_by_token_hashes)

    async def _user_ids_by_token_hashes(self, token_hashes: list[str]) -> dict[str, int]:
        async with self.sessions() as session:
            return await repo.user_ids_by_token_hashes(session, token_hashes)

    async def aclose(self) -> None:
        # Store the turns already queued before anything they need goes away.
        await self.assistant.turns.aclose()
        if self.assistant.recall is not None and self.assistant.recall.embedder is not None:
            self.assistant.recall.embedder.close()
        for closable in (self.llm, self.stt, self.tts, self.limiter, self.wake, *self.closables):
            if closable is not None and hasattr(closable, "aclose"):
                try:
                    await closable.aclose()
                except Exception:
                    log.exception("error while closing a backend")
        await self.engine.dispose()


def make_llm(settings: Settings) -> LLMProvider | None:
    """The configured AI provider, or None when none is set up; raises `AIError` when the
    configuration cannot make one (bad OPENAI_BASE_URL, Vertex AI without credentials …)."""
    ai = settings.ai
    choice = ai.effective_ai_provider()
    if choice == "none":
        return None
    if choice == "gemini":
        from ballsy.providers.llm.gemini import GeminiProvider

        return GeminiProvider.from_settings(ai, project=settings.logging.google_cloud_project)
    from ballsy.providers.llm.openai_compat import OpenAICompatProvider

    return OpenAICompatProvider.from_settings(ai)


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


def build_stt(speech: SpeechSettings) -> SpeechToText:
    """The speech model, or a stand-in that explains why there is none."""
    if not speech.stt_enabled:
        return UnavailableSpeechToText(
            "Server speech recognition is switched off here (STT_ENABLED=false); type instead."
        )
    try:
        return WhisperSpeechToText.from_settings(speech)
    except FeatureUnavailable as exc:  # the `speech` extra is not installed
        log.warning("server speech recognition unavailable: %s", exc.message)
        return UnavailableSpeechToText(exc.message)


def build_long_term_memory(settings: Settings, engine: AsyncEngine) -> LongTermMemory | None:
    """The long-term memory; None when switched off (its phrases then go to the AI).
    Without the `memory` extra it exists and answers with what to install."""
    if not settings.memory_enabled:
        return None
    embedder = load_embedder(threads=settings.memory_embed_threads)
    options = MemoryOptions(
        prompt_tokens=settings.memory_prompt_tokens,
        max_per_user=settings.memory_max_facts_per_user,
        cache_max_vectors=settings.memory_cache_max_vectors,
    )
    if isinstance(embedder, str):
        log.warning("long-term memory unavailable: %s", embedder)
        return LongTermMemory(engine, None, options, unavailable=embedder)
    return LongTermMemory(engine, embedder, options)


def build_wake(settings: Settings) -> WakeWordService | None:
    """The wake word detector when WAKE_WORD names a model; None when off or not installed."""
    wake = settings.wake
    if wake.wake_word == "off":
        return None
    try:
        return WakeWordService(WakeOptions(model=wake.wake_word, max_streams=wake.wake_max_streams))
    except FeatureUnavailable as exc:  # the `wake` extra is not installed
        log.warning("wake word unavailable: %s", exc.message)
        return None


def build_tts(voice: VoiceSettings) -> TextToSpeech:
    """Ballsy's own voice (Piper in worker processes), or a stand-in saying why not:
    the page then speaks with the browser's voices."""
    if not voice.tts_enabled:
        return UnavailableTextToSpeech(
            "Ballsy's own voice is switched off here (TTS_ENABLED=false); "
            "the browser's voices are used."
        )
    try:
        from ballsy.providers.tts.options import SynthesisOptions
        from ballsy.providers.tts.piper import PiperTextToSpeech
        from ballsy.providers.tts.voices import (
            config_sample_rate,
            require_voice_extra,
            resolve_voice,
        )

        require_voice_extra()
        files = resolve_voice(voice.tts_voice)
    except (FeatureUnavailable, ProviderUnavailable) as exc:
        log.warning("Ballsy's own voice unavailable: %s", exc.message)
        return UnavailableTextToSpeech(exc.message)
    return PiperTextToSpeech(
        SynthesisOptions(
            voice=files.name,
            title=files.title,
            model_path=files.model_path,
            config_path=files.config_path,
            sample_rate=config_sample_rate(files.config_path),
            max_concurrency=voice.tts_max_concurrency,
            max_queue=voice.tts_max_queue,
            queue_timeout_seconds=voice.tts_queue_timeout_seconds,
            job_timeout_seconds=voice.tts_job_timeout_seconds,
            worker_memory_mb=voice.tts_worker_memory_mb,
            max_chars=voice.tts_max_chars,
            preload=voice.tts_preload,
        )
    )


def build_limiter(settings: Settings, engine: AsyncEngine) -> RateLimiter:
    """The limiter; with RATE_LIMIT_ENABLED=false it exists and admits everything."""
    return RateLimiter.from_settings(
        settings.limits, speech_max_seconds=settings.speech.stt_max_seconds, engine=engine
    )


def pipeline_config(conversation: ConversationSettings, ai: AISettings) -> PipelineConfig:
    """The assistant's bounds: the conversation's, and the AI's generation parameters."""
    return PipelineConfig(
        max_command_chars=conversation.max_command_chars,
        context_turns=conversation.context_turns,
        context_max_chars=conversation.context_max_chars,
        conversation_idle=timedelta(minutes=conversation.conversation_idle_minutes),
        generation=GenerationParams(
            max_output_tokens=ai.ai_max_output_tokens, temperature=ai.ai_temperature
        ),
    )


def weather_options(settings: Settings) -> WeatherOptions:
    return WeatherOptions(
        forecast_url=settings.weather_forecast_url,
        geocoding_url=settings.weather_geocoding_url,
        timeout_s=settings.weather_timeout_seconds,
        cache_minutes=settings.weather_cache_minutes,
    )


def build_tools(
    settings: Settings,
    *,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    closables: list[Any],
    recall: LongTermMemory | None = None,
    timers: Timers | None = None,
) -> ToolBox:
    """The tools local commands and the AI may call. Each capability adds its list here
    in one line (`box.add(timer_tools(...))`), with the database handles it needs;
    services that hold connections go in `closables`, closed at shutdown."""
    box = ToolBox()
    box.add(web_tools())
    if settings.weather_enabled:
        weather = OpenMeteo(weather_options(settings))
        closables.append(weather)
        box.add(weather_tools(weather))
    if recall is not None:
        box.add(memory_tools(recall))
    if timers is not None:
        box.add(timer_tools(timers))
    return box


def build_services(settings: Settings, overrides: Overrides | None = None) -> Services:
    overrides = overrides or Overrides()
    database, conversation, ai = settings.database, settings.conversation, settings.ai
    engine = build_engine(database)
    sessions = build_sessionmaker(engine)
    metrics = Metrics()
    metrics.watch_pool(_pool_stats(engine))
    llm = overrides.llm if overrides.use_llm_override else build_llm(settings)
    if overrides.use_stt_override:
        stt = overrides.stt or build_stt(replace(settings.speech, stt_enabled=False))
    else:
        stt = build_stt(settings.speech)
    if overrides.use_tts_override:
        tts = overrides.tts or build_tts(replace(settings.voice, tts_enabled=False))
    else:
        tts = build_tts(settings.voice)
    limiter = build_limiter(settings, engine)
    scopes = TokenlessScopes(
        ttl_seconds=conversation.tokenless_scope_ttl_seconds,
        max_entries=conversation.tokenless_scope_max_entries,
        max_turns=max(conversation.context_turns, 1),
    )
    closables: list[Any] = []
    timers = Timers(engine, timer_options(settings))
    recall = build_long_term_memory(settings, engine)
    tools = build_tools(
        settings,
        engine=engine,
        sessions=sessions,
        closables=closables,
        recall=recall,
        timers=timers,
    )
    assistant = Assistant(
        engine=engine,
        sessions=sessions,
        llm=llm,
        prompts=PromptBuilder(
            system_prompt=ai.ai_system_prompt, context_max_chars=conversation.context_max_chars
        ),
        config=pipeline_config(conversation, ai),
        scopes=scopes,
        limits=limiter,
        metrics=metrics,
        turns=TurnWriter(
            engine,
            idle_gap=timedelta(minutes=conversation.conversation_idle_minutes),
            max_queue=database.turn_queue_max,
            busy_timeout_ms=round(database.db_command_timeout_seconds * 1000),
        ),
        memory=MemoryCache(database.user_memory_cache_entries),
        recall=recall,
        tools=tools,
        tool_limits=ToolLimits(
            max_rounds=settings.ai_tool_max_rounds if settings.ai_tools_enabled else 0,
            timeout_s=settings.ai_tool_timeout_seconds,
        ),
        default_place=settings.weather_default_place.strip() or None,
        timers=timers,
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
        closables=closables,
        timers=timers,
        listening=Listening(listen_options(settings)),
        wake=build_wake(settings),
        tts=tts,
    )


def timer_options(settings: Settings) -> TimerOptions:
    return TimerOptions(
        poll_seconds=settings.timer_poll_seconds,
        max_pending_per_user=settings.timers_max_per_user,
    )


def listen_options(settings: Settings) -> ListenOptions:
    """Continuous listening's options (the LISTEN_* settings; the utterance limit is STT's)."""
    listening = settings.listening
    return ListenOptions(
        silence_seconds=listening.listen_silence_seconds,
        partial_interval_seconds=listening.listen_partial_interval_seconds,
        no_speech_seconds=listening.listen_no_speech_seconds,
        max_seconds=settings.speech.stt_max_seconds,
        max_partials=listening.listen_max_partials,
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
