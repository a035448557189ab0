"""Benchmark the `ballsy` command's wall time: `ballsy ask "what time is it"` and friends.

Run from the repository root:

    PYTHONPATH=src .venv/bin/python -m bench.bench_cli [--runs 20] [--warmup 3] [--compare-src PATH]

Like hyperfine: each command is started as a fresh process (the installed `ballsy`
script next to this Python, else `python -m ballsy`) after warm-up runs that fill the
page cache; the wall time of every run is kept and the median reported. The commands
run interleaved, one run of each in turn, so every row sees the same machine load.
`--compare-src PATH` adds the same question answered by the code under PATH (e.g. a
checkout from before a change), also interleaved. Prints a markdown section for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import compile_bytecode, machine, percentile

QUESTION = "what time is it"


@dataclass
class Case:
    label: str
    argv: list[str]
    pythonpath: str | None = None
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def ballsy_argv() -> list[str]:
    script = Path(sys.executable).parent / "ballsy"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ballsy"]


def run_once(case: Case, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run; the CPU time (user + system, from wait4)
    is what the process itself cost, whatever its neighbours on the machine were doing."""
    run_env = dict(env)
    if case.pythonpath is not None:
        run_env["PYTHONPATH"] = case.pythonpath
    started = time.perf_counter()
    proc = subprocess.Popen(
        case.argv, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{case.label} failed ({proc.returncode}): {stderr.strip()}")
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compare-src", help="also time the code under this src folder")
    args = parser.parse_args()
    compile_bytecode()
    header = machine()
    ballsy = ballsy_argv()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "BALLSY_ENV_FILE": str(Path(data_dir) / "absent.env"),
            "DATA_DIR": data_dir,
            "AI_PROVIDER": "none",
            "STT_ENABLED": "false",
        }
        cases = [
            Case("`python -c pass` (the interpreter alone)", [sys.executable, "-c", "pass"]),
            Case("`ballsy --version` (the command's own imports)", [*ballsy, "--version"]),
            Case(f'`ballsy ask "{QUESTION}"`', [*ballsy, "ask", QUESTION]),
            Case(
                '`ballsy ask "why do cats purr"` (through the pipeline; no AI configured)',
                [*ballsy, "ask", "why do cats purr"],
            ),
        ]
        if args.compare_src:
            src = str(Path(args.compare_src).resolve())
            cases.append(
                Case(
                    f'`ballsy ask "{QUESTION}"`, code under `{src}`',
                    [*ballsy, "ask", QUESTION],
                    src,
                )
            )
        for _ in range(args.warmup):
            for case in cases:
                run_once(case, env)
        for _ in range(args.runs):
            for case in cases:
                wall, cpu = run_once(case, env)
                case.times.append(wall)
                case.cpu.append(cpu)
    load_end = os.getloadavg()[0]
    print("## CLI: `ballsy ask` start-up\n")
    print(f"Machine: {header}; load {load_end:.2f} at the end.\n")
    compare = f" --compare-src {args.compare_src}" if args.compare_src else ""
    print(
        f"Command: `PYTHONPATH=src .venv/bin/python -m bench.bench_cli --runs {args.runs} "
        f"--warmup {args.warmup}{compare}`  "
    )
    print(
        f"Each row is a fresh process ({' '.join(Path(a).name for a in ballsy)}), run "
        f"{args.runs} times after {args.warmup} warm-up runs, rows interleaved; wall time "
        "from start to exit, and the CPU time (user + system) the process used, in "
        "milliseconds. On a busy machine the wall time includes waiting for a CPU; the CPU "
        "time does not.\n"
    )
    print(
        "| command | median wall ms | mean ± sd wall ms | min wall ms | p90 wall ms "
        "| median CPU ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for case in cases:
        ms = [t * 1000 for t in case.times]
        cpu = statistics.median(case.cpu) * 1000
        print(
            f"| {case.label} | **{statistics.median(ms):.0f}** | {statistics.mean(ms):.0f} ± "
            f"{statistics.pstdev(ms):.0f} | {min(ms):.0f} | {percentile(ms, 90):.0f} | "
            f"{cpu:.0f} |"
        )


if __name__ == "__main__":
    main()
