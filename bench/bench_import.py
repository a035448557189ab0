"""Benchmark: Ballsy's SQLite importer against pgloader, same file, same server, one run.

Generates a prototype database of at least one million rows (tests/db/legacy_factory.py),
then imports it twice into fresh PostgreSQL databases: with `python -m ballsy.importer
--migrate` (which creates the schema, imports, moves sequences and verifies counts and
checksums) and with `pgloader` (which creates its own schema and does not verify). Both
run as separate processes and are timed wall-clock, end to end. It does this for two files:
one with every quirk of real files (orphans, NULLs, text booleans, mixed timestamps, bad
UTF-8), and a clean one that pgloader can load entirely, for a like-for-like speed figure.

Run from the repository root:
    PYTHONPATH=src python -m bench.bench_import [--scale 1.0] [--batch-size N] [--workers N]
        [--repeat N]
Prints a markdown section (paste it into docs/benchmarks.md). `--repeat N` also times the
clean file N more times per tool, alternating which goes first, and gives each pair's ratio:
on a machine shared with other work one pair says little.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import pg  # noqa: E402
from tests.db.legacy_factory import build_legacy_db  # noqa: E402

from ballsy.importer.options import DEFAULT_BATCH_SIZE  # noqa: E402
from bench.common import compile_bytecode, machine, median  # noqa: E402

TABLES = ("users", "conversations", "messages", "settings", "command_history")


@dataclass
class Run:
    tool: str
    seconds: float
    rows_in_target: int
    verified: str
    note: str = ""


def _count_rows(url: str) -> int:
    import psycopg

    total = 0
    with psycopg.connect(url) as conn:
        for table in TABLES:
            row = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"public.{table}",)
            ).fetchone()
            if row and row[0]:
                total += conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # type: ignore[index]
    return total


def run_ballsy(source: Path, batch_size: int | None, workers: int | None, workdir: Path) -> Run:
    name, url = pg.create_database()
    report_path = workdir / f"report-{name}.json"
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ballsy.importer",
                str(source),
                "--to",
                url,
                "--migrate",
                *(["--batch-size", str(batch_size)] if batch_size else []),
                "--report-json",
                str(report_path),
                *(["--workers", str(workers)] if workers else []),
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise SystemExit(f"importer failed ({done.returncode}):\n{done.stdout[-2000:]}")
        report = json.loads(report_path.read_text())
        repairs = len(report["repairs"])
        verified = "yes: counts + checksums match" if report["ok"] else "MISMATCH"
        return Run(
            "ballsy importer",
            seconds,
            _count_rows(url),
            verified,
            f"{repairs:,} repairs reported by row id",
        )
    finally:
        pg.drop_database(name)


def run_pgloader(source: Path, workdir: Path) -> Run:
    name, url = pg.create_database()
    log = workdir / f"pgloader-{name}.log"
    try:
        started = time.perf_counter()
        done = subprocess.run(
            ["pgloader", "--logfile", str(log), str(source), url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            cwd=workdir,
        )
        seconds = time.perf_counter() - started
        errors = _pgloader_errors(done.stdout)
        note = f"exit {done.returncode}; {errors} errors in its summary"
        return Run("pgloader", seconds, _count_rows(url), "no (pgloader does not verify)", note)
    finally:
        pg.drop_database(name)


def _pgloader_errors(summary: str) -> int:
    for line in summary.splitlines():
        parts = line.split()
        if line.strip().startswith("Total import time") and len(parts) >= 5:
            if parts[3] == "✓":  # pgloader's mark for "no errors"
                return 0
            try:
                return int(parts[3])
            except ValueError:
                return -1
    return -1


def bench_file(
    label: str, source: Path, rows: int, args: argparse.Namespace, workdir: Path
) -> list[str]:
    ours = run_ballsy(source, args.batch_size, args.workers, workdir)
    theirs = run_pgloader(source, workdir)
    lines = [
        f"### {label}: {rows:,} source rows",
        "",
        "| tool | wall time (s) | rows loaded/s | rows in target | verified | notes |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for run in (ours, theirs):
        lines.append(
            f"| {run.tool} | {run.seconds:.2f} | {run.rows_in_target / run.seconds:,.0f} | "
            f"{run.rows_in_target:,} | {run.verified} | {run.note} |"
        )
    lines += [
        "",
        f"Ratio (pgloader time / Ballsy time): **{theirs.seconds / ours.seconds:.2f}×**"
        f" ({'Ballsy faster' if ours.seconds < theirs.seconds else 'pgloader faster'}).",
        "",
    ]
    return lines


def repeated_pairs(source: Path, args: argparse.Namespace, workdir: Path) -> list[str]:
    """`args.repeat` more runs of each tool on `source`, alternating which runs first."""
    ratios: list[str] = []
    values: list[float] = []
    for index in range(args.repeat):
        if index % 2:
            theirs = run_pgloader(source, workdir)
            ours = run_ballsy(source, args.batch_size, args.workers, workdir)
        else:
            ours = run_ballsy(source, args.batch_size, args.workers, workdir)
            theirs = run_pgloader(source, workdir)
        values.append(theirs.seconds / ours.seconds)
        ratios.append(f"{values[-1]:.2f}× ({ours.seconds:.1f} s against {theirs.seconds:.1f} s)")
    return [
        f"{args.repeat} more pairs on the clean file, alternating which tool runs first "
        f"(pgloader time / Ballsy time): {'; '.join(ratios)}; median "
        f"**{median(values):.2f}×**.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = about 1.0 M rows")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the importer's")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=0, help="more clean-file pairs")
    args = parser.parse_args()
    if shutil.which("pgloader") is None:
        raise SystemExit("pgloader is not installed (apt-get install pgloader)")
    reason = pg.server_available()
    if reason is not None:
        raise SystemExit(f"PostgreSQL is not reachable at {pg.ADMIN_DSN}: {reason}")
    compile_bytecode()  # the importer and each of its worker processes load Ballsy
    sizes = {
        "users": int(10_000 * args.scale),
        "conversations": int(100_000 * args.scale),
        "messages": int(600_000 * args.scale),
        "commands": int(280_000 * args.scale),
    }
    pgloader_version = subprocess.run(
        ["pgloader", "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[0]
    out = [
        "## SQLite import: Ballsy importer vs pgloader",
        "",
        f"Machine: {machine()}; PostgreSQL 15 on 127.0.0.1; {pgloader_version}.",
        f"Batch size {args.batch_size or f'{DEFAULT_BATCH_SIZE:,} (default)'}, "
        f"{args.workers or 'default'} workers. Times are "
        "wall-clock for the whole process, schema creation included (Ballsy: `--migrate`, "
        "then load, build indexes, move sequences, verify counts, checksums and foreign keys; "
        "pgloader: "
        "its own CREATE TABLEs, load, indexes, no verification).",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="ballsy-bench-import-") as tmp:
        workdir = Path(tmp)
        for label, quirks in (("Legacy file with every quirk", True), ("Clean legacy file", False)):
            source = workdir / f"legacy-{'quirks' if quirks else 'clean'}.db"
            started = time.perf_counter()
            facts = build_legacy_db(source, lax=quirks, quirks=quirks, seed=11, **sizes)
            print(
                f"generated {source.name}: {facts.total_rows:,} rows in "
                f"{time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
            out += bench_file(label, source, facts.total_rows, args, workdir)
            if not quirks and args.repeat:
                out += repeated_pairs(source, args, workdir)
    out += ["Reproduce: `PYTHONPATH=src python -m bench.bench_import`", ""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
