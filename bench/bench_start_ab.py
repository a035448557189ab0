"""Cold start of two source trees side by side: which one starts faster, as a ratio.

On a machine shared with other work the absolute start time moves with the neighbours'
load; starting the two trees alternately (A, B, A, B …) and comparing each pair gives a
ratio that load changes between pairs do not bias. Each start is `python -m ballsy serve`
(the service benchmark's environment, bytecode compiled) on an existing database, or with
`--fresh` on a new data directory each time (the database created at start), timed to the
first 200 on /health; CPU is the server process's own up to that answer.

    PYTHONPATH=src .venv/bin/python -m bench.bench_start_ab --a /path/to/other/src \
        [--b src] [--pairs 10] [--fresh]

`--a` and `--b` are folders holding the `ballsy` package (a checkout's `src/`; an older
commit's with `git archive <commit> src | tar -x -C /tmp/old`).
"""

from __future__ import annotations

import argparse
import compileall
import tempfile
from pathlib import Path

from tests.servers import BallsyProcess, cpu_seconds

from bench.bench_service import SERVICE_ENV
from bench.common import machine, median


def start_once(src: Path, data_dir: Path) -> tuple[float, float]:
    """(wall seconds, server CPU seconds) from start to the first healthy answer."""
    env = {**SERVICE_ENV, "DATA_DIR": str(data_dir), "PYTHONPATH": str(src)}
    server = BallsyProcess(env).start()
    try:
        wall = server.wait_healthy(timeout=60.0)
        assert server.proc is not None
        return wall, cpu_seconds(server.proc.pid)
    finally:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--a", type=Path, required=True, help="the reference tree's src/")
    parser.add_argument("--b", type=Path, default=Path("src"), help="the tree measured")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--fresh", action="store_true", help="a new data directory per start")
    args = parser.parse_args()
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    for src in trees.values():
        compileall.compile_dir(src / "ballsy", quiet=1)
    where = machine()  # its load figure: before the first start
    runs: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as tmp:
        data = {name: Path(tmp) / name for name in trees}
        for name, src in trees.items():
            start_once(src, data[name])  # creates the database: later starts reuse it
        for pair in range(args.pairs):
            for name, src in trees.items():
                folder = data[name] / f"fresh-{pair}" if args.fresh else data[name]
                runs[name].append(start_once(src, folder))
    wall_ratio = median([b[0] / a[0] for a, b in zip(runs["A"], runs["B"], strict=True)])
    cpu_ratio = median([b[1] / a[1] for a, b in zip(runs["A"], runs["B"], strict=True)])
    print(
        f"Machine: {where}. {args.pairs} pairs, alternating; "
        f"{'a new data directory' if args.fresh else 'an existing database'} each start."
    )
    print(f"A = {trees['A']}, B = {trees['B']}")
    print("| tree | median wall | median CPU |")
    print("| --- | ---: | ---: |")
    for name in trees:
        walls, cpus = zip(*runs[name], strict=True)
        print(f"| {name} | {median(list(walls)):.2f} s | {median(list(cpus)):.3f} s |")
    print(f"Median of the pairs' ratios B/A: wall {wall_ratio:.3f}, CPU {cpu_ratio:.3f}")


if __name__ == "__main__":
    main()
