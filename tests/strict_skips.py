"""In CI (``DERMAGRAPH_CI=1``, set by .ci/run) a skipped test fails the run, with its reason printed.

A skip is a hole the run does not show: the browser test skipped for a missing Chromium let CI go green
without it. The only skips by design are the tests marked ``llamafactory`` (they need the separate
LLaMA-Factory venv; ``make test-llamafactory`` runs them). An xfail counts as a skip here: it asserts nothing.

Registered for every test by ``pytest_plugins`` in tests/conftest.py; ``-p tests.strict_skips`` loads it alone.
"""

from __future__ import annotations

import os

import pytest

ENV = "DERMAGRAPH_CI"
BY_DESIGN = ("llamafactory",)  # markers whose tests may skip in CI


def _strict(config: pytest.Config) -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def _reason(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return f"xfail: {report.wasxfail or 'no reason given'}"
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        path, line, message = longrepr
        return f"{message} ({path}:{line})"
    return str(longrepr)


_SKIPS = pytest.StashKey[list]()  # (node id, reason) of each skip not by design


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SKIPS] = []


def pytest_report_header(config: pytest.Config) -> str | None:
    if _strict(config):
        return f"{ENV}: a skip fails the run (by design only: tests marked {', '.join(BY_DESIGN)})"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.skipped and not any(item.get_closest_marker(m) for m in BY_DESIGN):
        item.config.stash[_SKIPS].append((item.nodeid, _reason(report)))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _strict(session.config) and session.config.stash[_SKIPS] and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skips = config.stash[_SKIPS]
    if not (_strict(config) and skips):
        return
    terminalreporter.section("skips that fail CI", sep="=", red=True, bold=True)
    terminalreporter.line(f"{len(skips)} test(s) skipped, and only tests marked {', '.join(BY_DESIGN)} may skip "
                          f"({ENV} is set): the run fails.", red=True)
    for nodeid, reason in skips:
        terminalreporter.line(f"SKIPPED {nodeid}: {reason}", red=True)
