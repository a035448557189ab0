"""Under CI=true, a test that did not run fails the run unless it is allowed below.

A skip -- `pytest.skip`, `importorskip`, `skipif`, a skipped module -- and an xfail or
xpass all count. Elsewhere a skip is only reported. Loaded by tests/conftest.py.
"""

from __future__ import annotations

import fnmatch
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# The only tests CI may skip (or xfail): node-id patterns (fnmatch) -> why they may.
# Every other skip under CI=true fails the run: a test that silently does not run proves
# nothing. Today every test runs on CI's machine (.ci/run -> make test installs the speech
# extra, Chromium, espeak-ng, the infra tools; PostgreSQL answers), so the list is empty.
CI_SKIP_ALLOWED: dict[str, str] = {}

_unallowed_skips: list[str] = []


def _allowed_in_ci(nodeid: str) -> bool:
    return any(fnmatch.fnmatchcase(nodeid, pattern) for pattern in CI_SKIP_ALLOWED)


def _note_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    """Remember a skipped, xfailed or xpassed test or module that the allow-list lacks."""
    if not IN_CI or not (report.skipped or hasattr(report, "wasxfail")):
        return
    if _allowed_in_ci(report.nodeid):
        return
    if isinstance(report.longrepr, tuple):  # (file, line, "Skipped: reason")
        reason = str(report.longrepr[2])
    else:
        reason = f"xfail: {getattr(report, 'wasxfail', '') or report.longrepr}"
    _unallowed_skips.append(f"{report.nodeid or '<session>'}: {reason}")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note_skip(report)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_skip(report)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _unallowed_skips and session.exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _unallowed_skips:
        return
    terminalreporter.section("skips not allowed under CI", red=True, bold=True)
    for line in _unallowed_skips:
        terminalreporter.line(line, red=True)
    terminalreporter.line(
        f"{len(_unallowed_skips)} test(s) did not run. Make them run on CI's machine, or add "
        "them to CI_SKIP_ALLOWED in tests/ci_skips.py with the reason.",
        red=True,
    )
