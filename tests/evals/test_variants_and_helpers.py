"""Variants, class-balanced samples, selective-prediction metrics and the answer checks the graph suites use."""

from __future__ import annotations

import numpy as np
import pytest

from evals.harness import EvalContext, balanced_sample, variant_tag
from evals.selective import area_under_risk_coverage, bootstrap_interval, risk_coverage, selective_at_threshold
from models.classifiers import build_classifier, parse_variant


def test_variant_spelling():
    v = parse_variant("encoder:abstain=0.6,tta=on")
    assert (v.backend, v.abstain_below, v.tta, v.options) == ("encoder", 0.6, True, {})
    assert parse_variant(None).spec == "ensemble"
    assert parse_variant("qwen2vl:adapter=artifacts/qwen2vl").options == {"adapter": "artifacts/qwen2vl"}
    with pytest.raises(ValueError, match="unknown classifier backend 'resnet'"):
        parse_variant("resnet")
    with pytest.raises(ValueError, match="abstain must lie in"):
        parse_variant("encoder:abstain=1.5")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_variant("encoder:tta")
    with pytest.raises(ValueError, match="encoder backend only"):
        parse_variant("qwen2vl:tta=on")
    assert variant_tag("encoder:abstain=0.6,tta=on") == "encoder-abstain-0.6-tta-on"


def test_variants_change_the_classifier_they_build(dataset, split):
    from knowledge.images import open_image

    strict = build_classifier("encoder:abstain=0.99")
    shipped = strict.encoder.config.tta_flip
    flipped = build_classifier(f"encoder:tta={'off' if shipped else 'on'}", encoder=strict.encoder)
    assert strict.abstain_below == 0.99 and flipped.encoder is not strict.encoder and flipped.encoder.config.tta_flip != shipped
    img = open_image(next(r for r in dataset if split[r.image_id] == "test").image_path)
    plain, tta = strict.classify(img), flipped.classify(img)
    assert plain.abstained == (max(plain.probs.values()) < 0.99)  # the variant's threshold, not the shipped one
    assert plain.probs != tta.probs  # averaging with the mirror image (or not) moves the probabilities


def test_balanced_sample_evens_out_classes(tmp_path):
    items = EvalContext(out_dir=tmp_path).items("test")
    sample = balanced_sample(items, 140, seed=0)
    counts = {c: sum(it.dx == c for it in sample) for c in {it.dx for it in items}}
    assert len(sample) == 140 and set(counts.values()) == {20}
    small = balanced_sample(items, 210)
    counts = {c: sum(it.dx == c for it in small) for c in {it.dx for it in items}}
    assert counts["df"] == 22 and counts["vasc"] == 29 and min(v for c, v in counts.items() if c not in ("df", "vasc")) >= 31
    assert balanced_sample(items, 140, seed=0) == sample and balanced_sample(items, 140, seed=1) != sample


def test_risk_coverage_answers_the_most_confident_first():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.95, 0.05], [0.6, 0.4], [0.45, 0.55], [0.8, 0.2]])  # the last is confidently wrong
    coverage, acc = risk_coverage(probs, labels)
    assert coverage.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert acc.tolist() == pytest.approx([1.0, 0.5, 2 / 3, 0.75])  # order: 0.95 ok, 0.8 wrong, 0.6 ok, 0.55 ok
    assert area_under_risk_coverage(probs, labels) == pytest.approx(np.mean([0, 0.5, 1 / 3, 0.25]))
    op = selective_at_threshold(probs, labels, 0.7)
    assert op["coverage"] == 0.5 and op["accuracy"] == 0.5


def test_bootstrap_interval_brackets_the_estimate():
    values = np.arange(100, dtype=float)
    lo, hi = bootstrap_interval(lambda idx: float(values[idx].mean()), 100, reps=300)
    assert lo < 49.5 < hi and hi - lo < 25
