"""Benchmark server speech-to-text on real (espeak-ng) speech; prints a markdown section.

Measures, through the provider's public `transcribe()` (decoding + VAD + model, i.e.
from the end of the upload to the transcript):
- latency and real-time factor for 2-5 s spoken commands, and for 60 s of speech;
- word error rate on the commands and on the 60 s passage;
- model load time and resident memory.

It compares Ballsy's configuration (phrases cut by VAD, each in a window of at least
15 s, STT_MIN_WINDOW_SECONDS) with a 10 s floor, with the stock 30 s Whisper window,
and with faster-whisper's own defaults (beam 5, timestamps, VAD over the whole file).

Wall-clock times on a shared machine include waiting for the CPU, so CPU seconds
(this process, all threads) are reported beside them.

Run from the repository root:

    PYTHONPATH=src:. python bench/bench_stt.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests import audio

from ballsy.providers.stt.audio import decode_audio
from ballsy.providers.stt.engine import EngineOptions, WhisperEngine
from ballsy.providers.stt.whisper import WhisperConfig, WhisperSpeechToText, resolve_model_path

# Spoken commands of 2-5 s at espeak-ng's 150 words per minute.
BENCH_COMMANDS = (
    "what is seven times eight",
    "set a timer for five minutes",
    "what is the weather like today",
    "how many days until christmas",
    "remind me to call my mother tomorrow morning",
    "what is the capital of france",
    "play some relaxing music in the kitchen",
    "turn off the lights in the living room please",
    "how long does it take to boil an egg",
    "open youtube and search for guitar lessons",
)
COMMAND = "PYTHONPATH=src:. python bench/bench_stt.py"


@dataclass
class Timing:
    wall: float
    cpu: float


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB, from /proc."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def timed(call: Callable[[], object]) -> tuple[object, Timing]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, Timing(time.perf_counter() - wall, time.process_time() - cpu)


def make_audio(folder: Path) -> tuple[list[tuple[str, bytes]], tuple[str, bytes]]:
    commands = []
    for phrase in BENCH_COMMANDS:
        path = audio.speak_wav(phrase, folder / (phrase.replace(" ", "_") + ".wav"))
        commands.append((phrase, path.read_bytes()))
    passage = " ".join([audio.LONG_TEXT] * 4)
    spoken = audio.speak_wav(passage, folder / "passage.wav")
    # Keep only the words that fit in 60 s: cut the text where the audio is cut.
    minute = audio.fit_duration(spoken, folder / "minute.wav", seconds=60)
    spoken_seconds = decode_audio(spoken.read_bytes(), max_seconds=600).size / 16_000
    words = passage.split()
    kept = words[: int(len(words) * min(1.0, 60 / spoken_seconds))]
    return commands, (" ".join(kept), minute.read_bytes())


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def memory_probe(wav: Path) -> dict[str, float]:
    """In a fresh process: import, load the model, transcribe `wav`; report time and memory."""
    code = (
        "import json, sys, time, asyncio\n"
        "from pathlib import Path\n"
        "sys.path[:0] = ['src', '.']\n"
        "def rss_mb():\n"
        "    f = dict(l.split(':', 1) for l in Path('/proc/self/status').read_text()"
        ".splitlines())\n"
        "    return int(f['VmRSS'].split()[0]) / 1024, int(f['VmHWM'].split()[0]) / 1024\n"
        "start = rss_mb()[0]\n"
        "t = time.perf_counter()\n"
        "from ballsy.providers.stt.whisper import WhisperConfig, WhisperSpeechToText, "
        "resolve_model_path\n"
        "import faster_whisper\n"
        "imported = time.perf_counter() - t\n"
        "from ballsy.providers.stt.engine import WhisperEngine\n"
        "config = WhisperConfig(model_path=resolve_model_path('embedded'))\n"
        "t = time.perf_counter()\n"
        "# In-process (the server runs it in a worker process, measured by bench_stt_isolation)\n"
        "stt = WhisperSpeechToText(config, engine=WhisperEngine(config.engine_options()))\n"
        "asyncio.run(stt.warm_up())\n"
        "warm = time.perf_counter() - t\n"
        "loaded = rss_mb()[0]\n"
        "data = Path(sys.argv[1]).read_bytes()\n"
        "asyncio.run(stt.transcribe(data))\n"
        "now, peak = rss_mb()\n"
        "print(json.dumps(dict(start=start, imported=imported, warm=warm, loaded=loaded,"
        " now=now, peak=peak)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(wav)], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def run_provider(
    stt: WhisperSpeechToText, clips: Sequence[tuple[str, bytes]], repeat: int
) -> tuple[list[Timing], list[float], list[str]]:
    timings: list[Timing] = []
    audio_seconds: list[float] = []
    texts: list[str] = []
    for round_ in range(repeat):
        for _, data in clips:
            wall, cpu = time.perf_counter(), time.process_time()
            transcript = await stt.transcribe(data, content_type="audio/wav")
            timings.append(Timing(time.perf_counter() - wall, time.process_time() - cpu))
            audio_seconds.append(transcript.audio_seconds)
            if round_ == 0:
                texts.append(transcript.text)
    return timings, audio_seconds, texts


def stock_faster_whisper(engine: WhisperEngine, data: bytes) -> tuple[str, Timing]:
    """faster-whisper's own defaults: beam 5, timestamps, VAD over the whole file."""

    def call() -> str:
        samples = decode_audio(data, max_seconds=600)
        segments, _ = engine.model.transcribe(samples, language="en", vad_filter=True)
        return " ".join(segment.text.strip() for segment in segments)

    engine.model.min_frames = 3000
    text, timing = timed(call)
    return str(text), timing


