"""Temperature scaling and calibration error, for any classifier that produces per-class scores.

Guo C. et al., *On calibration of modern neural networks*, ICML 2017: dividing logits by one
scalar ``T`` fitted on held-out data (val, never test) fixes most over- or under-confidence
without changing the ranking. numpy/scipy only, so every layer can use it.
"""

from __future__ import annotations

import math

import numpy as np


def softmax(scores: np.ndarray) -> np.ndarray:
    z = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def negative_log_likelihood(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean NLL of ``softmax(scores)`` at the true labels."""
    z = scores - scores.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def fit_temperature(scores: np.ndarray, labels: np.ndarray, lowest: float = 1e-3, highest: float = 1e4) -> float:
    """The ``T`` in [lowest, highest] minimising the NLL of ``softmax(scores / T)`` (bounded search on log T).

    The range is wide because scores need not be network logits: summed answer log-likelihoods of a
    vision-language model can differ by tens of nats between classes.
    """
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(lambda log_t: negative_log_likelihood(scores / math.exp(log_t), labels),
                             bounds=(math.log(lowest), math.log(highest)), method="bounded")
    return float(math.exp(result.x))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: |confidence - accuracy| over equal-width confidence bins, weighted by count."""
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)
