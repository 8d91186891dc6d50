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
    assert cls["backend"] == "ensemble" and 0 <= cls["ece"] <= 1
    assert cls["baselines"]["majority_class"]["class"] == "nv"
    bd = cls["balanced_decision"]  # the per-class bias is chosen on val, then applied to the sample
    assert 0 <= bd["prior_shift_from_val"] <= 2 and set(bd["recall_per_class"]) == set(CODES)
    assert 0 <= bd["balanced_accuracy"] <= 1
    ret = json.loads((tmp_path / "retrieval.json").read_text())
    for key in ("n", "p_at_10", "map_at_10", "knn16_balanced_accuracy", "baselines"):
        assert key in ret, key
    assert 0 <= ret["map_at_10"] <= 1 and ret["p_at_10"] > ret["baselines"]["random"]["p_at_10"]
    for name in ("classification.confusion.png", "classification.reliability.png", "classification.recall_per_class.png",
                 "retrieval.p_at_k.png", "retrieval.p_at_10_per_class.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert "| balanced_accuracy |" in (tmp_path / "classification.md").read_text()


@pytest.mark.slow
def test_triage_suite_cuts_false_reassurance_against_the_argmax_rule(tmp_path):
    from agents.risk import RiskTier

    run_suites(["triage"], EvalContext(out_dir=tmp_path, split="test", sample=300), progress=lambda m: None)
    m = json.loads((tmp_path / "triage.json").read_text())
    assert m["cutoffs"]["source"] == "manifest" and 280 <= m["n"] <= 320
    for code, shares in m["tier_by_class"].items():
        assert set(shares) == {t.value for t in RiskTier} and abs(sum(shares.values()) - 1) < 1e-9, code
    fr, before = m["false_reassurance"], m["argmax_only"]["false_reassurance"]
    # Floors with room for a 300-image sample (the full test split is reported by `make eval`: docs/triage.md).
    assert fr["malignant"] <= 0.10 and fr["mel"] <= 0.15
    assert fr["malignant"] < before["malignant"] / 3 and fr["mel"] < before["mel"] / 3
    assert m["referral_rate"]["nv"] <= 0.60  # the price in referred naevi stays bounded
    assert (tmp_path / "triage.tiers.png").stat().st_size > 1000 and "argmax class only" in (tmp_path / "triage.md").read_text()