def row(name: str, timings: Sequence[Timing], seconds: Sequence[float], wer: float) -> str:
    walls = [t.wall for t in timings]
    cpus = [t.cpu for t in timings]
    rtf = [t.wall / s for t, s in zip(timings, seconds, strict=True)]
    return (
        f"| {name} | {median(seconds):.1f} s | {median(walls):.2f} s | {p90(walls):.2f} s "
        f"| {median(cpus):.2f} s | {median(rtf):.3f} | {wer:.1%} |"
    )


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="rounds over the commands")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--cpu-threads", type=int, default=1)
    args = parser.parse_args(argv)

    load_avg = os.getloadavg()
    model_path = resolve_model_path("embedded")
    options = EngineOptions(
        model_path=model_path,
        device="cpu",
        compute_type=args.compute_type,
        cpu_threads=args.cpu_threads,
        workers=1,
        beam_size=2,
        min_window_seconds=15,
    )
    loads = [timed(lambda: WhisperEngine(options))[1] for _ in range(3)]
    engine = WhisperEngine(options)

    with tempfile.TemporaryDirectory(prefix="bench-stt-") as tmp:
        commands, (minute_text, minute) = make_audio(Path(tmp))
        probe = memory_probe(Path(tmp) / "minute.wav")

    config = WhisperConfig(model_path=model_path, compute_type=args.compute_type, max_seconds=61)
    results: list[str] = []
    misheard: dict[str, str] = {}
    windows = (("Ballsy default, 15 s floor", 15), ("10 s floor", 10), ("stock 30 s window", 30))
    for label, window in windows:
        stt = WhisperSpeechToText(config, engine=engine)
        engine.model.min_frames = window * 100
        await stt.transcribe(commands[0][1])  # warm
        timings, seconds, texts = await run_provider(stt, commands, args.repeat)
        wer = audio.word_error_rate([p for p, _ in commands], texts)
        results.append(row(f"{label}, commands", timings, seconds, wer))
        for (phrase, _), text in zip(commands, texts, strict=True):
            if audio.word_errors(phrase, text):
                misheard[f"{label}: {phrase}"] = text
        timings, seconds, texts = await run_provider(stt, [(minute_text, minute)], 1)
        wer = audio.word_error_rate([minute_text], texts)
        results.append(row(f"{label}, 60 s", timings, seconds, wer))

    stock_texts, stock_timings = [], []
    for _, data in commands:
        text, timing = stock_faster_whisper(engine, data)
        stock_texts.append(text)
        stock_timings.append(timing)
    results.append(
        row(
            "faster-whisper defaults, commands",
            stock_timings,
            [decode_audio(d, max_seconds=60).size / 16_000 for _, d in commands],
            audio.word_error_rate([p for p, _ in commands], stock_texts),
        )
    )
    text, timing = stock_faster_whisper(engine, minute)
    results.append(
        row(
            "faster-whisper defaults, 60 s",
            [timing],
            [60.0],
            audio.word_error_rate([minute_text], [text]),
        )
    )

    print("## Speech-to-text (faster-whisper, embedded tiny.en)\n")
    print(f"Reproduce: `{COMMAND}` (repeat {args.repeat}).\n")
    print(
        f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, load average at start "
        f"{load_avg[0]:.1f}/{load_avg[1]:.1f}/{load_avg[2]:.1f} (shared machine: wall times "
        "include waiting for a CPU). Model: tiny.en CTranslate2, "
        f"{args.compute_type}, {args.cpu_threads} CPU thread(s), beam 2, language en. "
        "Audio: espeak-ng en-us at 150 wpm, WAV uploads; times are from the upload to "
        "the transcript (decode + VAD + model), the model already loaded.\n"
    )
    print("| Case | Audio (median) | Wall median | Wall p90 | CPU median | RTF (wall) | WER |")
    print("|---|---|---|---|---|---|---|")
    for line in results:
        print(line)
    load_walls = [t.wall for t in loads]
    print(
        f"\nModel load (int8 from the package folder, file cache warm): "
        f"{median(load_walls):.2f} s median of 3 (min {min(load_walls):.2f} s). "
        f"In a fresh process: importing faster-whisper {probe['imported']:.2f} s, then "
        f"`warm_up()` (load + one warm-up pass) {probe['warm']:.2f} s. "
        f"Resident memory of that process: {probe['start']:.0f} MB at start, "
        f"{probe['loaded']:.0f} MB with the model loaded, {probe['now']:.0f} MB after "
        f"transcribing 60 s (peak {probe['peak']:.0f} MB)."
    )
    if misheard:
        print("\nMisheard commands:")
        for case, text in misheard.items():
            print(f"- {case} -> {text!r}")
    print(
        "\nWER: word errors over reference words after lower-casing, dropping punctuation "
        'and writing number words as digits ("7 times 8" = "seven times eight").'
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
