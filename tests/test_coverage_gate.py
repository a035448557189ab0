"""The coverage threshold (tests/coverage_gate.py) fails whole-suite runs only; run on a
tiny project in a child pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PYPROJECT = """
[tool.pytest.ini_options]
testpaths = ["t"]
addopts = ["--cov", "--cov-report=term", "-p", "tests.ci_skips", "-p", "tests.coverage_gate"]
[tool.coverage.run]
source_pkgs = ["half"]
[tool.coverage.report]
fail_under = 90
"""
HALF = "def pick(x):\n    if x:\n        return 1\n    return 2\n"  # a test covers 75%
TESTS = "from half import pick\n\ndef test_one():\n    assert pick(1) == 1\n"
SKIP = "import pytest\n\ndef test_skipped():\n    pytest.skip('not here')\n"


def _project(tmp_path: Path, *, with_skip: bool = False) -> Path:
    (tmp_path / "t").mkdir()
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "half.py").write_text(HALF)
    (tmp_path / "t" / "test_half.py").write_text(TESTS)
    if with_skip:
        (tmp_path / "t" / "test_skip.py").write_text(SKIP)
    return tmp_path


def _pytest(root: Path, *args: str, ci: bool = False) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the plugins under test: fast start
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "src"), str(root)])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "pytest_cov.plugin",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_whole_run_under_the_threshold_fails(tmp_path: Path) -> None:
    code, out = _pytest(_project(tmp_path))
    assert code == 1, out
    assert "Required test coverage of 90.0% not reached. Total coverage: 75.00%" in out


def test_a_partial_run_reports_coverage_without_failing(tmp_path: Path) -> None:
    root = _project(tmp_path, with_skip=True)
    for args, why in [
        (("t/test_half.py",), "tests were named on the command line"),
        (("-k", "one"), "tests were deselected"),
        ((), "tests were skipped on this machine"),
    ]:
        code, out = _pytest(root, *args)
        assert code == 0, out
        assert f"coverage threshold not checked: {why}" in out
        assert "TOTAL" in out  # the report is still printed


def test_in_ci_a_skip_does_not_waive_the_threshold(tmp_path: Path) -> None:
    code, out = _pytest(_project(tmp_path, with_skip=True), ci=True)
    assert code == 1, out
    assert "not reached" in out and "skips not allowed under CI" in out
