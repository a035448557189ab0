"""`make bench` keeps docs/benchmarks.md whole when only some benchmarks are re-run."""

from __future__ import annotations

from bench.run_all import merge

PREVIOUS = """# Benchmarks

Machine: an older run.

## Against the targets

| target | status |

## Service: local commands

old service numbers

## AI: time to first token

old AI numbers
"""


def test_a_rerun_section_replaces_its_namesake_and_the_rest_stays() -> None:
    merged = merge(
        PREVIOUS,
        "# Benchmarks\n\nMachine: this run.\n",
        ["## AI: time to first token\n\nnew AI numbers\n", "## Import\n\nnew import numbers\n"],
    )
    assert merged.startswith("# Benchmarks\n\nMachine: this run.\n")
    assert "an older run" not in merged
    assert "old AI numbers" not in merged
    titles = [line for line in merged.splitlines() if line.startswith("## ")]
    assert titles == [
        "## Against the targets",
        "## Service: local commands",
        "## AI: time to first token",
        "## Import",
    ]
    assert "old service numbers" in merged
    assert "new AI numbers" in merged
    assert "new import numbers" in merged


def test_a_first_run_writes_every_section() -> None:
    merged = merge("", "# Benchmarks\n", ["## One\n\n1\n", "## Two\n\n2\n"])
    assert merged == "# Benchmarks\n\n## One\n\n1\n\n## Two\n\n2\n"
