"""Calibration, the one home: temperature and prior-shift fitting, calibration error, triage cut-offs.

Guo C. et al., *On calibration of modern neural networks*, ICML 2017: dividing logits by one
scalar ``T`` fitted on held-out data (val, never test) fixes most over- or under-confidence
without changing the ranking. numpy/scipy (torch only inside ``fit_temperature_and_prior_shift``),
so every layer can use it; the metrics it reports are those of ``knowledge.metrics``.
"""

from __future__ import annotations

import math

import numpy as np

from knowledge.metrics import negative_log_likelihood_of_scores
from knowledge.settings import TriagePolicy, get_settings
from knowledge.taxonomy import CODES, MALIGNANT_CODES


def softmax(scores: np.ndarray) -> np.ndarray:
    z = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def fit_temperature(scores: np.ndarray, labels: np.ndarray, lowest: float = 1e-3, highest: float = 1e4) -> float:
    """The ``T`` in [lowest, highest] minimising the NLL of ``softmax(scores / T)`` (bounded search on log T).

    The range is wide because scores need not be network logits: summed answer log-likelihoods of a
    vision-language model can differ by tens of nats between classes.
    """
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(lambda log_t: negative_log_likelihood_of_scores(scores / math.exp(log_t), labels),
                             bounds=(math.log(lowest), math.log(highest)), method="bounded")
    return float(math.exp(result.x))


def fit_temperature_and_prior_shift(logits: np.ndarray, labels: np.ndarray,
                                    log_prior: np.ndarray | None = None) -> tuple[float, float]:
    """(T, beta) minimising val NLL of softmax(logits / T + beta * log_prior); T clamped to [0.05, 20].

    For the encoder's class head, trained with logit adjustment so that its scores are those of a
    class-balanced problem: ``beta`` puts the training prior back (beta = tau would undo the
    adjustment exactly) at the strength val data supports, so the probabilities can be read as
    frequencies on data like HAM10000 (risk tiers sum them). The price is balanced accuracy at the
    argmax (docs/encoder.md has the val trade-off table). Without ``log_prior`` only T is fitted
    (beta = 0). Joint L-BFGS on (log T, beta) in torch, float64.
    """
    import torch

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


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> list[dict[str, float]]:
    """Per equal-width top-label confidence bin with items: mean confidence, accuracy, count (the reliability
    diagram's data)."""
    conf = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0, 1, n_bins + 1)
    bins = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            bins.append({"lo": float(lo), "hi": float(hi), "confidence": float(conf[mask].mean()),
                         "accuracy": float(correct[mask].mean()), "count": int(mask.sum())})
    return bins


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: |confidence - accuracy| over the reliability bins, weighted by count."""
    ece = 0.0
    for b in reliability_bins(probs, labels, n_bins):
        ece += b["count"] / len(probs) * abs(b["accuracy"] - b["confidence"])
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


SENSITIVITY_STEP = 0.005  # the grid a naevus-referral budget climbs from the floor sensitivity


def triage_thresholds(probs: np.ndarray, labels: np.ndarray, codes: tuple[str, ...] | list[str],
                      malignant_codes: tuple[str, ...] | list[str], target: float,
                      nv_referral_budget: float | None = None, ceiling: float = 0.99) -> dict[str, float | int]:
    """Melanoma and malignant (akiec + bcc + mel) probability cut-offs at ``target`` val sensitivity, with
    what they cost on the same data: the share of benign lesions (and of naevi) they send to a clinician.

    ``target`` is a floor. With ``nv_referral_budget``, the sensitivity climbs from it (steps of 0.5 points, up to
    ``ceiling``) while the share of val naevi referred stays within the budget: a 95% cut-off is the 6th-lowest
    melanoma probability of ~110 val melanomas, a noisy order statistic, and the referral budget the project
    accepts is spent on missing fewer melanomas rather than left unused. The floor holds whatever the budget."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    mel_i = list(codes).index("mel")
    mal_idx = [list(codes).index(c) for c in malignant_codes]
    p_mel, p_mal = probs[:, mel_i], probs[:, mal_idx].sum(1)
    is_mel, is_mal = labels == mel_i, np.isin(labels, mal_idx)
    nv = labels == list(codes).index("nv")

    def cut_offs(sensitivity: float) -> tuple[float, float, np.ndarray]:
        t_mel, t_mal = sensitivity_threshold(p_mel, is_mel, sensitivity), sensitivity_threshold(p_mal, is_mal, sensitivity)
        return t_mel, t_mal, (p_mel >= t_mel) | (p_mal >= t_mal)

    chosen = target
    if nv_referral_budget is not None and nv.any():
        for k in range(1, int(round((ceiling - target) / SENSITIVITY_STEP)) + 1):
            candidate = round(target + k * SENSITIVITY_STEP, 4)
            if cut_offs(candidate)[2][nv].mean() > nv_referral_budget:
                break
            chosen = candidate
    t_mel, t_mal, referred = cut_offs(chosen)
    out: dict[str, float | int] = {
        "target_sensitivity": chosen,
        "floor_sensitivity": target,
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
    if nv_referral_budget is not None:
        out["nv_referral_budget"] = nv_referral_budget
    return out


def policy_triage_thresholds(probs: np.ndarray, labels: np.ndarray,
                             policy: TriagePolicy | None = None) -> dict[str, float | int]:
    """``triage_thresholds`` for the 7 HAM10000 classes under the settings' triage policy (what every classifier's
    calibration stores: the encoder, the ensemble head, a Qwen2-VL adapter)."""
    policy = policy or get_settings().triage
    return triage_thresholds(probs, labels, CODES, MALIGNANT_CODES, policy.target_sensitivity,
                             policy.nv_referral_budget, policy.sensitivity_ceiling)


def triage_policy_drift(stored: dict | None, policy: TriagePolicy | None = None) -> str | None:
    """Why cut-offs stored by ``policy_triage_thresholds`` no longer follow the settings' policy (None: they do)."""
    policy = policy or get_settings().triage
    if not stored:
        return "no triage cut-offs stored"
    floor = stored.get("floor_sensitivity", stored.get("target_sensitivity"))
    if floor != policy.target_sensitivity or stored.get("nv_referral_budget") != policy.nv_referral_budget:
        return (f"triage cut-offs chosen at sensitivity {floor} / naevus-referral budget {stored.get('nv_referral_budget')}; "
                f"the policy is {policy.target_sensitivity} / {policy.nv_referral_budget}")
    return None
