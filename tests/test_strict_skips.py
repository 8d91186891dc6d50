"""CI's skip rule (tests/strict_skips.py) on a real pytest run: with DERMAGRAPH_CI set, a skip or an xfail fails the
run and its reason is printed; a skipped LLaMA-Factory test (by design) does not; without the variable a skip is a skip."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SKIPS = '''
import pytest

def test_passes():
    assert True

def test_needs_a_browser():
    pytest.skip("/usr/bin/chromium is not installed")
'''
XFAIL = '''
import pytest

@pytest.mark.xfail(reason="known to be wrong")
def test_wrong():
    assert False
'''
BY_DESIGN = '''
import pytest

pytestmark = [pytest.mark.llamafactory, pytest.mark.skipif(True, reason="LLaMA-Factory venv not built")]

def test_llamafactory_smoke():
    assert False
'''


def run_pytest(tmp_path: Path, source: str, ci: bool) -> subprocess.CompletedProcess:
    test_file = tmp_path / "test_sample.py"
    test_file.write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "DERMAGRAPH_CI"}
    if ci:
        env["DERMAGRAPH_CI"] = "1"
    # -p loads the plugin alone: the sample lies outside tests/, so no conftest of ours applies to it
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.strict_skips", "-p", "no:cacheprovider",
                           str(test_file)], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)


def test_in_ci_a_skip_fails_the_run_and_prints_its_reason(tmp_path):
    done = run_pytest(tmp_path, SKIPS, ci=True)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "1 passed, 1 skipped" in done.stdout
    assert "skips that fail CI" in done.stdout
    # the node id is relative to wherever pytest puts the rootdir for a file outside the repo
    assert re.search(r"SKIPPED \S*test_sample\.py::test_needs_a_browser: Skipped: /usr/bin/chromium is not installed",
                     done.stdout), done.stdout[-3000:]


def test_in_ci_an_xfail_fails_the_run_too(tmp_path):
    done = run_pytest(tmp_path, XFAIL, ci=True)
    assert done.returncode == 1 and re.search(r"\S*test_sample\.py::test_wrong: xfail: known to be wrong", done.stdout), \
        done.stdout[-3000:]


def test_in_ci_the_skipped_llamafactory_test_is_by_design_and_passes(tmp_path):
    done = run_pytest(tmp_path, BY_DESIGN, ci=True)
    assert done.returncode == 0 and "1 skipped" in done.stdout and "skips that fail CI" not in done.stdout, done.stdout[-3000:]


def test_outside_ci_a_skip_is_only_reported(tmp_path):
    done = run_pytest(tmp_path, SKIPS, ci=False)
    assert done.returncode == 0 and "1 passed, 1 skipped" in done.stdout and "skips that fail CI" not in done.stdout
