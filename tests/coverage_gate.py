"""The coverage threshold (pyproject.toml, [tool.coverage.report] fail_under) is checked on
a whole-suite run only: `python -m pytest` with no file, -k, -m or --lf selection, and,
outside CI, no skipped test (a machine without PostgreSQL or the speech extra measures
less). A partial run still prints the coverage of what it ran. Loaded by tests/conftest.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.ci_skips import IN_CI

_why_not_checked: list[str] = []


def _relax(config: pytest.Config, why: str) -> None:
    """Stop pytest-cov from failing this run under the threshold; remember why."""
    plugin: Any = config.pluginmanager.get_plugin("_cov")
    if plugin is None or not getattr(plugin.options, "cov_fail_under", None):
        return
    _why_not_checked.append(f"{why} (threshold {plugin.options.cov_fail_under:g}%)")
    plugin.options.cov_fail_under = None


_config: list[pytest.Config] = []


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    _config.append(config)
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS:
        _relax(config, "tests were named on the command line")


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        _relax(items[0].config, "tests were deselected (-k, -m, --lf)")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not IN_CI and _config:
        _relax(_config[-1], "tests were skipped on this machine")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _why_not_checked:
        terminalreporter.write_line(
            f"coverage threshold not checked: {_why_not_checked[0]}", yellow=True
        )
