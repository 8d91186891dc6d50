"""`dermagraph eval` and `dermagraph bench` on their success paths, the README's command lines through the real console
script, on small real subsets: the classification suite on a 30-image sample of the test split, and the data-loading
benchmark. Each writes its reports where --out says, with real figures in them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.taxonomy import CODES
from tests.ui.app_server import isolated_var_dir

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


def run(*args: str, var: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DERMAGRAPH_VAR": str(var), "COLUMNS": "200"}  # caches go to the test's own var folder
    return subprocess.run([DERMAGRAPH, *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
def test_eval_suite_sample_out_writes_a_classification_report_that_beats_the_majority_baseline(tmp_path, index_dir):
    out = tmp_path / "eval"
    done = run("eval", "--suite", "classification", "--sample", "30", "--out", str(out),
               var=isolated_var_dir(tmp_path, index_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "▶ suite classification" in done.stdout and f"reports written to {out}" in done.stdout

    report = json.loads((out / "classification.json").read_text())
    assert report["suite"] == "classification" and report["split"] == "test" and report["sample"] == 30
    from evals.claims import sample_problems

    assert sample_problems("classification", report) == []  # the README's figures, with the sample's bounds
    assert 30 <= report["n"] <= 40 and report["backend"] == "ensemble"  # stratified: every class at least twice
    assert set(report["recall_per_class"]) == set(CODES)
    majority = report["baselines"]["majority_class"]
    assert majority["class"] == "nv" and abs(majority["balanced_accuracy"] - 1 / len(CODES)) < 1e-9
    # Floors far under the sample's figures (balanced accuracy ~0.47, macro AUC ~0.97), far over a classifier
    # that learned nothing (1/7 and 0.5): a broken model, label order or report fails them.
    assert report["balanced_accuracy"] > 2 * majority["balanced_accuracy"] and report["auc_macro"] > 0.8
    assert report["accuracy"] >= majority["accuracy"]
    assert "| balanced_accuracy |" in (out / "classification.md").read_text()
    for plot in report["plots"]:
        assert (out / plot).stat().st_size > 1000, plot
    assert {"classification.confusion.png", "classification.reliability.png"} <= set(report["plots"])


def test_bench_only_out_writes_the_benchmark_and_its_table(tmp_path, index_dir):
    out = tmp_path / "bench"
    done = run("bench", "--only", "data_load", "--out", str(out), var=isolated_var_dir(tmp_path, index_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "data_load.json").read_text())
    assert result["machine"]["cpus"] == os.cpu_count()
    assert result["index_ms"]["n"] == 7 and 0 < result["index_ms"]["min_ms"] <= result["index_ms"]["p50_ms"]
    assert result["decode_200_images_ms"]["n"] == 7 and result["decode_ms_per_image_p50"] > 0
    assert f"data_load: {result['summary']}" in done.stdout
    assert f"| data_load | {result['summary']} |" in (out / "bench.md").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["bench.md", "data_load.json"]  # --only: nothing else ran

    unknown = run("bench", "--only", "warp_speed", "--out", str(out), var=tmp_path / "var")
    assert unknown.returncode == 2 and "unknown benchmark(s) warp_speed; available:" in " ".join(unknown.stderr.split())
