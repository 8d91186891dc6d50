"""The classification and retrieval suites write their JSON, markdown and plots on a small sample."""

from __future__ import annotations

import json

import pytest

from evals.harness import EvalContext, run_suites
from knowledge.taxonomy import CODES


@pytest.mark.slow
def test_classification_and_retrieval_suites_report_the_required_keys(tmp_path):
    run_suites(["classification", "retrieval"], EvalContext(out_dir=tmp_path, split="test", sample=40), progress=lambda m: None)
    cls = json.loads((tmp_path / "classification.json").read_text())
    for key in ("n", "accuracy", "balanced_accuracy", "macro_f1", "auc_macro", "ece", "recall_per_class", "mel_recall",
                "mel_specificity", "baselines"):
        assert key in cls, key
    assert set(cls["recall_per_class"]) == set(CODES) and 40 <= cls["n"] <= 60
    assert cls["backend"] == "encoder" and 0 <= cls["ece"] <= 1
    assert cls["baselines"]["majority_class"]["class"] == "nv"
    ret = json.loads((tmp_path / "retrieval.json").read_text())
    for key in ("n", "p_at_10", "map_at_10", "knn16_balanced_accuracy", "baselines"):
        assert key in ret, key
    assert 0 <= ret["map_at_10"] <= 1 and ret["p_at_10"] > ret["baselines"]["random"]["p_at_10"]
    for name in ("classification.confusion.png", "classification.reliability.png", "classification.recall_per_class.png",
                 "retrieval.p_at_k.png", "retrieval.p_at_10_per_class.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert "| balanced_accuracy |" in (tmp_path / "classification.md").read_text()
