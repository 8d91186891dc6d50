"""Suite `features` on a small stratified test sample: segmentation scores, delineation, melanoma vs naevus."""

from __future__ import annotations

import json

import numpy as np

from evals.harness import EvalContext, run_suites
from evals.suites.features import auc, cohens_d


def test_effect_sizes_are_right_on_known_samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 4000), rng.normal(0.0, 1.0, 4000)
    assert abs(cohens_d(a, b) - 1.0) < 0.08
    assert abs(auc(a, b) - 0.76) < 0.02  # Phi(1 / sqrt 2) for two unit normals one SD apart
    assert auc(b, b) == 0.5 and cohens_d(b, b) == 0.0


def test_features_suite_reports_overlap_delineation_and_class_differences(tmp_path):
    run_suites(["features"], EvalContext(out_dir=tmp_path, sample=40))
    report = json.loads((tmp_path / "features.json").read_text())
    seg = report["segmentation"]
    assert seg["n"] >= 40 and seg["dice"] > 0.8 and seg["jaccard"] > 0.7
    assert seg["dice_model_res"] > 0.8 and 0 <= seg["thresholded_jaccard"] <= seg["jaccard"]
    assert report["delineated_share"] > 0.8
    predicted = report["melanoma_vs_naevus"]["predicted"]
    assert {"shape_asymmetry_max", "compactness", "colour_count", "share_blue_grey"} <= set(predicted)
    assert all(0 <= s["auc"] <= 1 for s in predicted.values() if s["auc"] is not None)
    assert (tmp_path / "features.dice.png").stat().st_size > 1000
    assert (tmp_path / "features.compactness.png").is_file()
    assert "| compactness |" in (tmp_path / "features.md").read_text()
    dark = report["under_exposure"]["brightness:5"]
    assert report["under_exposure"]["n"] >= 30
    assert dark["floor"]["same_colours"] > dark["as_uploaded"]["same_colours"] + 0.2
    assert dark["floor"]["black_added"] < dark["as_uploaded"]["black_added"]
    assert dark["floor"]["delineated"] >= dark["as_uploaded"]["delineated"]
    assert "## Too dark or too flat" in (tmp_path / "features.md").read_text()
