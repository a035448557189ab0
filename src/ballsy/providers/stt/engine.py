"""The synchronous faster-whisper engine: load a model folder, transcribe samples.

Imported only once the `speech` extra is known to be installed (see `whisper.py`), and
called only from worker threads: nothing here touches the event loop.

Two changes from faster-whisper's defaults, both measured by bench/bench_stt.py:
- The built-in Silero VAD cuts the audio into spoken phrases, and each phrase is
  transcribed on its own; silence costs almost nothing and long audio is not skipped.
- Whisper encodes 30 s windows and pads shorter audio with silence, so a 2 s command
  cost as much as 30 s of speech. CTranslate2 accepts shorter inputs, so the padding
  is trimmed to the phrase plus a margin, never below `min_window_seconds`: on this
  project's 2-core machines a short command went from about 0.85 s to about 0.35 s of
  CPU, and with a 15 s floor word errors on 26 espeak-ng commands fell from 6.1% to
  4.3% (a 10 s floor was cheaper still, 0.28 s, but misheard more: 7.0%).

Decoding is tuned for short commands, measured by bench/bench_recognition.py (20 commands
in five espeak-ng voices and a Piper voice): Whisper's prompt holds the commands'
vocabulary (`command_vocabulary.py`), temperature stays 0 and the beam is 5
(STT_BEAM_SIZE); word errors fell from 17.9% to 9.7%. A piece the model still doubts with
the prompt is decoded again without it, and a sentence repeated in a loop is kept once. A
piece that asks for a calculation but cannot be read as one is decoded again among
calculations (`sums.py`), as said and, when that beam holds no calculation, heard 20%
slower: spoken sums answered right went from 36 to 42 of 42, and from 150–153 to 175–176
of 192 on sums no prompt contains.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

import ctranslate2
import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens
from faster_whisper.vad import VadOptions, get_speech_timestamps, get_vad_model

from ballsy.providers.stt.options import EngineOptions
from ballsy.providers.stt.sums import (
    asked_as_question,
    asks_for_sum,
    first_question,
    reads_as_sum,
    rereads,
)

__all__ = ["EngineOptions", "EngineResult", "WhisperEngine", "resolve_device", "speech_pieces"]

log = logging.getLogger(__name__)

# Whisper's mel frames are 10 ms; its full window is 3000 of them.
_FRAMES_PER_SECOND = 100
_FULL_WINDOW_FRAMES = 3000
# Silence kept after the speech so the model sees the utterance end, as it does in training.
_TRAILING_MARGIN_FRAMES = 100
SAMPLE_RATE = 16_000
# A pause this long ends a phrase; phrases are padded a little so no word is clipped.
_PIECE_MIN_SILENCE_MS = 500
_PIECE_PAD_MS = 300
# Longer phrases are split (at the quietest point) to keep windows short.
_PIECE_MAX_SECONDS = 20
# Generous bounds on tokens per piece (see `_token_budget`).
_TOKENS_PER_SECOND = 10
_MAX_NEW_TOKENS = 400
# Thresholds of `is_speech`, measured on espeak-ng speech and generated non-speech.
_CERTAIN_NO_SPEECH = 0.9
_LIKELY_NO_SPEECH = 0.7
_UNSURE_LOGPROB = -0.3
_MAX_COMPRESSION_RATIO = 2.4
# With the command prompt, speech stays far below this no-speech probability (see below).
_PROMPTED_DOUBT = 0.35
# The compute types CTranslate2 runs on a CPU (a GPU-only one, float16, falls back to int8).
_CPU_COMPUTE_TYPES = frozenset({"int8", "int8_float32", "int16", "float32", "auto", "default"})
# How much slower a sum is heard when its beam as said holds no calculation (`_slowed`).
_SLOWER = 1.2
# faster-whisper's default: decode again, hotter, when a result looks like a loop.
_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


class StopFlag(Protocol):
    """Set by the caller to stop early (a `threading.Event`, or the worker's shared flag)."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class EngineResult:
    text: str
    language: str | None
    speech_seconds: float


class _TrimmedWindowWhisper(WhisperModel):  # type: ignore[misc]
    """WhisperModel whose encoder sees the speech, not 30 s of padding."""

    min_frames: int = _FULL_WINDOW_FRAMES

    def encode(self, features: npt.NDArray[np.float32]) -> Any:
        if self.min_frames < _FULL_WINDOW_FRAMES:
            features = _trim_padding(features, min_frames=self.min_frames)
        return super().encode(features)


def _trim_padding(features: npt.NDArray[np.float32], *, min_frames: int) -> npt.NDArray[np.float32]:
    # faster-whisper pads with exact zeros; a real log-mel column is never all zero.
    columns_with_sound = np.flatnonzero(np.any(features != 0, axis=-2))
    content = int(columns_with_sound[-1]) + 1 if columns_with_sound.size else 0
    wanted = content + _TRAILING_MARGIN_FRAMES
    # Rounded up to whole seconds so similar lengths share CTranslate2's cached shapes.
    wanted = -(-wanted // _FRAMES_PER_SECOND) * _FRAMES_PER_SECOND
    keep = min(features.shape[-1], max(min_frames, wanted))
    return np.ascontiguousarray(features[..., :keep])


def resolve_device(device: str) -> str:
    """`auto` becomes `cuda` when CTranslate2 sees a GPU, else `cpu`."""
    if device != "auto":
        return device
    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


class WhisperEngine:
    """A loaded model; `transcribe` is thread-safe (CTranslate2 runs `workers` at once)."""

    def __init__(self, options: EngineOptions) -> None:
        # The folder holds every file (checked by `missing_model_files`): no Hub access.
        self.options = options
        # Resolved here, in the loading thread: asking CTranslate2 costs an import.
        self.device = resolve_device(options.device)
        try:
            self.model = self._load(self.device, options.compute_type)
            if options.device == "auto" and self.device == "cuda":
                self._encode_once()  # a missing CUDA library shows only when it runs
        except RuntimeError as exc:
            if options.device != "auto" or self.device == "cpu":
                raise
            # `auto` means "the GPU when it can be used": a GPU whose CUDA libraries do not
            # match CTranslate2's (it needs CUDA 12's cuBLAS) would otherwise leave the
            # server with no speech recognition at all.
            log.warning(
                "speech model cannot run on the GPU; using the CPU",
                extra={"error": str(exc)[:300]},
            )
            self.device = "cpu"
            compute_type = options.compute_type
            self.model = self._load(
                "cpu", compute_type if compute_type in _CPU_COMPUTE_TYPES else "int8"
            )
        # English-only models (*.en) know one language; a multilingual one is told which,
        # never left to detect it (a two-second command is too short to tell reliably).
        self.language: str = options.language if self.model.model.is_multilingual else "en"

    def _load(self, device: str, compute_type: str) -> _TrimmedWindowWhisper:
        model = _TrimmedWindowWhisper(
            str(self.options.model_path),
            device=device,
            compute_type=compute_type,
            cpu_threads=self.options.cpu_threads,
            num_workers=self.options.workers,
            local_files_only=True,
        )
        model.min_frames = min(
            _FULL_WINDOW_FRAMES, int(self.options.min_window_seconds * _FRAMES_PER_SECOND)
        )
        return model

    def _encode_once(self) -> None:
        """Run the encoder on a tenth of a second of silence."""
        silence = np.zeros(SAMPLE_RATE // 10, dtype=np.float32)
        self.model.encode(pad_or_trim(self.model.feature_extractor(silence)))

    def warm(self) -> None:
        """Run the VAD, encoder and decoder once, so the first request finds them warm."""
        get_vad_model()
        quiet_noise = np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.01
        # Greedy and four tokens: noise can send Whisper into a loop of dots otherwise.
        segments, _ = self.model.transcribe(
            quiet_noise,
            language=self.language,
            beam_size=1,
            temperature=0.0,
            max_new_tokens=4,
            without_timestamps=True,
        )
        for _ in segments:
            pass

    def transcribe(
        self, samples: npt.NDArray[np.float32], *, cancelled: StopFlag | None = None
    ) -> EngineResult:
        """Transcribe 16 kHz mono samples; stops between pieces once `cancelled` is set."""
        pieces = speech_pieces(samples)
        parts: list[str] = []
        for piece in pieces:
            if cancelled is not None and cancelled.is_set():
                break
            prompt = self.options.initial_prompt
            segments = self._decode(piece, prompt)
            if prompt and any(s.no_speech_prob >= _PROMPTED_DOUBT for s in segments):
                # The prompt primes Whisper to hear words (a pulsing tone in noise became
                # "Thank you." with no_speech_prob 0.55, against at most 0.15 on 120 spoken
                # commands): a piece it still doubts is judged again without the prompt.
                segments = self._decode(piece, None)
            text = " ".join(
                collapse_repeats(segment.text.strip()) for segment in segments if is_speech(segment)
            ).strip()
            if self.options.sum_prompt and asks_for_sum(text) and not reads_as_sum(text):
                text = self._sum_reading(piece, self.options.sum_prompt, first=text) or text
            parts.append(text)
        return EngineResult(
            text=" ".join(part for part in parts if part),
            language=self.language,
            speech_seconds=sum(piece.size for piece in pieces) / SAMPLE_RATE,
        )

    def _decode(self, piece: npt.NDArray[np.float32], prompt: str | None) -> list[Any]:
        segments, _ = self.model.transcribe(
            piece,
            language=self.language,
            beam_size=self.options.beam_size,
            vad_filter=False,  # already cut to speech
            # Pieces are separate phrases; conditioning only invites repetition loops.
            condition_on_previous_text=False,
            without_timestamps=True,
            max_new_tokens=_token_budget(piece.size / SAMPLE_RATE),
            initial_prompt=prompt,
            temperature=_TEMPERATURES if self.options.temperature_fallback else 0.0,
        )
        return list(segments)

    def _sum_reading(
        self, piece: npt.NDArray[np.float32], prompt: str, *, first: str
    ) -> str | None:
        """A reading of `piece` that is a calculation: from the beam as said, else, for a
        piece asked as a question ("What in eighteen one…"), from the beam of the piece
        heard slower (`_slowed`); None when no beam holds one. A command that only holds
        an operator word ("Read the New York Times") so costs two decodes, not three."""
        reading = self._read_as_sum(piece, prompt, first=first)
        if reading is None and asked_as_question(first):
            reading = self._read_as_sum(_slowed(piece), prompt, first=first)
        return reading

    def _read_as_sum(
        self, piece: npt.NDArray[np.float32], prompt: str, *, first: str
    ) -> str | None:
        """The likeliest of the beam's readings of `piece` that is a calculation, if any.

        Decoded after `prompt` (arithmetic questions), keeping every hypothesis of the beam:
        faster-whisper's `transcribe` returns only the best, so this asks CTranslate2 the
        way `transcribe` does. No extra search: the beam already holds `beam_size` readings.
        """
        model = self.model
        encoder_output = model.encode(pad_or_trim(model.feature_extractor(piece)))
        tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=self.language,
        )
        context = model.get_prompt(
            tokenizer, tokenizer.encode(" " + prompt.strip()), without_timestamps=True
        )
        result = model.model.generate(
            encoder_output,
            [context],
            beam_size=self.options.beam_size,
            num_hypotheses=self.options.beam_size,
            max_length=len(context) + _token_budget(piece.size / SAMPLE_RATE),
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        )[0]
        for tokens in result.sequences_ids:  # best first
            text = first_question(tokenizer.decode(tokens))
            if reads_as_sum(text) and rereads(first, text):
                return text
        return None


def _slowed(piece: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """`piece` played `_SLOWER` times as long (and as much lower), as a slower speaker.

    Synthetic voices run short words together ("eighty one" heard as "eighteen one",
    "nine squared" as "either squared"); heard 20% slower, the beam held the sum that
    was said where no reading of the beam as spoken did: the last benchmark sum and
    three held-out ones came right (docs/benchmarks.md, "Recognition").
    """
    length = int(piece.size * _SLOWER)
    stretched = np.interp(np.linspace(0, piece.size - 1, length), np.arange(piece.size), piece)
    return stretched.astype(np.float32)


def is_speech(segment: Any) -> bool:
    """Whether a decoded segment is speech rather than Whisper's guess at a noise or tone.

    Silero VAD lets some rhythmic non-speech through (an amplitude-modulated tone with
    noise), and tiny.en then answers with its training-set filler ("Thank you.", "Thank
    you for watching."). Whisper's own signals tell them apart: on 54 espeak-ng phrases
    (3 voices, with and without noise) no_speech_prob stayed at or below 0.58, while on
    generated tones, buzzes and sweeps with noise every filler came with 0.8 or more and a
    log-probability under -0.3. A text with no letter or digit ("." or "...") is no speech
    either, and a compression ratio over 2.4 is a repetition loop, not a command.
    """
    text = segment.text.strip()
    if not any(char.isalnum() for char in text):
        return False
    if segment.compression_ratio > _MAX_COMPRESSION_RATIO:
        return False
    if segment.no_speech_prob >= _CERTAIN_NO_SPEECH:
        return False
    return not (
        segment.no_speech_prob >= _LIKELY_NO_SPEECH and segment.avg_logprob <= _UNSURE_LOGPROB
    )


_SENTENCE_BREAK = re.compile(r"(?<=[.?!])\s+")


def collapse_repeats(text: str) -> str:
    """One sentence said once, where Whisper wrote it again and again.

    Without timestamps, tiny.en sometimes loops on a short command ("What is nine minus
    three? What is nine minus three?"), too briefly for the compression-ratio check.
    """
    # A sentence ends at its punctuation followed by a space: "1.5" is one number.
    sentences = _SENTENCE_BREAK.split(text.strip())
    unique = {sentence.lower() for sentence in sentences}
    if len(sentences) > 1 and len(unique) == 1:
        return sentences[0]
    return text


def _token_budget(seconds: float) -> int:
    # Fast speech is about 4 tokens a second; a hallucination loop would run to Whisper's
    # 448-token limit at every fallback temperature (17 s of CPU seen on 1 s of noise).
    return min(_MAX_NEW_TOKENS, 16 + int(_TOKENS_PER_SECOND * seconds))


def speech_pieces(samples: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
    """Cut audio into its spoken phrases with faster-whisper's Silero VAD.

    Silence (before, after and between phrases) is dropped, so it costs almost nothing,
    and each phrase is transcribed on its own in a window sized to it. Handing Whisper
    30 s of concatenated speech without timestamps made tiny.en skip most of it (WER 0.67
    on 50 s of espeak-ng speech against 0.21 phrase by phrase).
    """
    options = VadOptions(
        min_silence_duration_ms=_PIECE_MIN_SILENCE_MS,
        speech_pad_ms=_PIECE_PAD_MS,
        max_speech_duration_s=_PIECE_MAX_SECONDS,
    )
    return [
        samples[span["start"] : span["end"]]
        for span in get_speech_timestamps(samples, options, sampling_rate=SAMPLE_RATE)
    ]
