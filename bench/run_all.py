"""Run every benchmark in one go and write docs/benchmarks.md.

    make bench                               # everything (about 10 minutes)
    .venv/bin/python -m bench.run_all --only service,ai

Each benchmark is its own script printing a markdown section; this runs them one
after another (never in parallel: they would measure each other) and keeps the
sections in a fixed order under one description of the machine.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.common import machine

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "benchmarks.md"

# name -> (module, arguments)
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "service": ("bench.bench_service", ["--seconds", "5"]),
    "profile": ("bench.profile_turn", ["--turns", "400"]),
    "ai": ("bench.bench_ai_overhead", ["--turns", "100"]),
    "providers": ("bench.bench_llm_provider_overhead", ["--replies", "60"]),
    "commands": ("bench.bench_commands", ["--rounds", "200"]),
    "cli": ("bench.bench_cli", ["--runs", "20"]),
    "speech": ("bench.bench_stt", []),
    "speech-isolation": ("bench.bench_stt_isolation", ["--rounds", "30"]),
    "recognition": ("bench.bench_recognition", ["--wake-minutes", "60"]),
    "voice": ("bench.bench_voice_path", ["--runs", "15"]),
    "listen": ("bench.bench_listen", ["--runs", "20"]),
    "tts": ("bench.bench_voice", ["--runs", "15"]),
    "ratelimit": ("bench.bench_ratelimit", []),
    "import": ("bench.bench_import", []),
    "scale": ("bench.bench_scale", ["--seconds", "3", "--rounds", "2"]),
    "ready": ("bench.bench_ready", ["--runs", "3"]),
    "memory": ("bench.bench_memory", []),
    "timers": ("bench.bench_timers", []),
}


def run(name: str) -> str:
    module, args = BENCHMARKS[name]
    if not (ROOT / (module.replace(".", "/") + ".py")).exists():
        return f"## {name}\n\n(not available: {module} is missing)\n"
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=1800,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        return f"## {name}\n\nFailed (exit {result.returncode}):\n\n```\n{tail}\n```\n"
    print(f"{name}: {elapsed:.0f} s", file=sys.stderr)
    return result.stdout.strip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help="comma-separated subset of: " + ", ".join(BENCHMARKS),
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    sections = [run(name) for name in names]
    header = (
        "# Benchmarks\n\n"
        "Written by `.venv/bin/python -m bench.run_all` (`make bench`); "
        "`--only NAME,...` re-runs some sections and keeps the others.\n\n"
        f"Machine of the latest run: {machine()}.\n\n"
        "Each section names the command that reproduces it and the machine's load when it "
        "ran. Numbers on a shared 2-core machine move with its neighbours' load; compare "
        "rows within one section.\n"
    )
    previous = args.output.read_text() if args.output.exists() else ""
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(merge(previous, header, sections))
    print(f"wrote {args.output}", file=sys.stderr)


def _split(markdown: str) -> tuple[str, list[str]]:
    """The text before the first `## ` heading, and each `## ` section in order."""
    parts = re.split(r"(?m)^(?=## )", markdown)
    head = parts[0] if parts and not parts[0].startswith("## ") else ""
    return head, [part for part in parts if part.startswith("## ")]


def _title(section: str) -> str:
    return section.splitlines()[0].strip()


def merge(previous: str, header: str, fresh: list[str]) -> str:
    """`previous` with each fresh section replacing the one of the same title (new titles
    are appended); sections not re-run, such as the hand-kept summary of the targets,
    stay as they were."""
    _old_head, sections = _split(previous)
    by_title = {_title(section): section for section in fresh}
    merged = [by_title.pop(_title(section), section) for section in sections]
    merged += [section for section in fresh if _title(section) in by_title]
    return header + "\n" + "\n".join(section.rstrip() + "\n" for section in merged)


if __name__ == "__main__":
    main()
