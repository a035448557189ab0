"""Recognition benchmark: word errors on spoken commands, and the wake word on an hour of audio.

Part 1 (`--part wer`): the command phrases of bench/recognition_phrases.py, each said by
five espeak-ng voices and the Piper voice (en_US-joe-medium), are transcribed by the
speech engine under several decoding configurations. Reported per configuration: word
error rate per voice and overall, how many arithmetic commands the command router
answers right from the transcript, and the CPU time per clip.

Part 2 (`--part sums`): sums held out from every prompt and from part 1 (other numbers,
"multiplied by", "squared", "point"), and commands that hold an operator word but are
not sums, in the same voices: how many sums are answered right, how many non-sums are
taken for one, word errors and CPU per clip, with and without the second decode of a
transcript that asks for a calculation it cannot be read as (`stt/sums.py`).

Part 3 (`--part wake`): every packaged wake word model hears its own wake phrase in each
voice (detections), then an hour of audio that never says it (false alarms): the
command phrases and a passage in every voice, in random order with pauses, over
generated noise (white, pink, brown, a hum, a pulsing tone, silence). The audio is fed
in 20 ms chunks as the page streams it, as fast as the detector goes.

Run from the repository root (the machine is shared: CPU seconds are the fair measure):

    PYTHONPATH=src:. python bench/bench_recognition.py [--part wer|sums|wake|all]
        [--configs "NAME;NAME..."] [--wake-minutes 60]

The opt-in whisper-base rows need `pip install 'ballsy[whisper-base]'` (or
BENCH_WHISPER_BASE=FOLDER holding the assembled model); without it they are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tests import voices

from bench.common import machine
from bench.recognition_phrases import (
    HELD_OUT_SUMS,
    NOT_SUMS,
    PHRASES,
    Phrase,
    answered_right,
    normalise,
    taken_for_sum,
    word_errors,
)

COMMAND = "PYTHONPATH=src:. python bench/bench_recognition.py"


# --- part 1: word error rate ----------------------------------------------------------
@dataclass(frozen=True)
class Clip:
    phrase: Phrase
    voice: str
    pcm: bytes


def make_clips(phrases: Sequence[Phrase], voice_names: Sequence[str]) -> list[Clip]:
    return [Clip(p, v, voices.say(p.text, v)) for v in voice_names for p in phrases]


@dataclass
class Outcome:
    name: str
    per_voice: dict[str, tuple[int, int]]  # voice -> (errors, words)
    arithmetic_right: int
    arithmetic_total: int
    cpu_per_clip: float
    misheard: list[tuple[str, str, str]]  # voice, said, heard
    sums_right: dict[str, int]  # voice -> arithmetic phrases answered right
    sums_wrong: list[tuple[str, str, str]]  # voice, said, heard

    @property
    def wer(self) -> float:
        errors = sum(e for e, _ in self.per_voice.values())
        words = sum(w for _, w in self.per_voice.values())
        return errors / words if words else 0.0


def run_engine(name: str, engine: object, clips: Sequence[Clip]) -> Outcome:
    per_voice: dict[str, tuple[int, int]] = {}
    right = total = 0
    misheard: list[tuple[str, str, str]] = []
    sums_right: dict[str, int] = {}
    sums_wrong: list[tuple[str, str, str]] = []
    cpu = time.process_time()
    for clip in clips:
        text = engine.transcribe(voices.to_float(clip.pcm)).text  # type: ignore[attr-defined]
        errors = word_errors(clip.phrase.text, text)
        before = per_voice.get(clip.voice, (0, 0))
        per_voice[clip.voice] = (before[0] + errors, before[1] + len(normalise(clip.phrase.text)))
        if clip.phrase.answer is not None:
            total += 1
            right += answered_right(clip.phrase, text)
            sums_right[clip.voice] = sums_right.get(clip.voice, 0) + answered_right(
                clip.phrase, text
            )
        if not answered_right(clip.phrase, text):
            sums_wrong.append((clip.voice, clip.phrase.text, text))
        if errors or not answered_right(clip.phrase, text):
            misheard.append((clip.voice, clip.phrase.text, text))
    cpu_per_clip = (time.process_time() - cpu) / max(1, len(clips))
    return Outcome(name, per_voice, right, total, cpu_per_clip, misheard, sums_right, sums_wrong)


# The second decode's prompt in other words (other numbers, "how much is"): measured
# beside SUM_PROMPT to show the gain comes from the form, not from its numbers.
OTHER_SUM_PROMPT = (
    "What is one plus one? How much is three minus two? What is five times six? "
    "What is ninety divided by ten? What is fifty percent of twenty? What is seven squared?"
)


def engine_configs(names: Sequence[str]) -> dict[str, object]:
    """Decoding configurations, by name; each is built only when asked for."""
    from ballsy.errors import FeatureUnavailable
    from ballsy.providers.stt.engine import WhisperEngine
    from ballsy.providers.stt.options import EngineOptions
    from ballsy.providers.stt.packaged import packaged_model_path
    from ballsy.providers.stt.whisper import resolve_model_path

    # Ballsy's defaults: the command prompt, temperature 0, a second decode of what asks for
    # a calculation it cannot be read as (EngineOptions' defaults), beam 5 (STT_BEAM_SIZE).
    tuned = EngineOptions(
        model_path=resolve_model_path("embedded"),
        device="cpu",
        compute_type="int8",
        cpu_threads=1,
        workers=1,
        beam_size=5,
        min_window_seconds=15,
    )
    one_decode = replace(tuned, sum_prompt=None)
    before = replace(one_decode, beam_size=2, initial_prompt=None, temperature_fallback=True)
    table = {
        "before: beam 2, no prompt, temperature fallback": before,
        "greedy": replace(before, beam_size=1),
        "beam 5, no prompt": replace(before, beam_size=5),
        "command prompt, temperature 0, beam 2": replace(one_decode, beam_size=2),
        "command prompt, temperature 0, beam 5, one decode": one_decode,
        "default: as above, sums decoded again": tuned,
        "sums decoded again after other questions": replace(tuned, sum_prompt=OTHER_SUM_PROMPT),
    }
    try:  # the opt-in model, when its packages are installed (or assembled by hand)
        base: Path | None = packaged_model_path("whisper-base")
    except FeatureUnavailable:
        base = (
            Path(os.environ["BENCH_WHISPER_BASE"]) if "BENCH_WHISPER_BASE" in os.environ else None
        )
    if base is not None:
        table["whisper-base, en pinned, beam 2, no prompt"] = replace(before, model_path=base)
        table["whisper-base, command prompt, beam 2"] = replace(
            one_decode, model_path=base, beam_size=2
        )
    return {name: WhisperEngine(table[name]) for name in names if name in table}


def wer_section(args: argparse.Namespace) -> list[str]:
    names = [n.strip() for n in args.configs.split(";") if n.strip()]
    clips = make_clips(PHRASES, voices.VOICES)
    engines = engine_configs(names)
    outcomes = []
    for name, engine in engines.items():
        outcome = run_engine(name, engine, clips)
        outcomes.append(outcome)
        print(f"{name}: WER {outcome.wer:.1%}", file=sys.stderr, flush=True)
    lines = [
        f"{len(PHRASES)} command phrases × {len(voices.VOICES)} voices ({', '.join(voices.VOICES)}"
        f"), {len(clips)} clips, {sum(len(normalise(p.text)) for p in PHRASES)} words a voice.",
        "",
        "| configuration | " + " | ".join(voices.VOICES) + " | overall WER | arithmetic right "
        "| CPU / clip |",
        "| --- " * (len(voices.VOICES) + 4) + "|",
    ]
    for o in outcomes:
        cells = [f"{o.per_voice[v][0] / o.per_voice[v][1]:.1%}" for v in voices.VOICES]
        lines.append(
            f"| {o.name} | " + " | ".join(cells) + f" | **{o.wer:.1%}** | "
            f"{o.arithmetic_right}/{o.arithmetic_total} | {o.cpu_per_clip:.2f} s |"
        )
    for o in outcomes:
        if o.misheard:
            lines += ["", f"Misheard with *{o.name}* (voice: said → heard):", ""]
            lines += [f"- {v}: {said} → {heard!r}" for v, said, heard in o.misheard]
    return lines


# --- part 2: held-out sums -----------------------------------------------------------
def sums_section(args: argparse.Namespace) -> list[str]:
    names = [n.strip() for n in args.sum_configs.split(";") if n.strip()]
    sums = make_clips(HELD_OUT_SUMS, voices.VOICES)
    not_sums = make_clips(NOT_SUMS, voices.VOICES)
    lines = [
        f"{len(HELD_OUT_SUMS)} held-out sums × {len(voices.VOICES)} voices ({len(sums)} clips, "
        f"{sum(len(normalise(p.text)) for p in HELD_OUT_SUMS)} words a voice), and "
        f"{len(NOT_SUMS)} commands with an operator word that are not sums "
        f"({', '.join(f'“{p.text}”' for p in NOT_SUMS)}; {len(not_sums)} clips).",
        "",
        "| configuration | " + " | ".join(voices.VOICES) + " | sums right | WER on the sums "
        "| non-sums taken for a sum | CPU / clip |",
        "| --- " * (len(voices.VOICES) + 5) + "|",
    ]
    notes: list[str] = []
    for name, engine in engine_configs(names).items():
        outcome = run_engine(name, engine, sums)
        false_sums = []
        for clip in not_sums:
            text = engine.transcribe(voices.to_float(clip.pcm)).text  # type: ignore[attr-defined]
            if taken_for_sum(text):
                false_sums.append((clip.voice, clip.phrase.text, text))
        cells = [f"{outcome.sums_right.get(v, 0)}/{len(HELD_OUT_SUMS)}" for v in voices.VOICES]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | **{outcome.arithmetic_right}/"
            f"{outcome.arithmetic_total}** | {outcome.wer:.1%} | {len(false_sums)}/"
            f"{len(not_sums)} | {outcome.cpu_per_clip:.2f} s |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
        notes += ["", f"Sums answered wrong with *{name}* (voice: said → heard):", ""]
        notes += [f"- {v}: {said} → {heard!r}" for v, said, heard in outcome.sums_wrong]
        notes += [f"- not a sum, {v}: {said} → {heard!r}" for v, said, heard in false_sums]
    return lines + notes


# --- part 3: wake word ----------------------------------------------------------------
CHUNK_BYTES = 640  # 20 ms of 16 kHz PCM16, as the page streams it
PASSAGE = (
    "Ballsy is a voice assistant you can run on your own computer. It listens to a short "
    "command, works out what you meant, and answers out loud. Simple questions like the "
    "time or a sum are answered at once, and anything else goes to the language model."
)


def noise(kind: str, seconds: float, rng: np.random.Generator) -> bytes:
    """Generated non-speech: noises of several colours, a mains hum, a pulsing tone."""
    n = int(voices.SAMPLE_RATE * seconds)
    t = np.arange(n) / voices.SAMPLE_RATE
    if kind == "white":
        x = rng.standard_normal(n) * 0.1
    elif kind == "pink":
        spectrum = np.fft.rfft(rng.standard_normal(n))
        spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
        x = np.fft.irfft(spectrum, n)
        x *= 0.1 / (np.std(x) or 1.0)
    elif kind == "brown":
        x = np.cumsum(rng.standard_normal(n))
        x -= np.linspace(x[0], x[-1], n)
        x *= 0.1 / (np.std(x) or 1.0)
    elif kind == "hum":
        x = 0.1 * np.sin(2 * np.pi * 50 * t) + 0.05 * np.sin(2 * np.pi * 150 * t)
    elif kind == "pulse":
        x = 0.3 * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) * np.sin(2 * np.pi * 300 * t)
        x += rng.standard_normal(n) * 0.02
    else:
        x = np.zeros(n)
    return np.clip(x * 32767, -32768, 32767).astype(np.int16).tobytes()


def mix(speech: bytes, background: bytes, gain: float) -> bytes:
    a = np.frombuffer(speech, dtype=np.int16).astype(np.float32)
    b = np.frombuffer(background, dtype=np.int16).astype(np.float32) * gain
    b = np.pad(b[: a.size], (0, max(0, a.size - b.size)))
    return np.clip(a + b, -32768, 32767).astype(np.int16).tobytes()


def non_wake_audio(minutes: float, seed: int = 7, stats: dict[str, float] | None = None) -> bytes:
    """`minutes` of speech that never says a wake phrase, and noise, in random order."""
    rng = np.random.default_rng(seed)
    shuffle = random.Random(seed)
    speech = [voices.say(p.text, v) for v in voices.VOICES for p in PHRASES]
    speech += [voices.say(PASSAGE, v) for v in voices.VOICES]
    kinds = ("white", "pink", "brown", "hum", "pulse", "silence")
    target = int(minutes * 60 * voices.SAMPLE_RATE * 2)
    parts: list[bytes] = []
    size = 0
    while size < target:
        if shuffle.random() < 0.7:
            clip = shuffle.choice(speech)
            kind = shuffle.choice(kinds)
            part = mix(clip, noise(kind, len(clip) / 32_000, rng), gain=shuffle.uniform(0, 0.5))
            key = "speech"
        else:
            part = noise(shuffle.choice(kinds), shuffle.uniform(2, 20), rng)
            key = "noise"
        if stats is not None:
            stats[key] = stats.get(key, 0.0) + len(part) / 32_000
            stats[key + " clips"] = stats.get(key + " clips", 0.0) + 1
        part += voices.silence(shuffle.uniform(0.2, 2.0))
        parts.append(part)
        size += len(part)
    return b"".join(parts)[:target]


def feed_all(detector: object, pcm: bytes) -> int:
    """Detections in `pcm` fed in 20 ms chunks."""
    found = 0
    for start in range(0, len(pcm), CHUNK_BYTES):
        found += detector.feed(pcm[start : start + CHUNK_BYTES])  # type: ignore[attr-defined]
    return found


def wake_section(args: argparse.Namespace) -> list[str]:
    from ballsy.providers.wake.catalogue import WAKE_MODELS, model_size_bytes
    from ballsy.providers.wake.detector import StreamDetector

    lines = [
        "| model | phrase said | size | detected (of "
        f"{len(voices.VOICES)} voices) | false alarms in {args.wake_minutes:g} min "
        "| CPU / audio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    started = time.perf_counter()
    stats: dict[str, float] = {}
    background = non_wake_audio(args.wake_minutes, stats=stats)
    seconds = len(background) / 32_000
    lines[:0] = [
        f"The non-wake audio: {stats.get('speech clips', 0):.0f} spoken clips "
        f"({stats.get('speech', 0) / 60:.0f} min: the {len(PHRASES)} commands and a passage in "
        f"{len(voices.VOICES)} voices, each over white, pink or brown noise, a hum, a pulsing "
        f"tone or silence at a random level) and {stats.get('noise clips', 0):.0f} stretches of "
        f"those noises alone ({stats.get('noise', 0) / 60:.0f} min), with pauses, "
        f"{seconds / 60:.0f} min in all, fed in 20 ms chunks. Detections: each model's phrase "
        "said once by each voice, between silences.",
        "",
    ]
    print(
        f"made {seconds / 60:.1f} min of non-wake audio in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    for model in WAKE_MODELS.values():
        hits = 0
        missed = []
        for voice in voices.VOICES:
            clip = voices.silence(0.5) + voices.say(model.say, voice) + voices.silence(1.0)
            detector = StreamDetector(model.name)
            if feed_all(detector, clip):
                hits += 1
            else:
                missed.append(voice)
        detector = StreamDetector(model.name)
        cpu = time.process_time()
        alarms = feed_all(detector, background)
        cpu_ratio = (time.process_time() - cpu) / seconds
        note = f" (missed: {', '.join(missed)})" if missed else ""
        lines.append(
            f"| {model.name} | “{model.say}” | {model_size_bytes(model.name) / 1000:.0f} kB "
            f"| {hits}/{len(voices.VOICES)}{note} | {alarms} | {cpu_ratio:.4f}× |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    return lines


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of another process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _service_run(listeners: int, seconds: float) -> tuple[float, float, float]:
    """`listeners` streams of `seconds` each fed in 20 ms chunks through the worker at once."""
    from ballsy.providers.wake.service import WakeOptions, WakeWordService

    service = WakeWordService(WakeOptions(model="okay_nabu", max_streams=listeners))
    await service.warm_up()
    pid = service.pid()
    assert pid is not None
    speech = non_wake_audio(seconds / 60, seed=11)

    async def stream() -> None:
        listener = service.listener()
        for start in range(0, len(speech), CHUNK_BYTES):
            await listener.feed(speech[start : start + CHUNK_BYTES])
        await listener.aclose()

    wall, cpu, worker = time.perf_counter(), time.process_time(), process_cpu_seconds(pid)
    await asyncio.gather(*(stream() for _ in range(listeners)))
    wall = time.perf_counter() - wall
    cpu, worker = time.process_time() - cpu, process_cpu_seconds(pid) - worker
    await service.aclose()
    return wall, cpu, worker


def service_section(listeners: int, seconds: float) -> list[str]:
    wall, cpu, worker = asyncio.run(_service_run(listeners, seconds))
    audio = listeners * seconds
    return [
        "",
        f"Through the service (WakeWordService, okay_nabu): {listeners} listeners each fed "
        f"{seconds:g} s of non-wake audio in 20 ms chunks at once, as fast as it goes: "
        f"{audio:g} s of audio in {wall:.1f} s wall ({audio / wall:.0f}× real time); CPU "
        f"per second of audio: server process {cpu / audio * 1000:.1f} ms (the batching loop "
        f"and the pipe), worker {worker / audio * 1000:.1f} ms.",
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("wer", "sums", "wake", "all"), default="all")
    parser.add_argument(
        "--configs",
        default=";".join(
            (
                "before: beam 2, no prompt, temperature fallback",
                "beam 5, no prompt",
                "command prompt, temperature 0, beam 2",
                "command prompt, temperature 0, beam 5, one decode",
                "default: as above, sums decoded again",
                "whisper-base, en pinned, beam 2, no prompt",
                "whisper-base, command prompt, beam 2",
            )
        ),
        help="decoding configurations to compare, separated by ';'",
    )
    parser.add_argument(
        "--sum-configs",
        default=";".join(
            (
                "command prompt, temperature 0, beam 5, one decode",
                "default: as above, sums decoded again",
                "sums decoded again after other questions",
            )
        ),
        help="decoding configurations for the held-out sums, separated by ';'",
    )
    parser.add_argument("--wake-minutes", type=float, default=60.0)
    parser.add_argument("--wake-listeners", type=int, default=20)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    out = ["## Recognition: word errors on commands, the wake word", ""]
    out += [f"Machine: {machine()}; load average at start {load[0]:.1f}. `{COMMAND}`.", ""]
    if args.part in ("wer", "all"):
        out += ["### Word error rate on spoken commands", "", *wer_section(args), ""]
    if args.part in ("sums", "all"):
        out += ["### Held-out sums", "", *sums_section(args), ""]
    if args.part in ("wake", "all"):
        out += ["### Wake word: detections and false alarms", "", *wake_section(args)]
        out += [*service_section(args.wake_listeners, 60.0), ""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
