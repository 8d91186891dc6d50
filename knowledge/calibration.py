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


def sensitivity_threshold(scores: np.ndarray, positive: np.ndarray, target: float) -> float:
    """The largest cut-off ``t`` with ``mean(scores[positive] >= t) >= target`` (a referral at ``score >= t``).

    Chosen on val; ties are kept together, so the sensitivity at ``t`` is at least ``target``.
    """
    pos = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(positive, dtype=bool)])
    if len(pos) == 0:
        raise ValueError("no positive examples to choose a sensitivity cut-off on")
    k = int(np.floor((1.0 - target) * len(pos) + 1e-9))  # positives that may fall below the cut-off
    return float(pos[min(k, len(pos) - 1)])


def triage_thresholds(probs: np.ndarray, labels: np.ndarray, codes: tuple[str, ...] | list[str],
                      malignant_codes: tuple[str, ...] | list[str], target: float) -> dict[str, float | int]:
    """Melanoma and malignant (akiec + bcc + mel) probability cut-offs at ``target`` val sensitivity, with
    what they cost on the same data: the share of benign lesions (and of naevi) they send to a clinician."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    mel_i = list(codes).index("mel")
    mal_idx = [list(codes).index(c) for c in malignant_codes]
    p_mel, p_mal = probs[:, mel_i], probs[:, mal_idx].sum(1)
    is_mel, is_mal = labels == mel_i, np.isin(labels, mal_idx)
    t_mel = sensitivity_threshold(p_mel, is_mel, target)
    t_mal = sensitivity_threshold(p_mal, is_mal, target)
    referred = (p_mel >= t_mel) | (p_mal >= t_mal)
    nv = labels == list(codes).index("nv")
    return {
        "target_sensitivity": target,
        "mel_threshold": round(t_mel, 6),
        "malignant_threshold": round(t_mal, 6),
        "val_mel_sensitivity": float((p_mel[is_mel] >= t_mel).mean()),
        "val_malignant_sensitivity": float(referred[is_mal].mean()),
        "val_mel_missed": float(1 - referred[is_mel].mean()),
        "val_benign_referral_rate": float(referred[~is_mal].mean()),
        "val_nv_referral_rate": float(referred[nv].mean()) if nv.any() else float("nan"),
        "n_val": int(len(labels)),
        "n_val_mel": int(is_mel.sum()),
        "n_val_malignant": int(is_mal.sum()),
    }
