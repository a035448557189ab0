"""The importer's binary COPY encoding, in one process: rows encoded per CPU-second.

    PYTHONPATH=src .venv/bin/python -m bench.bench_copy_encoder [--rows 200000]
        [--against-commit SHA]

Encodes converted rows of three tables (the widest, the largest, the narrowest) with
`copy_format.batch_encoder`, the encoder derived from the models' table specs. With
`--against-commit`, also with the per-table encoders `ballsy/db/importer/copy_format.py`
had at that commit (the hand-written ones it replaced), checking both give the same
bytes. CPU time (`process_time`), best of 9, alternating: on a shared machine the wall
clock measures the neighbours.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ballsy.importer.copy_format import batch_encoder
from ballsy.importer.tables import model_specs

REPO = Path(__file__).resolve().parents[1]
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def sample_rows(rows: int) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "command_history": [
            (
                i,
                i % 50 + 1,
                "open youtube please",
                None if i % 17 == 0 else "Opening YouTube",
                BASE + timedelta(seconds=i),
                None,
                None,
                None,
                None,
                None,
                False,
                None,
                None,
            )
            for i in range(rows)
        ],
        "messages": [
            (
                i,
                i % 500 + 1,
                bool(i % 2),
                "what is the time in Paris " * (1 + i % 3),
                BASE + timedelta(seconds=i),
                None,
                False,
            )
            for i in range(rows)
        ],
        "users": [(i, f"user{i}", BASE, None, None, None, None, False) for i in range(rows)],
    }


def _old_encoders(commit: str) -> dict[str, Callable[[Sequence[Any]], bytes]]:
    text = subprocess.run(
        ["git", "show", f"{commit}:src/ballsy/db/importer/copy_format.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    text = text.replace(
        "from ballsy.db.importer.tables import Kind, TableSpec",
        "from typing import Any as Kind, Any as TableSpec",
    )
    path = Path(tempfile.mkdtemp()) / "old_copy_format.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("old_copy_format", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._ENCODERS  # type: ignore[no-any-return]


def _best(encode: Callable[[list[tuple[Any, ...]]], object], rows: list[tuple[Any, ...]]) -> float:
    start = time.process_time()
    encode(rows)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--against-commit", default=None)
    args = parser.parse_args()
    specs = {spec.name: spec for spec in model_specs()}
    old = _old_encoders(args.against_commit) if args.against_commit else {}
    print(
        "| table | columns | derived encoder (rows/CPU-s) |"
        + (" before (rows/CPU-s) | derived / before |" if old else "")
    )
    print("| --- | ---: | ---: |" + (" ---: | ---: |" if old else ""))
    for table, rows in sample_rows(args.rows).items():
        new = batch_encoder(specs[table])
        variants: dict[str, Callable[[list[tuple[Any, ...]]], object]] = {"new": new}
        if old:
            before = old[table]
            assert list(map(before, rows[:2000])) == new(rows[:2000]), table
            variants["old"] = lambda rows, before=before: list(map(before, rows))
        best = dict.fromkeys(variants, float("inf"))
        for _ in range(9):
            for name, encode in variants.items():
                best[name] = min(best[name], _best(encode, rows))
        line = f"| {table} | {len(specs[table].columns)} | {args.rows / best['new']:,.0f} |"
        if old:
            line += f" {args.rows / best['old']:,.0f} | {best['old'] / best['new']:.2f}× |"
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
