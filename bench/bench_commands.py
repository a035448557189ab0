"""Benchmark `route()`: the time to answer or route one command, on a mix of commands.

Run from the repository root:

    PYTHONPATH=src python bench/bench_commands.py [--rounds 200]

Prints a markdown section for docs/benchmarks.md. Each sample is one call timed
with `time.perf_counter_ns`; the mix is every family, typed and as speech
recognisers write it, plus refused calculations.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from ballsy.commands import route
from ballsy.commands.base import CommandContext

MIX = {
    "greeting": ["hello", "Hey Ballsy!"],
    "name / small talk / goodbye": ["what's your name", "How are you?", "OK bye"],
    "time and date": ["Um, what time is it?", "what's the date today"],
    "arithmetic": [
        "what is 7 times 8",
        "What's seven times eight?",
        "twelve divided by four",
        "plus six",
        "(1 + 2) * 3 / 4",
        "one hundred and five minus three point five",
    ],
    "arithmetic refused": ["9**9**9**9", "2^99999", "1 / 0"],
    "site search / maps / news / email": [
        "Play Rock & Roll on YouTube",
        "directions to Paris from London",
        "news about bitcoin",
        "check my email",
    ],
    "open": ["open netflix", "open github", "open calculator", "open cats on google"],
    "lookup (AI)": ["who is Marie Curie", "What is love?"],
    "chat (AI)": ["tell me a joke", "I had a long day at work and I need some cheering up"],
}


def measure(texts: list[str], ctx: CommandContext, rounds: int) -> list[float]:
    """Microseconds per call, one sample per call."""
    samples: list[float] = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter_ns()
            route(text, ctx)
            samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    ctx = CommandContext(
        now=datetime.now(UTC), timezone=ZoneInfo("Europe/Berlin"), last_result=Fraction(10)
    )
    measure([text for texts in MIX.values() for text in texts], ctx, 20)  # warm up
    rows = []
    everything: list[float] = []
    for family, texts in MIX.items():
        samples = measure(texts, ctx, args.rounds)
        everything += samples
        rows.append((family, len(texts), samples))

    print("## Local command routing (`route()`)\n")
    print(f"Command: `PYTHONPATH=src python bench/bench_commands.py --rounds {args.rounds}`  ")
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.system()}; ")
    print("one process, one thread, no I/O. Times in microseconds per call.\n")
    print("| family | commands | median µs | p95 µs | max µs |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for family, count, samples in rows:
        print(
            f"| {family} | {count} | {statistics.median(samples):.1f} | "
            f"{percentile(samples, 0.95):.1f} | {max(samples):.1f} |"
        )
    print(
        f"| **all** | {sum(count for _, count, _ in rows)} | "
        f"**{statistics.median(everything):.1f}** | {percentile(everything, 0.95):.1f} | "
        f"{max(everything):.1f} |"
    )
    print(f"\n{len(everything)} calls in all.")


if __name__ == "__main__":
    sys.exit(main())
