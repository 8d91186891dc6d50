"""Metric helpers on small hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import metrics as M
from knowledge.calibration import expected_calibration_error


def test_balanced_accuracy_averages_recall_over_present_classes():
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    preds = np.array([0, 0, 0, 1, 1, 0, 2])
    assert M.recall_per_class(labels, preds, 4)[:3].tolist() == [0.75, 0.5, 1.0]
    assert np.isnan(M.recall_per_class(labels, preds, 4)[3])
    assert M.balanced_accuracy(labels, preds, 4) == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert M.accuracy(labels, preds) == pytest.approx(5 / 7)


def test_macro_f1_and_auc():
    labels = np.array([0, 0, 1, 1])
    preds = np.array([0, 1, 1, 1])
    assert M.macro_f1(labels, preds, 2) == pytest.approx((2 / 3 + 0.8) / 2)
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    assert M.auc_macro(probs, labels) == 1.0


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    labels = np.array([0, 0, 0, 1] * 25)
    calibrated = np.tile([0.75, 0.25], (100, 1))
    assert expected_calibration_error(calibrated, labels) == pytest.approx(0.0)
    overconfident = np.tile([0.99, 0.01], (100, 1))
    assert expected_calibration_error(overconfident, labels) == pytest.approx(0.24)
    assert M.brier_score(np.eye(2)[labels], labels) == 0.0


def test_recall_at_specificity_and_thresholds():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    positive = np.array([0, 0, 0, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    recall, spec, thr = M.recall_at_specificity(scores, positive, 0.8)
    assert (recall, spec) == (1.0, pytest.approx(5 / 6))
    assert M.recall_specificity_at(scores, positive, thr) == (1.0, pytest.approx(5 / 6))


def test_precision_at_k_map_and_knn_vote():
    retrieved = np.array([[1, 1, 0, 1], [2, 0, 0, 0]])
    query = np.array([1, 0])
    assert M.precision_at_k(retrieved, query, 2) == pytest.approx((1.0 + 0.5) / 2)
    assert M.precision_at_k_curve(retrieved, query) == pytest.approx([0.5, 0.75, 2 / 3, 0.75])
    # Query 0: hits at 1, 2, 4 -> (1 + 1 + 3/4) / 3; query 1: hits at 2, 3, 4 -> (1/2 + 2/3 + 3/4) / 3
    expected = ((1 + 1 + 0.75) / 3 + (0.5 + 2 / 3 + 0.75) / 3) / 2
    assert M.mean_average_precision_at_k(retrieved, query, 4, np.array([3, 3])) == pytest.approx(expected)
    preds, shares = M.knn_predictions(np.array([[2, 1, 1, 2], [0, 1, 2, 3]]), 4, 4)
    assert preds.tolist() == [2, 0]  # ties go to the class ranked first
    assert shares.sum(1).tolist() == [1.0, 1.0]


def test_the_balanced_decision_names_a_rare_class_the_argmax_passes_over():
    log_prior = np.log(np.array([0.9, 0.1]))
    probs = np.array([[0.7, 0.3], [0.95, 0.05], [0.2, 0.8]])
    assert M.prior_corrected_decision(probs, log_prior, 0.0).tolist() == [0, 0, 1]  # shift 0: the argmax
    # 0.3 / 0.1 > 0.7 / 0.9: dividing by the prior names the rare class for the first item only.
    assert M.prior_corrected_decision(probs, log_prior, 1.0).tolist() == [1, 0, 1]
    labels = np.array([1, 0, 1])
    assert M.best_prior_shift(probs, labels, log_prior) > 0  # val asks for the shift that finds the rare class
    assert M.best_prior_shift(probs, np.array([0, 0, 1]), log_prior) == 0.0  # ...and for none when the argmax is right


def test_the_log_class_prior_is_add_one_smoothed_and_covers_absent_classes():
    log_prior = M.log_class_prior(np.array([0, 0, 0, 1]), 3)
    assert np.allclose(np.exp(log_prior), [4 / 7, 2 / 7, 1 / 7])  # the absent class is rare, not impossible
    assert np.isclose(np.exp(log_prior).sum(), 1.0)
