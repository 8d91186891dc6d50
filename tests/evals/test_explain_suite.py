"""Suite `explain` on a small test sample: the pointing game, per class, the melanoma map, an example plot."""

from __future__ import annotations

import json

from evals.claims import sample_problems
from evals.harness import EvalContext, run_suites


def test_explain_suite_reports_the_pointing_game(tmp_path):
    run_suites(["explain"], EvalContext(out_dir=tmp_path, sample=21))
    report = json.loads((tmp_path / "explain.json").read_text())
    assert report["n"] >= 18 and set(report["pointing_per_class"]) >= {"mel", "nv", "bkl"}
    assert 0.5 <= report["pointing_top_class"] <= 1 and 0 < report["mass_in_lesion"] < 1
    assert report["pointing_melanoma_map_on_melanomas"] is not None and report["seconds_per_map_p50"] > 0
    assert report["goal_met"] == (report["pointing_top_class"] >= 0.9)
    assert (tmp_path / "explain.examples.png").stat().st_size > 10_000
    assert "| pointing, top-class map |" in (tmp_path / "explain.md").read_text()
    assert sample_problems("explain", report) == []  # the README's figure, with the sample's bound
