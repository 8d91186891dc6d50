"""Metrics, the one home: classification, probabilistic scores, screening operating points, retrieval.

Inputs are plain arrays: ``labels`` (N,) integer class indices (``CODES`` order), ``probs`` (N, C)
rows summing to 1, ``scores`` (N, C) unnormalised log-scores (logits), ``retrieved`` (N, k) class
indices of ranked results. Classes absent from the evaluated labels are skipped where a metric is
undefined for them (and say so with NaN). numpy (and scikit-learn for ROC), so training, the
evals and the backends measure alike. Calibration error and the reliability diagram's bins are
in ``knowledge.calibration``.
"""

from __future__ import annotations

import numpy as np

# --- classification -----------------------------------------------------------------------------------------


def accuracy(labels: np.ndarray, preds: np.ndarray) -> float:
    return float(np.mean(np.asarray(labels) == np.asarray(preds))) if len(labels) else float("nan")


def _agreement_per_class(given: np.ndarray, other: np.ndarray, n_classes: int) -> np.ndarray:
    """For each class c: the share of items with ``given == c`` that also have ``other == c`` (NaN if none)."""
    out = np.full(n_classes, np.nan)
    for c in range(n_classes):
        mask = given == c
        if mask.any():
            out[c] = float(np.mean(other[mask] == c))
    return out


