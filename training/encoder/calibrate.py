"""Val numbers for the encoder manifests: the headline metrics of (calibrated) class-head logits.

The calibration itself (temperature scaling, Guo et al. ICML 2017, and the prior shift) is
``knowledge.calibration.fit_temperature_and_prior_shift``; the metrics are ``knowledge.metrics``.
"""

from __future__ import annotations

import numpy as np

from knowledge.calibration import softmax
from knowledge.metrics import accuracy, auc_macro, balanced_accuracy, nearest_labels, negative_log_likelihood, precision_at_k


def val_metrics(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, class_bias: np.ndarray | None = None,
                embeddings: np.ndarray | None = None, index_embeddings: np.ndarray | None = None,
                index_labels: np.ndarray | None = None) -> dict[str, float]:
    """Headline val numbers for the manifest (the full reports come from `dermagraph eval`): accuracy, balanced
    accuracy and NLL of ``softmax(logits / temperature + class_bias)``, macro AUC where val holds every class, and
    P@10 of ``embeddings`` against the index where one is given."""
    probs = softmax(logits / temperature + (0 if class_bias is None else class_bias))
    pred, n_classes = probs.argmax(1), probs.shape[1]
    out = {
        "accuracy": accuracy(labels, pred),
        "balanced_accuracy": balanced_accuracy(labels, pred, n_classes),
        "nll": negative_log_likelihood(probs, labels),
    }
    if len(np.unique(labels)) == n_classes:
        out["auc_macro"] = auc_macro(probs, labels)
    if embeddings is not None and index_embeddings is not None and index_labels is not None:
        out["p_at_10"] = precision_at_k(nearest_labels(embeddings, index_embeddings, index_labels, 10), labels, 10)
    return out
