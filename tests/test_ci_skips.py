"""The CI skip rule (tests/ci_skips.py), run on tiny test files in a child pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SKIPPING = """
import pytest

def test_runs():
    pass

def test_skips():
    pytest.skip("no widget here")

def test_imports_or_skips():
    pytest.importorskip("no_such_module_anywhere")

@pytest.mark.skipif(True, reason="never on this machine")
def test_skipif():
    pass

@pytest.mark.xfail(reason="known bug")
def test_xfails():
    assert False

@pytest.mark.xfail(reason="fixed since")
def test_xpasses():
    pass

@pytest.fixture
def missing_tool():
    pytest.skip("tool missing")

def test_fixture_skips(missing_tool):
    pass
"""
SKIPPED_IN_CI = [
    "test_skips",
    "test_imports_or_skips",
    "test_skipif",
    "test_xfails",
    "test_xpasses",
    "test_fixture_skips",
]


def _pytest(tmp_path: Path, files: dict[str, str], *, ci: str | None) -> tuple[int, str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # nothing from this repository's config
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the plugins under test: fast start
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "src")])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.ci_skips", "-p", "no:cacheprovider", "-rA"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


SKIPPED_MODULE = """import pytest
pytest.importorskip("no_such_module_anywhere")

def test_x():
    pass
"""
FILES = {"test_some.py": SKIPPING, "test_module.py": SKIPPED_MODULE}


def test_every_kind_of_skip_fails_a_ci_run_and_is_named(tmp_path: Path) -> None:
    code, out = _pytest(tmp_path, FILES, ci="true")
    assert code == 1, out
    assert "skips not allowed under CI" in out
    for name in SKIPPED_IN_CI:
        assert f"test_some.py::{name}" in out, out
    assert "test_some.py::test_runs:" not in out
    assert "test_module.py: Skipped: could not import 'no_such_module_anywhere'" in out
    assert "7 test(s) did not run" in out
    assert "no widget here" in out and "known bug" in out


def test_outside_ci_a_skip_is_only_reported(tmp_path: Path) -> None:
    code, out = _pytest(tmp_path, FILES, ci=None)
    assert code == 0, out
    assert "skips not allowed under CI" not in out
    assert "1 passed, 5 skipped, 1 xfailed, 1 xpassed" in out


def test_an_allowed_skip_passes_a_ci_run(tmp_path: Path) -> None:
    conftest = (
        "from tests import ci_skips\n"
        "ci_skips.CI_SKIP_ALLOWED['test_some.py::test_skip*'] = 'needs a widget CI lacks'\n"
    )
    only_allowed = 'import pytest\n\ndef test_skips():\n    pytest.skip("no widget")\n'
    files = {"conftest.py": conftest, "test_some.py": only_allowed}
    code, out = _pytest(tmp_path, files, ci="true")
    assert code == 0, out
    assert "1 skipped" in out
