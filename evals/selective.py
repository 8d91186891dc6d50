"""Selective prediction: what abstaining below a confidence buys (risk-coverage, Geifman & El-Yaniv 2017),
and small statistics helpers the subgroup and robustness reports share.

``probs`` (N, C) rows summing to 1, ``labels`` (N,) class indices, as in ``knowledge.metrics``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from knowledge import metrics as M


def risk_coverage(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, accuracy) when answering only the most confident k of N images, k = 1..N.

    Ties in confidence are broken by the stable order of the input, which is fine for a curve.
    """
    order = np.argsort(-probs.max(1), kind="stable")
    correct = (probs.argmax(1) == labels)[order]
    k = np.arange(1, len(labels) + 1)
    return k / len(labels), np.cumsum(correct) / k


def area_under_risk_coverage(probs: np.ndarray, labels: np.ndarray) -> float:
    """AURC: the mean selective error over all coverages (lower is better; 0 for a perfect ranking of
    correct before wrong answers at 100 % accuracy)."""
    _, acc = risk_coverage(probs, labels)
    return float(np.mean(1 - acc)) if len(acc) else float("nan")


def selective_at_threshold(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Answer only when the top probability is >= ``threshold`` (the classifier's abstention rule)."""
    answered = probs.max(1) >= threshold
    preds = probs.argmax(1)
    n = probs.shape[1]
    return {
        "threshold": float(threshold),
        "coverage": float(answered.mean()) if len(labels) else float("nan"),
        "accuracy": M.accuracy(labels[answered], preds[answered]) if answered.any() else float("nan"),
        "balanced_accuracy": M.balanced_accuracy(labels[answered], preds[answered], n) if answered.any() else float("nan"),
    }


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int, reps: int = 200, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(indices)`` over resamples of ``range(n)``."""
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(reps)], dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    lo, hi = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)
