"""Running several suites: one that fails is recorded and the others still write their reports."""

from __future__ import annotations

import json

import pytest

from evals import harness
from evals.harness import EvalContext, SuiteResult, SuitesFailed, run_suites, suite


@pytest.fixture()
def broken_suite():
    @suite("broken-for-test")
    def broken(ctx):
        raise FileNotFoundError("artifact missing: run `dermagraph build`")

    @suite("variant-echo-for-test")
    def echo(ctx):
        return SuiteResult({"n": 1, "threshold": float((ctx.variant or "abstain=0.5").split("=")[-1])}, "# echo", [], f"variant {ctx.variant}")

    yield
    for name in ("broken-for-test", "variant-echo-for-test"):
        harness._SUITES.pop(name, None)


def test_a_failing_suite_does_not_lose_the_others(tmp_path, broken_suite):
    with pytest.raises(SuitesFailed, match="broken-for-test: FileNotFoundError: artifact missing"):
        run_suites(["data", "broken-for-test"], EvalContext(out_dir=tmp_path), progress=lambda m: None)
    assert "raise FileNotFoundError" in (tmp_path / "broken-for-test.error.txt").read_text()
    assert json.loads((tmp_path / "data.json").read_text())["n"] == 10_015
    index = (tmp_path / "index.md").read_text()
    assert "[data.md](data.md) | n 10,015 |" in index  # a suite without a summary line gets its headline figures
    assert "| broken-for-test | **failed** | FileNotFoundError" in index
    assert json.loads((tmp_path / "index.json").read_text())["failures"]["broken-for-test"].startswith("FileNotFoundError")


def test_a_single_suite_failure_raises_at_once(tmp_path, broken_suite):
    with pytest.raises(FileNotFoundError):
        run_suites(["broken-for-test"], EvalContext(out_dir=tmp_path), progress=lambda m: None)


def test_compare_writes_each_variant_under_a_safe_name_and_a_table(tmp_path, broken_suite):
    run_suites(["variant-echo-for-test", "data"], EvalContext(out_dir=tmp_path), compare=("encoder:abstain=0.25", "encoder:abstain=0.75"),
               progress=lambda m: None)
    assert json.loads((tmp_path / "variant-echo-for-test.encoder-abstain-0.25.json").read_text())["variant"] == "encoder:abstain=0.25"
    table = (tmp_path / "variant-echo-for-test.compare.md").read_text()
    assert "1 of 2 figures differ" in table and "| threshold | 0.25 | 0.75 | +0.5 |" in table and "| n | 1 | 1 | 0 |" in table
    assert not (tmp_path / "data.compare.md").exists()  # data does not depend on the classifier: run once
    index = (tmp_path / "index.md").read_text()
    assert "variant-echo-for-test [encoder:abstain=0.25]" in index and "variant encoder:abstain=0.75" in index
    with pytest.raises(ValueError, match="two different variants"):
        run_suites(["data"], EvalContext(out_dir=tmp_path), compare=("encoder", "encoder"))
    with pytest.raises(ValueError, match="unknown classifier backend 'resnet'"):
        run_suites(["all"], EvalContext(out_dir=tmp_path / "never", variant="resnet"))
    assert not (tmp_path / "never" / "index.md").exists()


def test_rerunning_one_suite_updates_its_row_and_keeps_the_others(tmp_path, broken_suite):
    quiet = lambda m: None  # noqa: E731
    with pytest.raises(SuitesFailed):
        run_suites(["data", "variant-echo-for-test", "broken-for-test"], EvalContext(out_dir=tmp_path), progress=quiet)
    run_suites(["variant-echo-for-test"], EvalContext(out_dir=tmp_path), progress=quiet)
    index = (tmp_path / "index.md").read_text()
    assert "[data.md](data.md)" in index and "[variant-echo-for-test.md]" in index and "re-run on their own" in index
    assert "broken-for-test | **failed**" in index  # still failed: it was not re-run
    harness._SUITES["broken-for-test"] = harness._SUITES["data"]  # "fixed", then re-run alone
    run_suites(["broken-for-test"], EvalContext(out_dir=tmp_path), progress=quiet)
    assert "**failed**" not in (tmp_path / "index.md").read_text()
    run_suites(["data", "variant-echo-for-test"], EvalContext(out_dir=tmp_path, sample=50), progress=quiet)
    index = (tmp_path / "index.md").read_text()  # another context (a sample): a fresh index, nothing merged
    assert "sample of about 50" in index and "broken-for-test" not in index and "Total wall time" in index
