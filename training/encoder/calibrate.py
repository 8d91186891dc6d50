"""Temperature scaling on val (Guo et al., "On calibration of modern neural networks", ICML 2017) and val metrics."""

from __future__ import annotations

import numpy as np
import torch

from knowledge.taxonomy import CODES


def fit_calibration(logits: np.ndarray, labels: np.ndarray, log_prior: np.ndarray | None = None) -> tuple[float, float]:
    """(T, beta) minimising val NLL of softmax(logits / T + beta * log_prior).

    T is temperature scaling (Guo et al., ICML 2017). The class head is trained with logit
    adjustment, so its scores are those of a class-balanced problem; ``beta`` puts the training
    prior back (beta = tau would undo the adjustment exactly) at the strength val data supports,
    so the probabilities can be read as frequencies on data like HAM10000 (risk tiers sum them).
    The price is balanced accuracy at the argmax (docs/encoder.md has the val trade-off table).
    Without ``log_prior`` only T is fitted.
    """
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    prior = torch.as_tensor(np.zeros(z.shape[1]) if log_prior is None else log_prior, dtype=torch.float64)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    beta = torch.zeros((), dtype=torch.float64, requires_grad=log_prior is not None)
    opt = torch.optim.LBFGS([log_t, beta] if log_prior is not None else [log_t], lr=0.1, max_iter=300,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp() + beta * prior, y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0)), float(beta.detach())


def _fit_temperature_given(logits: np.ndarray, labels: np.ndarray, bias: np.ndarray) -> float:
    """The T > 0 minimising val negative log-likelihood of softmax(logits / T + bias)."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    b = torch.as_tensor(bias, dtype=torch.float64)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp() + b, y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising val negative log-likelihood of softmax(logits / T)."""
    return fit_calibration(logits, labels)[0]


def val_metrics(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, class_bias: np.ndarray | None = None,
                embeddings: np.ndarray | None = None, index_embeddings: np.ndarray | None = None,
                index_labels: np.ndarray | None = None) -> dict[str, float]:
    """Headline val numbers for the manifest (the full reports come from `dermagraph eval`)."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    z = logits / temperature + (0 if class_bias is None else class_bias)
    z = z - z.max(1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    pred = probs.argmax(1)
    out = {
        "accuracy": float((pred == labels).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(labels, pred)),
        "nll": float(-np.log(probs[np.arange(len(labels)), labels].clip(1e-12)).mean()),
    }
    present = np.unique(labels)
    if len(present) == len(CODES):
        out["auc_macro"] = float(roc_auc_score(labels, probs, multi_class="ovr", average="macro"))
    if embeddings is not None and index_embeddings is not None and index_labels is not None:
        sims = embeddings @ index_embeddings.T
        top = np.argsort(-sims, axis=1)[:, :10]
        out["p_at_10"] = float((index_labels[top] == labels[:, None]).mean())
    return out