def recall_per_class(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """Recall (sensitivity) of each class; NaN for classes with no examples."""
    return _agreement_per_class(labels, preds, n_classes)


def precision_per_class(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """Precision of each class; NaN for classes never predicted."""
    return _agreement_per_class(preds, labels, n_classes)


def balanced_accuracy(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> float:
    """Mean per-class recall over the classes present (the HAM10000 challenge's main metric)."""
    return float(np.nanmean(recall_per_class(labels, preds, n_classes)))


def log_class_prior(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Log of the add-one smoothed class frequencies of ``labels`` (the training prior that logit adjustment,
    calibration's prior shift and the balanced decision subtract)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes) + 1.0
    return np.log(counts / counts.sum())


def prior_corrected_decision(probs: np.ndarray, log_prior: np.ndarray, shift: float) -> np.ndarray:
    """The "balanced decision": argmax of ``log p - shift * log prior`` (per-class bias from the training class
    frequencies). ``shift`` 0 is the argmax; larger values name rare classes more readily."""
    return (np.log(np.clip(probs, 1e-12, None)) - shift * np.asarray(log_prior)[None, :]).argmax(1)


def best_prior_shift(probs: np.ndarray, labels: np.ndarray, log_prior: np.ndarray,
                     grid: np.ndarray = np.round(np.arange(0.0, 2.01, 0.1), 2)) -> float:
    """The ``prior_corrected_decision`` shift with the highest balanced accuracy on (val) ``probs`` (ties: smallest)."""
    n = probs.shape[1]
    scores = [balanced_accuracy(labels, prior_corrected_decision(probs, log_prior, s), n) for s in grid]
    return float(grid[int(np.argmax(scores))])


def macro_f1(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> float:
    f1s = []
    for c in range(n_classes):
        tp = np.sum((preds == c) & (labels == c))
        fp = np.sum((preds == c) & (labels != c))
        fn = np.sum((preds != c) & (labels == c))
        if tp + fn == 0:
            continue  # class absent from the labels
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(f1s)) if f1s else float("nan")


def auc_per_class(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """One-vs-rest ROC AUC per class; NaN where a class has no positives or no negatives."""
    from sklearn.metrics import roc_auc_score

    out = np.full(probs.shape[1], np.nan)
    for c in range(probs.shape[1]):
        y = labels == c
        if 0 < y.sum() < len(y):
            out[c] = float(roc_auc_score(y, probs[:, c]))
    return out


def auc_macro(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.nanmean(auc_per_class(probs, labels)))


# --- probabilistic scores -----------------------------------------------------------------------------------


def brier_score(probs: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class Brier score: mean squared distance to the one-hot label (0 best, 2 worst)."""
    onehot = np.eye(probs.shape[1])[labels]
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean NLL of probabilities at the true labels, each clipped at 1e-12 (a zero costs 27.6 nats, not inf)."""
    return float(-np.mean(np.log(probs[np.arange(len(labels)), labels].clip(1e-12))))


def negative_log_likelihood_of_scores(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean NLL of ``softmax(scores)`` at the true labels, by log-sum-exp (exact for any scale; no clipping)."""
    z = scores - scores.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


# --- screening operating points -----------------------------------------------------------------------------


def recall_at_specificity(scores: np.ndarray, positive: np.ndarray, min_specificity: float) -> tuple[float, float, float]:
    """Best recall whose specificity is >= ``min_specificity`` on this data: (recall, specificity, threshold)."""
    from sklearn.metrics import roc_curve

    if positive.all() or not positive.any():
        return float("nan"), float("nan"), float("nan")
    fpr, tpr, thresholds = roc_curve(positive, scores)
    ok = (1 - fpr) >= min_specificity
    i = int(np.argmax(np.where(ok, tpr, -1)))
    return float(tpr[i]), float(1 - fpr[i]), float(thresholds[i])


def threshold_for_specificity(scores: np.ndarray, positive: np.ndarray, min_specificity: float) -> float:
    """The lowest score threshold keeping specificity >= ``min_specificity`` (choose it on val, apply on test)."""
    return recall_at_specificity(scores, positive, min_specificity)[2]


def recall_specificity_at(scores: np.ndarray, positive: np.ndarray, threshold: float) -> tuple[float, float]:
    flagged = scores >= threshold
    recall = float(flagged[positive].mean()) if positive.any() else float("nan")
    specificity = float((~flagged[~positive]).mean()) if (~positive).any() else float("nan")
    return recall, specificity


# --- retrieval ---------------------------------------------------------------------------------------------


def nearest_labels(queries: np.ndarray, index: np.ndarray, index_labels: np.ndarray, k: int) -> np.ndarray:
    """(N, k) labels of the ``k`` index rows with the largest dot product with each query, nearest first
    (cosine similarity when both sides are L2-normalised): the ``retrieved`` of the metrics below."""
    return index_labels[np.argsort(-(queries @ index.T), axis=1)[:, :k]]


def precision_at_k(retrieved: np.ndarray, query_labels: np.ndarray, k: int) -> float:
    """Mean over queries of the share of the top ``k`` results with the query's class."""
    return float(np.mean(retrieved[:, :k] == query_labels[:, None]))


def precision_at_k_curve(retrieved: np.ndarray, query_labels: np.ndarray) -> list[float]:
    """P@1 .. P@K for K = the number of retrieved columns."""
    hits = retrieved == query_labels[:, None]
    return [float(hits[:, :k].mean()) for k in range(1, retrieved.shape[1] + 1)]


def mean_average_precision_at_k(retrieved: np.ndarray, query_labels: np.ndarray, k: int,
                                relevant_counts: np.ndarray | None = None) -> float:
    """mAP@k: per query, sum of P@i at each hit i <= k, divided by min(k, relevant items in the index)."""
    hits = (retrieved[:, :k] == query_labels[:, None]).astype(float)
    precision_at_i = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    denom = np.full(len(hits), float(k)) if relevant_counts is None else np.minimum(k, relevant_counts).astype(float)
    ap = (precision_at_i * hits).sum(1) / np.maximum(denom, 1)
    return float(ap.mean())


def knn_predictions(retrieved: np.ndarray, n_classes: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Majority vote of the top ``k`` (ties to the nearer result's class): (predictions, vote shares (N, C))."""
    top = retrieved[:, :k]
    shares = np.stack([(top == c).mean(1) for c in range(n_classes)], axis=1)
    # Tie-break toward the class that appears first in the ranking.
    first_rank = np.stack([np.where((top == c).any(1), (top == c).argmax(1), k) for c in range(n_classes)], axis=1)
    score = shares * (k + 1) - first_rank / (k + 1)
    return score.argmax(1), shares
